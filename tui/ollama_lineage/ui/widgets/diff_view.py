"""The Modelfile diff, made for reading: hunks of changes, folds, wrapped lines, n/N jumps.

Side by side when each side gets enough columns, one column (old line above new) when not;
long lines wrap instead of being cut, so a changed value is always whole. The layout is
redone on every resize from the texts it holds, with no new data needed.

A gutter marks each row (≠ changed, − removed, + added) so the diff reads without colour;
the changed words of a changed line carry their own style (bold and underlined too, for
NO_COLOR). Colours come from the ``diff-view--*`` component classes in the tcss.
"""

from __future__ import annotations

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ...core.diff import DiffRow, Fold, Hunked, changed_spans, hunks, side_by_side, summarize

MARKS = {"same": " ", "changed": "≠", "removed": "−", "added": "+"}
SIDE_BY_SIDE_MIN = 28  # columns a side needs before the diff goes side by side
CONTEXT = 2  # unchanged lines kept around each change


class DiffView(ScrollView, can_focus=False):
    COMPONENT_CLASSES = {
        "diff-view--same",
        "diff-view--removed",
        "diff-view--added",
        "diff-view--removed-word",
        "diff-view--added-word",
        "diff-view--number",
        "diff-view--fold",
        "diff-view--title",
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.summary = ""
        self._rows: list[DiffRow] = []
        self._titles: tuple[str, ...] = ()
        self._lines: list[Strip] = []
        self._header: list[Strip] = []
        self.change_lines: list[int] = []  # where each change starts, in content lines
        self.current = -1  # the change n/N last went to
        self.side_by_side = True

    # --- content ---------------------------------------------------------------------------

    def show_text(self, text: str, title: str) -> None:
        """One side only: a model with nothing to compare against, shown whole."""
        self._titles = (title,)
        self._rows = side_by_side(text, text)
        self.summary = ""
        self._reset()

    def show_texts(self, left: str, right: str, titles: tuple[str, str]) -> None:
        self._titles = titles
        self._rows = side_by_side(left, right)
        self.summary = str(summarize(self._rows))
        self._reset()

    @property
    def change_count(self) -> int:
        """Runs of changed rows: what n / N step through (known before any layout)."""
        if len(self._titles) != 2:
            return 0
        kinds = [row.kind != "same" for row in self._rows]
        return sum(1 for i, changed in enumerate(kinds) if changed and (i == 0 or not kinds[i - 1]))

    def _reset(self) -> None:
        self.current = -1
        self._layout()
        self.scroll_to(y=0, animate=False)

    def next_change(self, step: int = 1) -> int:
        """Scroll to the next (step 1) or previous (-1) change, wrapping; -1 if there is none."""
        if not self.change_lines:
            return -1
        self.current = (self.current + step) % len(self.change_lines)
        self._scroll_to_current()
        return self.current

    def _scroll_to_current(self) -> None:
        if 0 <= self.current < len(self.change_lines):
            target = self.change_lines[self.current] - 1  # one line of context above it
            self.scroll_to(y=max(target, 0), animate=False)

    @property
    def position(self) -> str:
        """Where n / N are: "in 3 places" until n is pressed, then "at 2 of 3"."""
        count = self.change_count
        if not count:
            return ""
        if self.current < 0:
            return f"in {count} place{'s' if count != 1 else ''} (n / N jump)"
        return f"at {self.current + 1} of {count} (n / N)"

    # --- layout ----------------------------------------------------------------------------

    def on_resize(self) -> None:
        self._layout()
        self._scroll_to_current()

    def _layout(self) -> None:
        """Wrap every row to the current width, and note where each change starts."""
        width = self.scrollable_content_region.width
        self._lines, self.change_lines = [], []
        if width <= 0:
            self.virtual_size = Size(0, 0)
            return
        console = self.app.console
        numbers = max(2, len(str(len(self._rows))))
        if len(self._titles) == 1:
            items: list[Hunked] = list(self._rows)
        else:
            items = hunks(self._rows, CONTEXT)
        cell = (width - 2 * numbers - 5) // 2
        self.side_by_side = len(self._titles) == 2 and cell >= SIDE_BY_SIDE_MIN
        previous = "same"
        for item in items:
            if isinstance(item, Fold):
                text = Text(f"{' ' * numbers}   {item}", style=self._style("fold"))
                self._lines.append(self._strip(console, text, width))
                previous = "same"
                continue
            if item.kind != "same" and previous == "same":
                self.change_lines.append(len(self._lines))
            previous = item.kind
            if self.side_by_side:
                self._side_by_side(console, item, numbers, cell, width)
            else:
                self._stacked(console, item, numbers, width)
        self._header = self._header_strips(console, numbers, cell, width)
        self.virtual_size = Size(width, len(self._lines) + len(self._header))
        self.refresh()

    def _side_by_side(
        self, console: Console, row: DiffRow, numbers: int, cell: int, width: int
    ) -> None:
        left, right = self._sides(row)
        left_lines = list(left.wrap(console, cell, overflow="fold")) if row.left_no else []
        right_lines = list(right.wrap(console, cell, overflow="fold")) if row.right_no else []
        left_style = self._style("removed") if row.kind in ("changed", "removed") else Style()
        right_style = self._style("added") if row.kind in ("changed", "added") else Style()
        number = self._style("number")
        for index in range(max(len(left_lines), len(right_lines), 1)):
            first = index == 0
            line = Text.assemble(
                self._number(row.left_no if first else None, numbers, number),
                " ",
                self._cell(left_lines, index, cell, left_style),
                (f" {MARKS[row.kind] if first else ' '} ", self._mark_style(row.kind)),
                self._number(row.right_no if first else None, numbers, number),
                " ",
                self._cell(right_lines, index, cell, right_style),
            )
            self._lines.append(self._strip(console, line, width))

    def _stacked(self, console: Console, row: DiffRow, numbers: int, width: int) -> None:
        """One column: a changed line is its old version (−) above its new one (+)."""
        left, right = self._sides(row)
        room = max(width - numbers - 3, 1)
        number = self._style("number")
        parts: list[tuple[str, int | None, Text, Style]] = []
        if row.kind == "same":
            parts.append((" ", row.left_no, left, Style()))
        else:
            if row.left_no:
                parts.append(("−", row.left_no, left, self._style("removed")))
            if row.right_no:
                parts.append(("+", row.right_no, right, self._style("added")))
        for mark, line_no, text, style in parts:
            for index, piece in enumerate(text.wrap(console, room, overflow="fold") or [Text()]):
                line = Text.assemble(
                    (f"{mark if index == 0 else ' '} ", style),
                    self._number(line_no if index == 0 else None, numbers, number),
                    " ",
                    self._cell([piece], 0, room, style),
                )
                self._lines.append(self._strip(console, line, width))

    def _sides(self, row: DiffRow) -> tuple[Text, Text]:
        left, right = Text(_printable(row.left)), Text(_printable(row.right))
        if row.kind == "changed":
            old, new = changed_spans(left.plain, right.plain)
            for start, end in old:
                left.stylize(self._style("removed-word"), start, end)
            for start, end in new:
                right.stylize(self._style("added-word"), start, end)
        elif row.kind == "removed":
            left.stylize(self._style("removed-word"))
        elif row.kind == "added":
            right.stylize(self._style("added-word"))
        return left, right

    def _cell(self, lines: list[Text], index: int, width: int, style: Style) -> Text:
        """One wrapped piece of a side, padded so its background fills the column."""
        piece = lines[index].copy() if index < len(lines) else Text()
        piece.rstrip()
        piece.truncate(width)
        piece.pad_right(width - piece.cell_len)
        piece.style = style
        return piece

    def _number(self, value: int | None, width: int, style: Style) -> Text:
        return Text(f"{value or '':>{width}}", style=style)

    def _mark_style(self, kind: str) -> Style:
        return {"removed": self._style("removed"), "added": self._style("added")}.get(
            kind, self._style("removed-word") if kind == "changed" else Style()
        )

    def _header_strips(self, console: Console, numbers: int, cell: int, width: int) -> list[Strip]:
        """The titles, kept in view while the lines scroll under them."""
        style = self._style("title")
        pad = " " * numbers
        if self.side_by_side:
            left, right = self._titles
            texts = [f"{pad} {left:<{cell}.{cell}}   {pad} {right}"]
        elif len(self._titles) == 2:  # one column: a title a line, so neither is cut
            left, right = self._titles
            texts = [f"− {pad} {left}", f"+ {pad} {right}"]
        else:
            texts = [f"{pad} {self._titles[0] if self._titles else ''}"]
        return [self._strip(console, Text(text, style=style), width, style) for text in texts]

    def _strip(self, console: Console, text: Text, width: int, fill: Style | None = None) -> Strip:
        """Every segment gets a Style (never None): Textual's NO_COLOR filter reads each one's
        colour, and a bare segment from Rich would take the app down there."""
        text.no_wrap = True
        null = Style()
        segments = [Segment(t, s or null, c) for t, s, c in text.render(console) if t != "\n"]
        return Strip(segments).adjust_cell_length(width, fill or null)

    def _style(self, name: str) -> Style:
        """Whole styles, so a translucent background is blended as the tcss means it."""
        return self.get_component_rich_style(f"diff-view--{name}", partial=False)

    # --- painting --------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y < len(self._header):
            return self._header[y].crop(0, width)
        index = self.scroll_offset.y + y - len(self._header)
        if 0 <= index < len(self._lines):
            strip = self._lines[index]
        else:
            strip = Strip.blank(width, self.rich_style)
        return strip.crop(0, width).apply_style(self.rich_style)

    @property
    def text(self) -> str:
        """What the view shows, as plain text (header first): for tests and copying."""
        return "\n".join(strip.text.rstrip() for strip in [*self._header, *self._lines])


def _printable(line: str) -> str:
    """Tabs as spaces and other control characters visible, so columns stay columns."""
    line = line.expandtabs(4)
    return "".join(ch if ch >= " " or ch == "\t" else f"^{chr(ord(ch) + 64)}" for ch in line)
