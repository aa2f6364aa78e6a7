"""Side-by-side Modelfile diff in one DataTable, so both sides scroll as one.

A gutter column marks each row (≠ changed, − removed, + added) so the diff reads without
colour; colour comes from the ``diff-view--*`` component classes in the tcss.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from ...core.diff import DiffRow, side_by_side, summarize

MARKS = {"same": " ", "changed": "≠", "removed": "−", "added": "+"}


class DiffView(DataTable[Text]):
    COMPONENT_CLASSES = {f"diff-view--{kind}" for kind in MARKS} | {"diff-view--number"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False, show_cursor=False)
        self.summary = ""
        self.first_change = 0

    def show_text(self, text: str, title: str) -> None:
        """One side only: a model with nothing to compare against."""
        self.clear(columns=True)
        self.add_column("#", key="left_no")
        self.add_column(title, key="left")
        for row in side_by_side(text, text):
            self.add_row(*self._cells(row)[:2])

    def show_texts(self, left: str, right: str, titles: tuple[str, str], room: int) -> None:
        """Both sides share ``room`` cells so both stay in view (long lines are cut)."""
        rows = side_by_side(left, right)
        self.summary = str(summarize(rows))
        width = max(12, (room - 2 * 6 - 4) // 2)
        left_title, right_title = titles
        self.clear(columns=True)
        self.add_column("#", key="left_no")
        self.add_column(left_title, key="left", width=width)
        self.add_column("", key="mark")
        self.add_column("#", key="right_no")
        self.add_column(right_title, key="right", width=width)
        for row in rows:
            self.add_row(*self._cells(row))
        self.first_change = next((i for i, row in enumerate(rows) if row.kind != "same"), 0)
        self.call_after_refresh(self.on_show)

    def on_show(self) -> None:
        """Open where the first difference is, not at line 1 of a long template."""
        self.scroll_to(y=max(self.first_change - 3, 0), animate=False)

    def _cells(self, row: DiffRow) -> tuple[Text, ...]:
        style = self.get_component_rich_style(f"diff-view--{row.kind}", partial=True)
        number = self.get_component_rich_style("diff-view--number", partial=True)
        left_style = style if row.kind in ("changed", "removed") else ""
        right_style = style if row.kind in ("changed", "added") else ""
        return (
            Text(str(row.left_no or ""), style=number, justify="right"),
            Text(row.left, style=left_style),
            Text(MARKS[row.kind], style=style),
            Text(str(row.right_no or ""), style=number, justify="right"),
            Text(row.right, style=right_style),
        )
