"""The Overview's checks: each check of the model with its last result, one line each.

A mark and a word say how each went (``✓ passed``, ``✗ failed``, ``· never run``), so the
list reads without colour; the colours are the tcss's ``check-list--*`` classes.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from ...services.autopilot import CheckStatus
from . import format as fmt
from . import steady


class CheckList(Widget, can_focus=False):
    COMPONENT_CLASSES = {
        "check-list--title",
        "check-list--passed",
        "check-list--failed",
        "check-list--muted",
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.statuses: list[CheckStatus] = []
        self.path: Path | None = None
        self.problem: str | None = None
        self.digest: str | None = None
        self.now = datetime.now(timezone.utc)

    def show_checks(
        self,
        statuses: list[CheckStatus],
        *,
        path: Path | None,
        problem: str | None,
        digest: str | None,
        now: datetime,
    ) -> None:
        """``digest``: the model's own, so a result from another version says so."""
        self.statuses, self.path, self.problem = statuses, path, problem
        self.digest, self.now = digest, now
        self.display = bool(statuses or problem)
        steady.repaint(self)

    def clear(self) -> None:
        self.show_checks([], path=None, problem=None, digest=None, now=self.now)

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"check-list--{name}", partial=True)

    def render(self) -> Text:
        text = Text()
        text.append("checks", self._style("title"))
        if self.problem:
            text.append("  ✗ the checks file cannot be used: ", self._style("failed"))
            text.append(self.problem)
            return text
        text.append("  C runs them on this model and on its newest backup", self._style("muted"))
        width = max((len(s.check.label) for s in self.statuses), default=0)
        for status in self.statuses:
            text.append("\n  ")
            text.append_text(self._line(status, width))
        source = (
            f"from {self.path}"
            if self.path and any(not s.check.smoke for s in self.statuses)
            else f"no check names it in {self.path}: the smoke check applies"
            if self.path
            else "no checks file: the smoke check applies (see the README, Running it unattended)"
        )
        text.append(f"\n  {source}", self._style("muted"))
        return text

    def _line(self, status: CheckStatus, width: int) -> Text:
        label = status.check.label.ljust(width)
        last = status.last
        if last is None:
            return Text.assemble(
                ("· ", self._style("muted")), label, ("  never run", self._style("muted"))
            )
        when = fmt.ago(datetime.fromtimestamp(last.ran_at, timezone.utc), self.now)
        version = "" if last.digest == self.digest else f" on {fmt.short_digest(last.digest)}"
        if last.passed:
            head = Text.assemble(
                ("✓ ", self._style("passed")), label, ("  passed", self._style("passed"))
            )
            return head + Text(f" {when}{version} ({last.seconds:.1f} s)")
        head = Text.assemble(
            ("✗ ", self._style("failed")), label, ("  failed", self._style("failed"))
        )
        return head + Text(f" {when}{version}: {'; '.join(last.failures)}")
