"""``R``'s list of models, each with a tick box that reads without colour: ``[x]`` or ``[ ]``.

Textual's SelectionList draws its box in colour only, so on a NO_COLOR terminal ticked and
unticked rows look alike; and a long row wrapped there got boxes on its wrapped lines. Here
the box is text in its own column: a row that wraps goes on under its name, with no box.
"""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
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

    def _prompt(self, value: str) -> Ticked:
        return Ticked("[x]" if value in self._ticked else "[ ]", self._texts[value])

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


class Ticked:
    """A box, then the row's text wrapped in the column after it. A rich Table did the same
    at ~4 ms a row: `R` over 79 models took 0.3 s to lay out its list."""

    def __init__(self, box: str, text: Text) -> None:
        self.box = Text(box)  # text, not markup: "[x]" is a tag
        self.text = text

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        indent = len(self.box) + 1
        lines = self.text.wrap(console, max(options.max_width - indent, 1))
        for number, line in enumerate(lines):
            head = self.box if number == 0 else Text(" " * len(self.box))
            yield Text.assemble(head, " ", line, end="\n")

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        width = len(self.box) + 1 + self.text.cell_len
        return Measurement(len(self.box) + 2, min(width, options.max_width))
