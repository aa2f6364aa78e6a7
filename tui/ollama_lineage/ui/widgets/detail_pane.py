"""The detail side: Overview, Modelfile diff, Parameters and History tabs.

It paints a Detail the app loaded, always the model under the tree's cursor. ``d`` opens
"current vs after rebuild"; ``v`` switches to "vs the base" for this model only (a new model
starts again from after-rebuild). Nothing here takes focus: the tree keeps it, so the cursor
keys always move the cursor, whatever tab is open.
"""

from __future__ import annotations

from datetime import datetime

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static, TabbedContent, TabPane

from ...services.detail import HISTORY_PAGE, Detail
from . import steady
from .diff_view import DiffView
from .history_table import HistoryTable
from .overview import Overview
from .params_table import ParamsTable

TABS = ("overview", "diff", "params", "history")


class DetailPane(Vertical):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.detail: Detail | None = None
        self._now = datetime.now()
        self.against_base = False

    def compose(self) -> ComposeResult:
        with TabbedContent(id="tabs"):
            with TabPane("Overview", id="overview"):
                yield Overview(id="overview-body")
            with TabPane("Diff", id="diff"):
                yield Static(id="diff-summary")
                yield DiffView(id="diff-view")
            with TabPane("Parameters", id="params"):
                with VerticalScroll(id="params-scroll", can_focus=False):
                    yield ParamsTable(id="params-table")
                yield Static(
                    "• the derivative's own setting   → changes on rebuild", id="params-legend"
                )
            with TabPane("History", id="history"):
                yield HistoryTable(id="history-table")

    def on_mount(self) -> None:
        self.query_one("#tabs Tabs").can_focus = False  # keys switch tabs; focus stays put
        if self.detail is not None:
            self.call_after_refresh(self.show_detail, self.detail, self._now)

    @property
    def name_shown(self) -> str | None:
        return self.detail.node.name if self.detail else None

    @property
    def active_tab(self) -> str:
        return self.query_one(TabbedContent).active

    def show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def show_detail(self, detail: Detail, now: datetime) -> None:
        if self.detail is None or self.detail.node.name != detail.node.name:
            self.against_base = False  # v is a look at one model, not a mode
        self.detail, self._now = detail, now
        if not self.query(HistoryTable):
            return  # the tabs are still mounting; on_mount paints it
        self.query_one(Overview).show_detail(detail, now)
        self._show_diff()
        self.query_one(ParamsTable).show_rows(detail.params, with_plan=detail.plan is not None)
        full = len(detail.events) >= HISTORY_PAGE
        older = f"ollama-lineage history {detail.node.name}" if full else ""
        self.query_one(HistoryTable).show_events(detail.events, now, older=older)

    def clear(self) -> None:
        """No model under the cursor (an empty server, a filter matching nothing)."""
        self.detail = None
        if not self.query(HistoryTable):
            return
        self.query_one(Overview).clear()
        self.query_one(DiffView).show_text("", "")
        steady.update(self.query_one("#diff-summary", Static), "")
        self.query_one(ParamsTable).show_rows([], with_plan=False)
        self.query_one(HistoryTable).show_events([], self._now)

    def show_after_rebuild(self) -> None:
        """``d``: always current vs after rebuild."""
        if self.against_base:
            self.against_base = False
            self._show_diff()

    def toggle_diff(self) -> None:
        self.against_base = not self.against_base
        self._show_diff()

    def next_change(self, step: int) -> None:
        self.query_one(DiffView).next_change(step)
        self._summarize()

    def _show_diff(self) -> None:
        detail = self.detail
        if detail is None:
            return
        view = self.query_one(DiffView)
        other = detail.base_text if self.against_base else detail.after
        name = detail.node.name
        if other is None:
            view.show_text(detail.current, f"{name} (Modelfile)")
        else:
            plan = detail.plan
            base = plan.base if plan else "its base"
            title = f"base {base}" if self.against_base else f"after rebuild on {base}"
            view.show_texts(detail.current, other, (f"{name} now", title))
        self._summarize()

    def _summarize(self) -> None:
        detail = self.detail
        view = self.query_one(DiffView)
        summary = self.query_one("#diff-summary", Static)
        if detail is None:
            steady.update(summary, "")
        elif (detail.base_text if self.against_base else detail.after) is None:
            steady.update(summary, escape(detail.problem or "not a derivative: nothing to rebuild"))
        else:
            switch = "after rebuild" if self.against_base else "the base"
            where = f"{view.summary} {view.position}".strip()
            steady.update(summary, escape(f"{where} · v: vs {switch}"))
