"""The right-hand side: Overview, Modelfile diff, Parameters and History tabs.

It paints a Detail the app loaded; ``v`` (``toggle_diff``) switches the diff between
after-rebuild and the base, which needs no new data.
"""

from __future__ import annotations

from datetime import datetime

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static, TabbedContent, TabPane

from ...services.detail import Detail
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
                yield ParamsTable(id="params-table")
                yield Static(
                    "• the derivative's own setting   → changes on rebuild", id="params-legend"
                )
            with TabPane("History", id="history"):
                yield HistoryTable(id="history-table")

    def on_mount(self) -> None:
        if self.detail is not None:
            self.call_after_refresh(self.show_detail, self.detail, self._now)

    def show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def show_detail(self, detail: Detail, now: datetime) -> None:
        self.detail, self._now = detail, now
        if not self.query(HistoryTable):
            return  # the tabs are still mounting; on_mount paints it
        self.query_one(Overview).show_detail(detail, now)
        self._show_diff()
        self.query_one(ParamsTable).show_rows(
            detail.params, with_plan=detail.plan is not None, room=self.size.width - 1
        )
        self.query_one(HistoryTable).show_events(detail.events, now)

    def toggle_diff(self) -> None:
        self.against_base = not self.against_base
        self._show_diff()

    def _show_diff(self) -> None:
        detail = self.detail
        if detail is None:
            return
        view = self.query_one(DiffView)
        summary = self.query_one("#diff-summary", Static)
        other = detail.base_text if self.against_base else detail.after
        if other is None:
            view.show_text(detail.current, "Modelfile")
            summary.update(detail.problem or "not a derivative: nothing to rebuild")
            return
        title = f"base {detail.plan.base}" if self.against_base and detail.plan else "after rebuild"
        view.show_texts(detail.current, other, ("current", title), self.size.width - 1)
        switch = "after rebuild" if self.against_base else "the base"
        summary.update(f"{view.summary} · v: compare with {switch}")
