"""The Overview tab: what the model is, what it was built from, why it has its state, whether
bulk work leaves it alone (pins), and its checks with their last results."""

from __future__ import annotations

from datetime import datetime

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from ...core.diff import side_by_side, summarize
from ...core.states import State
from ...services.detail import Detail
from ...services.pins import PIN_MARK
from . import format as fmt
from . import steady
from .check_list import CheckList


class Overview(VerticalScroll, can_focus=False):
    def clear(self) -> None:
        for part in ("title", "state", "facts"):
            steady.update(self.query_one(f"#overview-{part}", Static), "")
        self.query_one(CheckList).clear()

    def compose(self) -> ComposeResult:
        yield Static(id="overview-title")
        yield Static(id="overview-state")
        yield Static(id="overview-facts")
        yield CheckList(id="overview-checks")

    def show_detail(self, detail: Detail, now: datetime) -> None:
        node = detail.node
        steady.update(self.query_one("#overview-title", Static), f"[b]{escape(node.name)}[/b]")
        state = self.query_one("#overview-state", Static)
        for other in State:
            state.remove_class(other.css_class)
        state.add_class(node.state.css_class)
        steady.update(state, f"{node.state.symbol} {node.state.word} — {escape(node.reason)}")
        facts = node.facts
        lines = [f"kind        {node.kind.value}"]
        if facts:
            lines += [
                f"digest      {fmt.short_digest(facts.digest)}",
                f"size        {fmt.size(facts.size) or '-'}",
                f"modified    {fmt.ago(fmt.parse_time(facts.modified_at), now)}",
            ]
        if node.base:
            lines.append(f"base        {escape(node.base)}")
        if detail.built_from:
            built = fmt.short_digest(detail.built_from)
            lines.append(f"built from  {escape(node.base or '')} {built}")
        if detail.guessed:
            lines.append(
                "recipe      [b]guessed[/b]: the base changed before first sight; check the diff"
            )
        if detail.held == "pinned":
            lines.append(f"pinned      {PIN_MARK} kept out of R and autopilot (P unpins)")
        elif detail.held:
            lines.append(f"held        {escape(detail.held)}: kept out of R and autopilot")
        if detail.plan:
            rows = side_by_side(detail.current, detail.after or "")
            lines.append(f"rebuild     {summarize(rows)} (r to rebuild, d for the diff)")
        elif detail.problem and detail.problem != node.reason:
            lines.append(f"rebuild     {escape(detail.problem)}")
        steady.update(self.query_one("#overview-facts", Static), "\n".join(lines))
        self.query_one(CheckList).show_checks(
            detail.checks,
            path=detail.checks_file,
            problem=detail.checks_problem,
            digest=facts.digest if facts else None,
            now=now,
        )
