"""The one main screen: status line, banner, filterable tree, and the detail tabs.

At 120 columns and more the detail sits right of the tree; below that it stacks under the
tree at the full width, so a diff's changed values stay whole at 80×24. The tree keeps the
focus: nothing else on this screen takes it, except the filter field while it is open.
"""

from __future__ import annotations

from datetime import datetime

from rich.markup import escape
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Input, Static

from ...services.server_problem import host_label
from ..widgets import steady
from ..widgets.banner import Banner
from ..widgets.detail_pane import DetailPane
from ..widgets.key_footer import KeyFooter
from ..widgets.lineage_tree import Clock, LineageTree
from ..widgets.status_line import StatusLine

WIDE = 120  # from here on the detail goes beside the tree, below it stacks under


class FilterInput(Input):
    """``/`` opens it; typing filters live; Enter keeps the filter, Escape clears it."""

    # The screen clears it in one go: through the field's own messages, closing the field,
    # the shorter status line and the footer's keys each laid the screen out on their own.
    BINDINGS = [Binding("escape", "app.clear_filter", "Clear filter", show=False)]
    can_focus = False  # only while open, so Tab and startup focus never land on it


class MainScreen(Screen[None], inherit_bindings=False):
    """No Tab / shift+Tab focus keys: the tree holds the focus, so there is nowhere to go."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE, "-wide")]

    def __init__(self, clock: Clock, host: str = "") -> None:
        super().__init__()
        self.clock = clock
        self.host = host
        self.polled_at: datetime | None = None
        self._message = ""
        self.problem: str | None = None  # what is wrong with the server, for the status line

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        yield Banner(id="banner")
        with Horizontal(id="body"):
            with Vertical(id="left"):
                with Horizontal(id="filter-row"):
                    yield FilterInput(
                        placeholder="filter: a name or a state (stale, update…)", id="filter"
                    )
                    yield Static(id="filter-count")
                yield Static(id="tree-message")
                yield LineageTree(clock=self.clock, id="tree")
            yield DetailPane(id="detail")
        yield KeyFooter(keep_keys=True, compact=True)

    def on_mount(self) -> None:
        self.set_interval(1.0, self.update_status)  # the poll's age moves on by itself
        self.update_status()

    @property
    def lineage(self) -> LineageTree:
        return self.query_one(LineageTree)

    @property
    def detail(self) -> DetailPane:
        return self.query_one(DetailPane)

    @property
    def banner(self) -> Banner:
        return self.query_one(Banner)

    @property
    def filter_row(self) -> Horizontal:
        return self.query_one("#filter-row", Horizontal)

    @property
    def on_tree(self) -> bool:
        """The tree has the keys (not the filter field)."""
        return self.focused is None or isinstance(self.focused, LineageTree)

    @property
    def filtering(self) -> bool:
        return bool(self.lineage.query_text.strip())

    # --- focus -----------------------------------------------------------------------------

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """A click on a tab or a table must not take the keys away from the tree."""
        if not isinstance(event.widget, (LineageTree, FilterInput)):
            self.call_after_refresh(self.lineage.focus)

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        """Textual drops the focus of a widget that hides (z hides the tree): take it back,
        so j/k keep moving the cursor, and the detail keeps following it."""
        self.call_after_refresh(self._hold_focus)

    def _hold_focus(self) -> None:
        if self.is_current and self.app.app_focus and self.focused is None:
            self.lineage.focus(scroll_visible=False)

    # --- the filter ------------------------------------------------------------------------

    def open_filter(self) -> None:
        field = self.query_one(FilterInput)
        self.filter_row.add_class("-open")
        field.can_focus = True
        self.set_focus(field)  # now, not after a refresh: keys typed right after "/" are its

    def clear_filter(self) -> bool:
        """Esc on the tree: drop an applied filter (False when there was none)."""
        field = self.query_one(FilterInput)
        if not self.filtering and not self.filter_row.has_class("-open"):
            return False
        field.value = ""
        self._filter_done(Input.Submitted(field, ""))
        return True

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        if event.value == self.lineage.query_text:  # cleared already, by clear_filter
            return
        self.lineage.show(self.lineage.snapshot, event.value)
        self.update_status()

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        field = self.query_one(FilterInput)
        if event.value != self.lineage.query_text:
            self.lineage.show(self.lineage.snapshot, event.value)
        self.filter_row.set_class(bool(event.value), "-open")
        field.can_focus = False
        self.lineage.focus()
        self.update_status()

    # --- status and empty states -----------------------------------------------------------

    def update_status(self) -> None:
        if not self.is_attached or not self.query(LineageTree):
            return  # not composed yet, or going away (the app is exiting)
        tree = self.lineage
        self.query_one(StatusLine).show_status(
            host=self.host,
            snapshot=tree.snapshot,
            polled=self.polled_at,
            now=self.clock(),
            loading=tree.loading,
            pinned=sum(1 for name in tree.pins if name in tree.snapshot.nodes),
            problem=self.problem,
        )
        count = f"{tree.matches} shown · esc clears" if self.filtering else ""
        steady.update(self.query_one("#filter-count", Static), count)  # beside the field
        message = self.query_one("#tree-message", Static)
        text = ""
        if not tree.loading and not tree.snapshot.nodes and self.polled_at is not None:
            text = (
                f"No models on {escape(host_label(self.host))} yet. Pull one with "
                "[b]ollama pull NAME[/b]; it shows up here by itself."
            )
        elif self.filtering and not tree.matches:
            text = (
                f"No model matches “{escape(tree.query_text.strip())}” (names and state words "
                "are searched). [b]esc[/b] clears the filter."
            )
        if text != self._message:  # an update lays the screen out again: only on a change
            self._message = text
            message.update(text)
        message.set_class(bool(text), "-visible")
