"""``R``'s list of models, each with a tick box that reads without colour: ``[x]`` or ``[ ]``.

Textual's SelectionList draws its box in colour only, so on a NO_COLOR terminal ticked and
unticked rows look alike; and a long row wrapped there got boxes on its wrapped lines. Here
the box is text in its own column: a row that wraps goes on under its name, with no box.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option


class TickList(OptionList):
    BINDINGS = [Binding("space", "tick", "Tick / untick")]

    class Changed(Message):
        """The ticked rows changed."""

    def __init__(self, rows: list[tuple[Text, str, bool]], *, id: str | None = None) -> None:
        """``rows``: (text, value, usable); usable rows start ticked, the others cannot be."""
        self._texts = {value: text for text, value, _ in rows}
        self._order = [value for _, value, _ in rows]
        self._ticked = {value for _, value, usable in rows if usable}
        options = [
            Option(self._prompt(value), id=value, disabled=not usable) for _, value, usable in rows
        ]
        super().__init__(*options, id=id)

    @property
    def selected(self) -> list[str]:
        """The ticked values, in the list's order."""
        return [value for value in self._order if value in self._ticked]

    def _prompt(self, value: str) -> Table:
        box = Text("[x]" if value in self._ticked else "[ ]")  # text, not markup: "[x]" is a tag
        grid = Table.grid(padding=(0, 1))
        grid.add_column(width=3, no_wrap=True)
        grid.add_column(ratio=1)
        grid.add_row(box, self._texts[value])
        return grid

    def action_tick(self) -> None:
        index = self.highlighted
        if index is None:
            return
        option = self.get_option_at_index(index)
        if option.disabled or option.id is None:
            return
        self._ticked ^= {option.id}
        self.replace_option_prompt_at_index(index, self._prompt(option.id))
        self.post_message(self.Changed())
