"""The live tree: bases at the root, derivatives and backups beneath, updated in place.

One widget draws the lines on screen from a flat list of rows (Textual's line API): a poll,
a fold or a filter rebuilds that list, a cheap tuple per row, and only the rows on screen are
ever labelled or drawn, so a fleet of 10,000 models costs what 40 lines cost. The cursor
follows its model, not its line, and the folds the user made stay where they were.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import NamedTuple

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import var
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget

from ...core.lineage import Kind, Node, Snapshot
from ...core.states import State
from ...services.pins import PIN_MARK
from ..actions import bindings
from ..host_rows import shown
from . import format as fmt

PREFIX = 4  # fold icon + state symbol
WORD = max(len(state.word) for state in State) + 2  # the longest state word and its gap
META = (0, 7, 12)  # columns for no facts, size alone, size and age
NAME_KEPT = 12  # a name is cut to no fewer characters before a fact is dropped
CUT = "…"
GUIDE = 2  # columns of indent per level
ICON_FOLDED, ICON_UNFOLDED, ICON_LEAF = "▸ ", "▾ ", "  "
LINES = {  # space, vertical, terminator, cross: as Textual's Tree draws them
    "default": ("  ", "│ ", "└ ", "├ "),
    "bold": ("  ", "┃ ", "┗ ", "┣ "),
    "double": ("  ", "║ ", "╚ ", "╠ "),
}
TOGGLE = Style.from_meta({"toggle": True})
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Row(NamedTuple):
    """One line: the model, the names from its top-level base down to it, and for each of
    those whether it is the last of its siblings (which guide its column gets)."""

    name: str
    path: tuple[str, ...]
    lasts: tuple[bool, ...]
    foldable: bool


class LineageTree(ScrollView, can_focus=True, inherit_bindings=False):
    """Rows read ``symbol name  state  size age``; colour comes from the tcss state classes.
    A pinned model's name is followed by the pin mark, so it reads without colour.

    Its keys are exactly those of the action table, so the help screen lists every key that
    works here. It looks as Textual's Tree did (same guides, cursor and component classes).
    """

    BINDINGS = bindings("tree")
    COMPONENT_CLASSES = {state.css_class for state in State} | {
        "lineage-tree--meta",
        "tree--label",
        "tree--guides",
        "tree--guides-hover",
        "tree--guides-selected",
        "tree--cursor",
        "tree--highlight",
        "tree--highlight-line",
    }

    cursor_line = var(-1, always_update=True)
    hover_line = var(-1)

    class ModelHighlighted(Message):
        """The cursor moved onto a model (None: the tree is empty)."""

        def __init__(self, name: str | None) -> None:
            super().__init__()
            self.name = name

    def __init__(self, *, clock: Clock = utc_now, id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock = clock
        self.snapshot = Snapshot()
        self.query_text = ""
        self.matches = 0  # models the filter matched (all of them when there is none)
        self.pins: frozenset[str] = frozenset()
        self._rows: list[Row] = []
        self._line_of: dict[str, int] = {}
        self._parents: dict[str, str] = {}
        self._visible: set[str] | None = None  # None: no filter, every model
        self._folded: set[str] = set()
        self._cursor_name: str | None = None
        self._columns = (0, 2)  # the state word's column, and how many facts fit (META)
        self._labelled_at = -1  # the width the labels were made for
        self._labels: dict[str, Text] = {}
        self._strips: LRUCache[int, Strip] = LRUCache(256)
        self._drawn_ahead_of = -1  # the top line the pages around the screen were drawn for
        self._looks: tuple[object, dict[str, Style], bool] | None = None
        # The unfiltered rows for these folds and pins, and their columns by width.
        self._whole: tuple[object, list[Row], dict[str, int], dict[int, tuple[int, int]]] | None = (
            None
        )

    # --- what tests and the app read ----------------------------------------------------------

    @property
    def selected(self) -> Node | None:
        return self.snapshot.nodes.get(self._cursor_name) if self._cursor_name else None

    @property
    def last_line(self) -> int:
        return len(self._rows) - 1

    def row_texts(self) -> list[str]:
        """Each line's label as a user reads it (no guides or fold icon), top to bottom."""
        return [self._row_text(row.name).plain for row in self._rows]

    def row_names(self) -> list[str]:
        """Each line's model, top to bottom: a cut name still says which row is which."""
        return [row.name for row in self._rows]

    def line_text(self, line: int) -> str:
        """A line as drawn (guides, fold icon, label), in plain text."""
        return self._draw(line, self.size.width).text

    # --- the row list -------------------------------------------------------------------------

    def show(self, snapshot: Snapshot, query: str | None = None) -> None:
        """Bring the rows in line with ``snapshot`` (and the filter).

        If the model under the cursor went (deleted, or hidden by the filter), the cursor
        lands on a neighbour and ModelHighlighted says so, so the detail never shows a model
        the tree does not.
        """
        if snapshot is not self.snapshot or not self._parents:
            self._parents = {kid: n.name for n in snapshot.nodes.values() for kid in n.children}
            self._whole = None
        self.snapshot = snapshot
        if query is not None:
            self.query_text = query
        self._visible, self.matches = self._filtered(snapshot)
        before = self._cursor_name
        self._relist()
        if self._cursor_name != before:
            # Made in the tree's own turn: a message made while the screen runs (the filter
            # calls show) would stop bubbling at the screen and never reach the app.
            self.call_later(self._announce, self._cursor_name)

    def set_pins(self, pins: frozenset[str]) -> None:
        """Pinned models carry the pin mark: the names' column may move."""
        if pins != self.pins:
            self.pins = pins
            self.relabel()

    def matches_query(self, node: Node) -> bool:
        """The filter matches a model's name or its state's word (``stale``, ``update``)."""
        query = self.query_text.strip().lower()
        return not query or query in shown(node.name).lower() or query in node.state.word

    def _filtered(self, snapshot: Snapshot) -> tuple[set[str] | None, int]:
        """The models the filter shows, with the ancestors that place them (None: all of
        them), and how many it matched."""
        query = self.query_text.strip().lower()
        if not query:
            return None, len(snapshot.nodes)
        words = {state.word for state in State if query in state.word}
        matched = [
            name
            for name, node in snapshot.nodes.items()
            if node.state.word in words or query in name.lower()
        ]
        if len(matched) == len(snapshot.nodes):
            return None, len(matched)
        shown: set[str] = set()
        for name in matched:
            current: str | None = name
            while current is not None and current not in shown:
                shown.add(current)
                current = self._parents.get(current)
        return shown, len(matched)

    def _relist(self) -> None:
        """Lay the rows out again; the cursor keeps its model, or the folded row hiding it,
        or else its line. The unfiltered layout is kept, so esc puts every row back free."""
        shape = (frozenset(self._folded), self.pins)
        whole = self._whole if self._visible is None else None
        if whole is not None and whole[0] == shape:
            self._rows, self._line_of = whole[1], whole[2]
        else:
            self._rows = self._lay_out()
            self._line_of = {row.name: line for line, row in enumerate(self._rows)}
            whole = None
            if self._visible is None:
                whole = self._whole = (shape, self._rows, self._line_of, {})
        self._labels.clear()
        self._forget_strips()
        self._set_height(len(self._rows))  # first: a scrollbar that comes takes a column
        width = self.scrollable_content_region.width
        if whole is not None and width in whole[3]:
            self._columns = whole[3][width]
        else:
            self._columns = self._measure()
            if whole is not None:
                whole[3][width] = self._columns
        self._place_cursor(self._cursor_name)
        self.refresh()

    def _lay_out(self) -> list[Row]:
        nodes, visible, rows = self.snapshot.nodes, self._visible, []
        stack: list[tuple[str, tuple[str, ...], tuple[bool, ...], bool]] = [
            (name, (), (), True)
            for name in reversed(self.snapshot.roots)
            if name in nodes and (visible is None or name in visible)
        ]
        while stack:
            name, path, lasts, last = stack.pop()
            kids = [
                k for k in nodes[name].children if k in nodes and (visible is None or k in visible)
            ]
            path, lasts = (*path, name), (*lasts, last)
            rows.append(Row(name, path, lasts, bool(kids)))
            if kids and name not in self._folded:
                stack.extend((k, path, lasts, k == kids[-1]) for k in reversed(kids))
        return rows

    def _set_height(self, lines: int) -> None:
        """A new row count moves the scrollbar, not the screen: Textual's reactive would lay
        out every widget on the screen again, so only a scrollbar that comes or goes does."""
        size = Size(self.size.width, lines)
        if size == self.virtual_size:
            return
        bars = self.show_vertical_scrollbar
        self.set_reactive(Widget.virtual_size, size)
        self._scroll_update(size)
        if self.show_vertical_scrollbar != bars:
            self.refresh(layout=True)

    def _place_cursor(self, name: str | None) -> None:
        line = self._line_of.get(name) if name else None
        current: str | None = name
        while line is None and current is not None:  # hidden by a fold: its folded ancestor
            current = self._parents.get(current)
            line = self._line_of.get(current) if current else None
        if line is None:
            line = min(max(self.cursor_line, 0), len(self._rows) - 1)
        self._cursor_name = self._rows[line].name if line >= 0 else None
        self.set_reactive(LineageTree.cursor_line, line)
        self._scroll_to_cursor()

    def _measure(self) -> tuple[int, int]:
        """Where the state word starts, and how many facts (size, age) fit beside it.

        Every row's state word starts in the same column. When the widest name does not fit,
        long names are cut with an ellipsis (their start kept, at least NAME_KEPT characters)
        before age, then size, is dropped: a nested backup's name must not cost every row its
        facts.
        """
        pins, mark = self.pins, len(PIN_MARK) + 1
        needs = [
            (len(shown(r.name)) + (mark if r.name in pins else 0), GUIDE * (len(r.path) - 1))
            for r in self._rows
        ]
        widest = max((name + indent for name, indent in needs), default=0)
        room = self.scrollable_content_region.width or 10_000
        for facts in (2, 1, 0):
            column = room - PREFIX - WORD - META[facts]
            if widest <= column:
                return widest, facts
            if all(column - indent >= min(name, NAME_KEPT) for name, indent in needs):
                return column, facts
        return max(room - PREFIX - WORD, 0), 0

    def relabel(self) -> None:
        """Labels hold a width-dependent column: redo them when the width changes."""
        self._columns = self._measure()
        self._labels.clear()
        self._forget_strips()
        self._looks = None
        self.refresh()

    # --- labels and lines ---------------------------------------------------------------------

    def _shown_name(self, node: Node) -> str:
        name = shown(node.name)  # a model's own name: a row key may carry its host's
        return f"{name} {PIN_MARK}" if node.name in self.pins else name

    def _row_text(self, name: str) -> Text:
        """A row's label, made when it first shows on screen and kept until the rows change."""
        label = self._labels.get(name)
        if label is not None:
            return label
        node = self.snapshot.nodes[name]
        width, facts_shown = self._columns
        state, styles = node.state, self._styles()
        style = styles[state.css_class]
        if node.kind is Kind.HOST:  # a server's row: its name, then what it holds or why not
            label = Text.assemble(
                (f"{state.symbol} ", style),
                (node.name, Style(bold=True)),
                "  ",
                (node.reason, style),
            )
            label.truncate(width + WORD + META[facts_shown], overflow="ellipsis")
            self._labels[name] = label
            return label
        own = shown(node.name)
        printed = self._shown_name(node)
        depth = len(self._rows[self._line_of[name]].path) - 1
        room = width - GUIDE * depth
        mark = printed[len(own) :]
        cut = own
        if len(printed) > room:  # keep the start, which says which model it is, and the pin
            cut = own[: max(room - len(mark) - len(CUT), 1)] + CUT
        pad = max(room - len(cut) - len(mark), 0)
        label = Text.assemble(
            (f"{state.symbol} ", style),
            (cut, Style(bold=state is not State.BACKUP)),
            mark,
            " " * pad,
            (f"  {state.word:<{WORD - 2}}", style),
        )
        facts = node.facts
        if facts_shown and facts:
            meta = f" {fmt.size(facts.size):>6}"
            if facts_shown == 2:
                meta += f" {fmt.age(fmt.parse_time(facts.modified_at), self.clock()):>4}"
            label.append(meta, styles["lineage-tree--meta"])
        self._labels[name] = label
        return label

    def _styles(self) -> dict[str, Style]:
        """Component styles, looked up once per focus or theme: a lookup is slow."""
        state = self.get_pseudo_class_state()
        if self._looks is None or self._looks[0] != state:
            styles = {
                name: self.get_component_rich_style(name, partial=name != "tree--cursor")
                for name in self.COMPONENT_CLASSES
            }
            hidden = self.get_component_styles("tree--guides").color.a == 0
            self._looks = (state, styles, hidden)
            self._labels.clear()
            self._forget_strips()
        return self._looks[1]

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._looks = None
        self._labels.clear()
        self._forget_strips()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        line = y + scroll_y
        width = self.size.width
        self._styles()  # a focus change redraws every line
        strip = self._strips.get(line)
        if strip is None:
            if line >= len(self._rows):
                return Strip.blank(width, self.rich_style)
            strip = self._strips[line] = self._draw(line, width)
        if scroll_y != self._drawn_ahead_of:
            self._drawn_ahead_of = scroll_y
            self.call_after_refresh(self._draw_ahead)
        return strip.crop(scroll_x, scroll_x + width)

    def _forget_strips(self) -> None:
        self._strips.clear()
        self._drawn_ahead_of = -1  # the pages around the screen are to be drawn again

    def _draw_ahead(self) -> None:
        """Once the frame is out, draw the page below the screen and the one above it, so a
        PageDown (or up) only copies lines: drawing them was half of its work."""
        top, height, width = self.scroll_offset.y, self.size.height, self.size.width
        self._strips.maxsize = max(self._strips.maxsize, 4 * height)
        for line in (*range(top + height, top + 2 * height), *range(top - height, top)):
            if 0 <= line < len(self._rows) and self._strips.get(line) is None:
                self._strips[line] = self._draw(line, width)

    def _draw(self, line: int, width: int) -> Strip:
        """Guides, fold icon and label, styled as Textual's Tree styles them."""
        row = self._rows[line]
        styles = self._styles()
        assert self._looks is not None
        hidden = self._looks[2]
        focused = self.has_focus
        hovered = self._rows[self.hover_line].name if 0 <= self.hover_line < len(self._rows) else ""
        base = self.rich_style
        line_style = (styles["tree--highlight-line"] if hovered in row.path else base) + Style(
            meta={"line": line}
        )
        guide_base = styles["tree--guides"]
        guide_style = guide_base
        guides = Text(style=line_style)
        hover = selected = False
        for column in range(1, len(row.path)):
            above = row.path[column - 1]
            hover = hover or above == hovered
            selected = (selected or above == self._cursor_name) and focused
            if hover:
                guide_style = guide_base + styles["tree--guides-hover"]
            if selected:
                guide_style = guide_base + styles["tree--guides-selected"]
            space, vertical, terminator, cross = _guides(guide_style, hidden)
            if column < len(row.path) - 1:
                guides.append(space if row.lasts[column] else vertical, style=guide_style)
            else:
                guides.append(terminator if row.lasts[column] else cross, style=guide_style)
        label_style = styles["tree--label"]
        if self.hover_line == line:
            label_style += styles["tree--highlight"]
        if self.cursor_line == line:
            label_style += styles["tree--cursor"]
        label = self._row_text(row.name).copy()
        label.stylize(label_style)
        if row.foldable:
            icon = ICON_FOLDED if row.name in self._folded else ICON_UNFOLDED
            guides.append_text(Text.assemble((icon, line_style + TOGGLE), label))
        else:
            guides.append_text(Text.assemble(ICON_LEAF, label))
        segments = list(guides.render(self.app.console))
        pad = max(width - guides.cell_len, 0)
        return Strip([*segments, Segment(" " * pad, line_style)] if pad else segments)

    # --- the cursor ---------------------------------------------------------------------------

    def validate_cursor_line(self, line: int) -> int:
        return min(max(line, 0), len(self._rows) - 1)

    def watch_cursor_line(self, previous: int, line: int) -> None:
        name = self._rows[line].name if line >= 0 else None
        for moved in (previous, line):  # each row and the guides beneath it: nothing else
            lines = self._branch(moved)
            for y in lines:
                self._strips.discard(y)
            if lines:
                self.refresh_lines(lines.start, len(lines))
        if name != self._cursor_name:
            self._cursor_name = name
            self.post_message(self.ModelHighlighted(name))

    def _branch(self, line: int) -> range:
        """The lines of the row at ``line`` and of everything shown beneath it."""
        if not 0 <= line < len(self._rows):
            return range(0)
        depth, end = len(self._rows[line].path), line + 1
        while end < len(self._rows) and len(self._rows[end].path) > depth:
            end += 1
        return range(line, end)

    def watch_hover_line(self) -> None:
        self._forget_strips()
        self.refresh()

    def on_mount(self) -> None:
        self._announce(None)  # nothing to show until the first snapshot lands

    def _announce(self, name: str | None) -> None:
        self.post_message(self.ModelHighlighted(name))

    def _scroll_to_cursor(self) -> None:
        if self.cursor_line >= 0:
            self.scroll_to_region(
                Region(0, self.cursor_line, max(self.size.width, 1), 1),
                animate=False,
                force=True,
                x_axis=False,
                origin_visible=False,
            )

    def _move(self, line: int) -> None:
        self.cursor_line = line
        self._scroll_to_cursor()

    def action_cursor_down(self) -> None:
        self._move(self.cursor_line + 1)

    def action_cursor_up(self) -> None:
        self._move(self.cursor_line - 1 if self.cursor_line >= 0 else self.last_line)

    def action_page_down(self) -> None:
        self._move(max(self.cursor_line, 0) + self.scrollable_content_region.height - 1)

    def action_page_up(self) -> None:
        self._move(self.cursor_line - (self.scrollable_content_region.height - 1))

    def action_scroll_home(self) -> None:
        self._move(0)

    def action_scroll_end(self) -> None:
        self._move(self.last_line)

    # --- folding ------------------------------------------------------------------------------

    def _fold(self, names: Iterable[str], fold: bool) -> None:
        if fold:
            self._folded.update(names)
        else:
            self._folded.difference_update(names)
        self._relist()

    def action_select_cursor(self) -> None:
        """Enter folds or unfolds the row under the cursor."""
        row = self._cursor_row()
        if row is not None and row.foldable:
            self._fold([row.name], row.name not in self._folded)

    def action_collapse(self) -> None:
        """Fold the branch, or step out to the parent when there is nothing to fold."""
        row = self._cursor_row()
        if row is None:
            return
        if row.foldable and row.name not in self._folded:
            self._fold([row.name], True)
        elif len(row.path) > 1:
            self._move(self._line_of[row.path[-2]])

    def action_expand(self) -> None:
        row = self._cursor_row()
        if row is not None and row.name in self._folded:
            self._fold([row.name], False)

    def fold_all(self, fold: bool) -> None:
        """Fold every branch (one row per base) or unfold them all. The cursor stays on its
        model, or on the folded row that now hides it."""
        if fold:
            self._fold((n.name for n in self.snapshot.nodes.values() if n.children), True)
        else:
            self._folded.clear()
            self._relist()

    def next_attention(self) -> str | None:
        """Move to the next model (after the cursor, wrapping) whose state needs attention,
        unfolding its branch if it was folded; None when there is none."""
        visible = self._visible
        order = [n for n in self.snapshot.walk() if visible is None or n.name in visible]
        wanted = [n.name for n in order if n.state.needs_attention]
        if not wanted:
            return None
        names = [n.name for n in order]
        here = self._cursor_name
        after = names[names.index(here) + 1 :] if here in names else names
        name = next((n for n in after if n in wanted), wanted[0])
        ancestors, current = [], self._parents.get(name)
        while current is not None:
            ancestors.append(current)
            current = self._parents.get(current)
        if self._folded.intersection(ancestors):
            self._fold(ancestors, False)
        self._move(self._line_of[name])
        return name

    def _cursor_row(self) -> Row | None:
        return self._rows[self.cursor_line] if 0 <= self.cursor_line < len(self._rows) else None

    # --- mouse and size -----------------------------------------------------------------------

    def on_mouse_move(self, event: events.MouseMove) -> None:
        line = event.style.meta.get("line") if event.style.meta else None
        self.hover_line = line if isinstance(line, int) else -1

    def on_leave(self, event: events.Leave) -> None:
        self.hover_line = -1

    def on_click(self, event: events.Click) -> None:
        """A click moves the cursor there and folds or unfolds that row, as Tree's did."""
        line = event.style.meta.get("line") if event.style.meta else None
        if isinstance(line, int):
            self._move(line)
            self.action_select_cursor()

    def on_resize(self, event: events.Resize) -> None:
        """New width, new columns; and the cursor's row stays in view (60×20 included).
        A new height alone (the filter field opening or closing) keeps the labels."""
        self._set_height(len(self._rows))
        width = self.scrollable_content_region.width
        if width != self._labelled_at:
            self._labelled_at = width
            self.relabel()
        self.call_after_refresh(self._scroll_to_cursor)


def _guides(style: Style, hidden: bool) -> tuple[str, str, str, str]:
    if hidden:
        return ("  ", "  ", "  ", "  ")
    if style.bold:
        return LINES["bold"]
    return LINES["double"] if style.underline2 else LINES["default"]
