"""Parameters of base, derivative and after-rebuild in three columns.

``•`` marks the derivative's own settings (overrides) and ``→`` a value a rebuild would
change, so the marks survive NO_COLOR; the tcss colours them too.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from ...core.diff import ParamRow


class ParamsTable(DataTable[Text]):
    COMPONENT_CLASSES = {"params-table--override", "params-table--changes"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)

    def show_rows(self, rows: list[ParamRow], *, with_plan: bool, room: int) -> None:
        override = self.get_component_rich_style("params-table--override", partial=True)
        changes = self.get_component_rich_style("params-table--changes", partial=True)
        self.clear(columns=True)
        titles = (
            ("parameter", "base", "derivative", "after rebuild")
            if with_plan
            else ("parameter", "value")
        )
        width = max(8, (room - 16 - 2 * len(titles)) // (len(titles) - 1))
        for index, title in enumerate(titles):
            self.add_column(title, key=title, width=None if index == 0 else width)
        for row in rows:
            if not with_plan:
                self.add_row(Text(row.name), Text(row.derived))
                continue
            self.add_row(
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
