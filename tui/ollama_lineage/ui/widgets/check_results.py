"""The checks dialog's body: each check, then its result on each model, as they come in.

One block per check; one row per model (``old`` the backup, ``new`` the model), with the
verdict in words and a mark, the generation time apart from the load time, and tokens/s.
Why a check failed goes under its row, wrapped within the row's column.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.widget import Widget

from ...services.checks import Check, CheckResult


def timing(result: CheckResult) -> str:
    """``gen 0.82 s · load 0.01 s · 35.0 tok/s``: load time is not the model's speed."""
    generation = max(result.seconds - result.load_seconds, 0.0)
    text = f"gen {generation:.2f} s · load {result.load_seconds:.2f} s"
    if result.tokens_per_second:
        text += f" · {result.tokens_per_second:.1f} tok/s"
    if result.cut:
        text += " · cut at the token cap"
    return text


class CheckResults(Widget, can_focus=False):
    COMPONENT_CLASSES = {
        "check-results--label",
        "check-results--passed",
        "check-results--failed",
        "check-results--muted",
    }

    def __init__(self, checks: list[Check], sides: tuple[str, ...], *, id: str | None = None):
        super().__init__(id=id)
        self.checks = checks
        self.sides = sides  # the row names, in the order the models are run
        self.results: dict[tuple[int, int], CheckResult] = {}
        self.running: tuple[int, int] | None = (0, 0) if checks else None

    def add(self, side: int, result: CheckResult) -> None:
        """A result came in; the next check (or the next model's first) is the one running."""
        index = next(i for i, c in enumerate(self.checks) if (side, i) not in self.results)
        self.results[(side, index)] = result
        if index + 1 < len(self.checks):
            self.running = (side, index + 1)
        elif side + 1 < len(self.sides):
            self.running = (side + 1, 0)
        else:
            self.running = None
        self.refresh(layout=True)

    def stop(self) -> None:
        self.running = None
        self.refresh(layout=True)

    def passed(self, side: int) -> int:
        return sum(1 for (s, _), r in self.results.items() if s == side and r.passed)

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"check-results--{name}", partial=True)

    def render(self) -> RenderableType:
        blocks: list[RenderableType] = []
        for index, check in enumerate(self.checks):
            blocks.append(Text(check.label, self._style("label")))
            table = Table.grid(padding=(0, 1), pad_edge=False)
            table.add_column(width=2)
            table.add_column(width=max(len(s) for s in self.sides), no_wrap=True)
            table.add_column(ratio=1)
            for side, name in enumerate(self.sides):
                table.add_row("", name, self._verdict(side, index))
            blocks.append(table)
        return Group(*blocks)

    def _verdict(self, side: int, index: int) -> Text:
        result = self.results.get((side, index))
        if result is None:
            running = self.running == (side, index)
            return Text("… running" if running else "  waiting", self._style("muted"))
        if result.skipped:
            return Text.assemble(("– skipped: ", self._style("muted")), result.skipped)
        if result.passed:
            return Text.assemble(("✓ passed", self._style("passed")), f"  {timing(result)}")
        return Text.assemble(
            ("✗ failed", self._style("failed")), f"  {timing(result)}\n{result.why}"
        )
