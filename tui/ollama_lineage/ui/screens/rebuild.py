"""``r`` / ``R``: the plan, a confirmation, then the streamed create progress in place.

The screen only shows things and reports the user's choice (``Confirmed``); the app runs the
rebuilds and feeds progress back through ``start``/``progress``/``done``/``failed``.
Escape before confirming closes; while running it cancels what has not started.
"""

from __future__ import annotations

import json

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Log, ProgressBar, Static

from ...core.diff import summarize
from ...ollama.client import Progress
from ...services.rebuild import Plan


class RebuildScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("enter,y", "confirm", "Rebuild", priority=True),
        Binding("escape", "cancel", "Cancel / close"),
    ]

    class Confirmed(Message):
        def __init__(self, screen: RebuildScreen) -> None:
            super().__init__()
            self.screen = screen

    def __init__(self, names: list[str], plan: Plan | None = None) -> None:
        super().__init__()
        self.names = names
        self.plan = plan
        self.running = False
        self.finished = False
        self.cancelled = False
        self.failures = 0

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="rebuild-dialog"):
            yield Static(self._title(), id="rebuild-title")
            with VerticalScroll(id="rebuild-plan"):
                yield Static(self._plan_text(), id="rebuild-plan-text")
            yield Static("", id="rebuild-overall")
            yield ProgressBar(id="rebuild-bar", show_eta=False)
            yield Log(id="rebuild-log", max_lines=500)
            with Horizontal(classes="buttons"):
                yield Button("Rebuild (enter)", variant="primary", id="confirm")
                yield Button("Cancel (esc)", id="cancel")

    def _title(self) -> str:
        if self.plan:
            return f"Rebuild [b]{escape(self.plan.child)}[/b] from {escape(self.plan.base)}"
        return f"Rebuild {len(self.names)} stale model(s), parents first"

    def _plan_text(self) -> str:
        if self.plan is None:
            return "\n".join(f"{i}. {escape(name)}" for i, name in enumerate(self.names, 1))
        plan = self.plan
        lines = [
            f"base digest  {plan.base_digest[:12]}",
            f"backup       {escape(plan.backup)}",
            f"changes      {summarize(plan.diff)} (d shows the diff)",
        ]
        if plan.guessed:
            lines.append(
                "[b]⚠ guessed recipe[/b]: the base had changed before this app first saw the "
                "model, so an upstream change may look like an override. Check the diff."
            )
        if plan.stale_base:
            lines.append(
                f"[b]⚠ {escape(plan.stale_base)} is itself out of date[/b]: this builds on its "
                "old version. R rebuilds parents first."
            )
        lines += ["", "POST /api/create", escape(json.dumps(plan.request, indent=2))]
        return "\n".join(lines)

    def action_confirm(self) -> None:
        if self.running or self.finished:
            if self.finished:
                self.dismiss()
            return
        self.show_running()
        self.post_message(self.Confirmed(self))

    def show_running(self) -> None:
        """Swap the plan for the progress view (the log and the bar)."""
        self.running = True
        self.add_class("-running")
        self.query_one("#confirm", Button).disabled = True
        self.query_one("#cancel", Button).label = "Stop after current (esc)"

    def action_cancel(self) -> None:
        if self.running and not self.finished:
            self.cancelled = True
            self.query_one("#rebuild-overall", Static).update(
                "cancelling: the current build finishes, the rest will not start"
            )
            return
        self.dismiss()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "confirm":
            self.action_confirm()
        else:
            self.action_cancel()

    def start(self, index: int, name: str) -> None:
        self.query_one("#rebuild-overall", Static).update(
            f"[{index + 1}/{len(self.names)}] rebuilding {escape(name)}"
        )
        self.query_one(ProgressBar).update(total=None, progress=0)
        self.query_one(Log).write_line(f"── {name}")

    def progress(self, progress: Progress) -> None:
        log = self.query_one(Log)
        bar = self.query_one(ProgressBar)
        if progress.total:
            bar.update(total=progress.total, progress=progress.completed or 0)
        if not log.lines or log.lines[-1] != progress.status:
            log.write_line(progress.status)

    def done(self, name: str, digest: str) -> None:
        self.query_one(Log).write_line(f"✓ {name} is now {digest[:12]}")

    def failed(self, name: str, error: str) -> None:
        self.failures += 1
        self.add_class("-failed")
        self.query_one(Log).write_line(f"✗ {error}")

    def finish(self, skipped: list[str]) -> None:
        self.running, self.finished = False, True
        if skipped:
            self.query_one(Log).write_line("not started: " + ", ".join(skipped))
        verdict = f"{self.failures} failed" if self.failures else "done"
        self.query_one("#rebuild-overall", Static).update(f"{verdict}; enter or esc closes")
        bar = self.query_one(ProgressBar)
        if not self.failures:
            bar.update(total=1, progress=1)
        self.query_one("#confirm", Button).display = False  # nothing left to confirm
        self.query_one("#cancel", Button).label = "Close (esc)"
