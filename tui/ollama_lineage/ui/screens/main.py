"""The one main screen: banner, filterable tree on the left, detail tabs on the right."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input

from ..widgets.banner import Banner
from ..widgets.detail_pane import DetailPane
from ..widgets.lineage_tree import Clock, LineageTree


class FilterInput(Input):
    """``/`` opens it; typing filters live; Enter keeps the filter, Escape clears it."""

    BINDINGS = [Binding("escape", "clear", "Clear filter", show=False)]
    can_focus = False  # only while open, so Tab and startup focus never land on it

    def action_clear(self) -> None:
        self.value = ""
        self.post_message(self.Submitted(self, ""))


class MainScreen(Screen[None]):
    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock

    def compose(self) -> ComposeResult:
        yield Banner(id="banner")
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield FilterInput(placeholder="filter by name", id="filter")
                yield LineageTree(clock=self.clock, id="tree")
            yield DetailPane(id="detail")
        yield Footer()

    @property
    def lineage(self) -> LineageTree:
        return self.query_one(LineageTree)

    @property
    def detail(self) -> DetailPane:
        return self.query_one(DetailPane)

    @property
    def banner(self) -> Banner:
        return self.query_one(Banner)

    def open_filter(self) -> None:
        field = self.query_one(FilterInput)
        field.add_class("-open")
        field.can_focus = True
        field.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.lineage.show(self.lineage.snapshot, event.value)

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        field = self.query_one(FilterInput)
        field.set_class(bool(event.value), "-open")
        field.can_focus = False
        self.lineage.focus()
