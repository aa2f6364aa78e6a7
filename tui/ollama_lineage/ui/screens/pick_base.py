"""``t``: choose which base an untracked model was built from."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static


class PickBaseScreen(ModalScreen[str | None]):
    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("j", "cursor('down')", "Down", show=False),
        Binding("k", "cursor('up')", "Up", show=False),
    ]

    def __init__(self, child: str, bases: list[str]) -> None:
        super().__init__()
        self.child = child
        self.bases = bases

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"Which base was [b]{self.child}[/b] built from?", classes="question")
            yield OptionList(*self.bases, id="bases")

    def action_cursor(self, direction: str) -> None:
        options = self.query_one(OptionList)
        options.action_cursor_down() if direction == "down" else options.action_cursor_up()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.bases[event.option_index])
