"""``c``: one prompt to the backup and the rebuilt model, answers streaming side by side.

Then keep the new model (the backup is deleted) or roll back to the backup. The generations
are this screen's worker, so leaving stops them (and records nothing: nothing failed); tokens
are painted once per burst. The keep or rollback outlives the screen, so the app runs it.
"""

from __future__ import annotations

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.suggester import SuggestFromList
from textual.widgets import Footer, Input, Static

from ...ollama.client import GenerateChunk
from ...services.compare import SideResult, compare_models
from ...services.problems import describe
from ...services.session import Session
from ..messages import FlowFailed, Redraw


class CompareScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("f2", "choose('keep')", "Keep new (delete backup)"),
        Binding("f3", "choose('rollback')", "Roll back"),
    ]

    class Chosen(Message):
        def __init__(self, screen: CompareScreen, choice: str) -> None:
            super().__init__()
            self.screen = screen
            self.choice = choice

    def __init__(self, session: Session, model: str, backup: str, prompts: list[str]) -> None:
        super().__init__()
        self.session = session
        self.model = model
        self.backup = backup
        self.prompts = prompts
        self.texts = ["", ""]

    def compose(self) -> ComposeResult:
        yield Static(
            f"Compare [b]{escape(self.backup)}[/b] (old) with [b]{escape(self.model)}[/b] (new)"
            " — same prompt, seed 42, temperature 0",
            id="compare-title",
        )
        yield Input(
            value=self.prompts[0] if self.prompts else "",
            placeholder="prompt (↑ history via →), enter runs both",
            suggester=SuggestFromList(self.prompts, case_sensitive=False),
            id="compare-prompt",
        )
        with Horizontal(id="compare-sides"):
            for index, name in enumerate((self.backup, self.model)):
                with Vertical(classes="compare-side"):
                    yield Static(escape(name), classes="compare-name")
                    with VerticalScroll():
                        yield Static("", id=f"compare-text-{index}")
                    yield Static("", id=f"compare-stats-{index}", classes="compare-stats")
        yield Footer()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            return
        self.texts = ["", ""]
        for index in (0, 1):
            self.query_one(f"#compare-text-{index}", Static).update("")
            self.query_one(f"#compare-stats-{index}", Static).update("generating…")
        self.run_compare(event.value)

    @work(exclusive=True, group="compare")
    async def run_compare(self, prompt: str) -> None:
        try:
            results = await compare_models(
                self.session,
                self.backup,
                self.model,
                prompt,
                {"seed": 42, "temperature": 0},
                self.chunk,
            )
        except Exception as exc:
            for index in (0, 1):
                self.query_one(f"#compare-stats-{index}", Static).update(escape(describe(exc)))
            self.app.post_message(FlowFailed("compare", self.model, exc, quiet=False))
            return
        self.finish(results)

    def chunk(self, index: int, chunk: GenerateChunk) -> None:
        self.texts[index] += chunk.response
        self.post_message(Redraw(f"text-{index}"))

    @on(Redraw)
    def _paint(self, event: Redraw) -> None:
        index = int(event.part.removeprefix("text-"))
        self.query_one(f"#compare-text-{index}", Static).update(escape(self.texts[index]))

    def finish(self, results: list[SideResult]) -> None:
        for index, side in enumerate(results):
            self.query_one(f"#compare-stats-{index}", Static).update(
                side.stats.replace(", ", " · ")
            )

    def action_choose(self, choice: str) -> None:
        self.post_message(self.Chosen(self, choice))
