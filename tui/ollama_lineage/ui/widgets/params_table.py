"""Parameters of base, derivative and after-rebuild in three columns.

``•`` marks the derivative's own settings (overrides) and ``→`` a value a rebuild would
change, so the marks survive NO_COLOR; the tcss colours them too. Cells wrap rather than cut
(a long stop list is read whole), and headers wrap at a space, never mid-word.
"""

from __future__ import annotations

from rich import box
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from ...core.diff import ParamRow
from . import steady


class ParamsTable(Static, can_focus=False):
    COMPONENT_CLASSES = {
        "params-table--override",
        "params-table--changes",
        "params-table--header",
        "params-table--stripe",
        "params-table--row",
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[ParamRow] = []
        self.with_plan = False

    def show_rows(self, rows: list[ParamRow], *, with_plan: bool) -> None:
        self.rows, self.with_plan = rows, with_plan
        steady.update(self, self._table())

    def _table(self) -> Table:
        def style(name: str) -> Style:  # whole styles: a translucent stripe is blended
            return self.get_component_rich_style(f"params-table--{name}", partial=False)

        override, changes = style("override"), style("changes")
        titles = (
            ("parameter", "base", "derivative", "after rebuild")
            if self.with_plan
            else ("parameter", "value")
        )
        table = Table(
            box=box.SIMPLE_HEAD,
            show_edge=False,
            expand=True,
            pad_edge=False,
            header_style=style("header"),
            row_styles=[style("row"), style("stripe")],
        )
        for index, title in enumerate(titles):
            # The name column is as wide as its longest name; values share the rest.
            table.add_column(title, overflow="fold", ratio=None if index == 0 else 1)
        if not self.rows:
            table.add_row(*(["(none)"] + [""] * (len(titles) - 1)))
        for row in self.rows:
            if not self.with_plan:
                table.add_row(Text(row.name), Text(row.derived))
                continue
            table.add_row(
                Text(row.name),
                Text(row.base),
                Text(
                    ("• " if row.overridden else "  ") + row.derived,
                    style=override if row.overridden else "",
                ),
                Text(
                    ("→ " if row.changes_on_rebuild else "  ") + row.after,
                    style=changes if row.changes_on_rebuild else "",
                ),
            )
        return table
