"""The live tree: bases at the root, derivatives and backups beneath, updated in place.

Each poll that changes something hands a new Snapshot to ``show``; only rows whose model
changed are relabelled and only appearing or vanishing models are added or removed, so the
cursor and the folds the user made stay where they were.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from rich.style import Style
from rich.text import Text
from textual import events
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from ...core.lineage import Node, Snapshot
from ...core.states import State
from ...services.pins import PIN_MARK
from ..actions import bindings
from . import format as fmt

PREFIX = 4  # fold icon + state symbol
WORD = max(len(state.word) for state in State) + 2  # the longest state word and its gap
META = 12  # size and age
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class LineageTree(Tree[str], inherit_bindings=False):
    """Rows read ``symbol name  state  size age``; colour comes from the tcss state classes.
    A pinned model's name is followed by the pin mark, so it reads without colour.

    Its keys are exactly those of the action table (Tree's own extras are not inherited), so
    the help screen lists every key that works here.
    """

    BINDINGS = bindings("tree")
    COMPONENT_CLASSES = {state.css_class for state in State} | {"lineage-tree--meta"}
    ICON_NODE = "▸ "
    ICON_NODE_EXPANDED = "▾ "

    class ModelHighlighted(Message):
        """The cursor moved onto a model (None: the tree is empty)."""

        def __init__(self, name: str | None) -> None:
            super().__init__()
            self.name = name

    def __init__(self, *, clock: Clock = utc_now, id: str | None = None) -> None:
        super().__init__("models", id=id)
        self.show_root = False
        self.guide_depth = 2
        self.clock = clock
        self.snapshot = Snapshot()
        self.query_text = ""
        self.matches = 0  # models the filter matched (all of them when there is none)
        self.pins: frozenset[str] = frozenset()
        self._rows: dict[str, TreeNode[str]] = {}
        self._styles: dict[str, Style] = {}

    @property
    def selected(self) -> Node | None:
        node = self.cursor_node
        return self.snapshot.nodes.get(node.data) if node and node.data else None

    def show(self, snapshot: Snapshot, query: str | None = None) -> None:
        """Bring the rows in line with ``snapshot`` (and the filter) without a rebuild.

        If the model under the cursor went (deleted, or hidden by the filter), the cursor
        lands on a neighbour and ModelHighlighted says so, so the detail never shows a model
        the tree does not.
        """
        keep = self.cursor_node.data if self.cursor_node else None
        self._styles.clear()
        self.snapshot = snapshot
        if query is not None:
            self.query_text = query
        parents = {kid: n.name for n in snapshot.nodes.values() for kid in n.children}
        visible = self._visible(snapshot, parents)
        for name, row in list(self._rows.items()):
            if name not in self._rows:
                continue  # already gone with a removed parent
            parent = row.parent.data if row.parent and row.parent is not self.root else None
            if name not in visible or parents.get(name) != parent:
                self._forget(row)
                row.remove()
        columns = self._columns(snapshot, visible)
        for node in snapshot.walk():
            if node.name in visible:
                self._place(node, parents.get(node.name), visible, columns)
        self.matches = len(visible) if not self.query_text else self._matching(snapshot)
        self._restore_cursor(keep)
        now = self.cursor_node.data if self.cursor_node and self._rows else None
        if now != keep:
            # Made in the tree's own turn: a message made while the screen runs (the filter
            # calls show) would stop bubbling at the screen and never reach the app.
            self.call_later(self._announce, now)

    def set_pins(self, pins: frozenset[str]) -> None:
        """Pinned models carry the pin mark: only their rows change."""
        if pins != self.pins:
            self.pins = pins
            self.relabel()

    def _shown_name(self, node: Node) -> str:
        return f"{node.name} {PIN_MARK}" if node.name in self.pins else node.name

    def _announce(self, name: str | None) -> None:
        self.post_message(self.ModelHighlighted(name))

    def matches_query(self, node: Node) -> bool:
        """The filter matches a model's name or its state's word (``stale``, ``update``)."""
        query = self.query_text.strip().lower()
        return not query or query in node.name.lower() or query in node.state.word

    def _matching(self, snapshot: Snapshot) -> int:
        return sum(1 for node in snapshot.nodes.values() if self.matches_query(node))

    def _visible(self, snapshot: Snapshot, parents: dict[str, str]) -> set[str]:
        if not self.query_text.strip():
            return set(snapshot.nodes)
        shown: set[str] = set()
        for name, node in snapshot.nodes.items():
            if self.matches_query(node):
                current: str | None = name
                while current is not None and current not in shown:
                    shown.add(current)
                    current = parents.get(current)
        return shown

    def _forget(self, row: TreeNode[str]) -> None:
        for child in row.children:
            self._forget(child)
        if row.data is not None:
            self._rows.pop(row.data, None)

    def _place(
        self, node: Node, parent: str | None, visible: set[str], columns: tuple[int, bool]
    ) -> None:
        label = self._label(node, columns)
        row = self._rows.get(node.name)
        if row is None:
            holder = self._rows[parent] if parent else self.root
            siblings = [n for n in (self._siblings(parent)) if n in visible]
            later = siblings[siblings.index(node.name) + 1 :]
            before = next((self._rows[n] for n in later if n in self._rows), None)
            row = holder.add(label, node.name, before=before, expand=True)
            self._rows[node.name] = row
        elif row.label != label:
            row.set_label(label)
        row.allow_expand = any(kid in visible for kid in node.children)

    def _siblings(self, parent: str | None) -> tuple[str, ...]:
        return self.snapshot.nodes[parent].children if parent else self.snapshot.roots

    def _restore_cursor(self, name: str | None) -> None:
        """Rows added or removed above the cursor shift lines: follow the model, not the line."""
        row = self._rows.get(name) if name else None
        self._tree_lines  # noqa: B018 - rebuilds the line index so row.line is current
        if row is not None and row.line >= 0 and row.line != self.cursor_line:
            self.move_cursor(row)
        elif self.cursor_node is None and self._rows:
            self.cursor_line = 0

    def _columns(self, snapshot: Snapshot, visible: set[str]) -> tuple[int, bool]:
        """Where the state word starts, and whether size and age still fit beside it.

        Every row's state word starts in the same column when the widest name allows it;
        a name too long for that (a backup's, in a narrow pane) pushes only its own word
        right rather than being cut, and size and age go before any name or word is cut.
        """
        widths = sorted(
            len(self._shown_name(snapshot.nodes[n])) + self.guide_depth * snapshot.nodes[n].depth
            for n in visible
            if n in snapshot.nodes
        )
        widest = widths[-1] if widths else 0
        room = self.scrollable_content_region.width or 10_000
        if PREFIX + widest + WORD + META <= room:
            return widest, True
        if PREFIX + widest + WORD <= room:
            return widest, False
        return max(room - PREFIX - WORD, 0), False

    def _style(self, component: str) -> Style:
        """Component styles, looked up once per redraw: 1,000 lookups cost half a second."""
        if component not in self._styles:
            self._styles[component] = self.get_component_rich_style(component, partial=True)
        return self._styles[component]

    def _label(self, node: Node, columns: tuple[int, bool]) -> Text:
        width, with_meta = columns
        state = node.state
        style = self._style(state.css_class)
        shown = self._shown_name(node)
        pad = max(width - self.guide_depth * node.depth - len(shown), 0)
        label = Text.assemble(
            (f"{state.symbol} ", style),
            (node.name, Style(bold=state is not State.BACKUP)),
            shown[len(node.name) :],
            " " * pad,
            (f"  {state.word:<{WORD - 2}}", style),
        )
        facts = node.facts
        if with_meta and facts:
            when = fmt.age(fmt.parse_time(facts.modified_at), self.clock())
            meta = self._style("lineage-tree--meta")
            label.append(f" {fmt.size(facts.size):>6} {when:>4}", meta)
        return label

    def render_label(self, node: TreeNode[str], base_style: Style, style: Style) -> Text:
        """Leaves get a blank where the fold icon goes, so the columns line up."""
        text = super().render_label(node, base_style, style)
        return text if node.allow_expand else Text.assemble("  ", text)

    def relabel(self) -> None:
        """Labels hold a width-dependent column: redo them when the width changes."""
        self._styles.clear()
        columns = self._columns(self.snapshot, set(self._rows))
        for name, row in self._rows.items():
            label = self._label(self.snapshot.nodes[name], columns)
            if row.label != label:
                row.set_label(label)

    def action_collapse(self) -> None:
        """Fold the branch, or step out to the parent when there is nothing to fold."""
        row = self.cursor_node
        if row is None:
            return
        if row.allow_expand and row.is_expanded:
            row.collapse()
        elif row.parent is not None and row.parent is not self.root:
            self.move_cursor(row.parent)

    def action_expand(self) -> None:
        row = self.cursor_node
        if row is not None and row.allow_expand:
            row.expand()

    def fold_all(self, fold: bool) -> None:
        """Fold every branch (one row per base) or unfold them all. The cursor stays on its
        model, or on the folded row that now hides it."""
        keep = self.cursor_node
        for row in self._rows.values():
            if not row.allow_expand:
                continue
            if fold:
                row.collapse()
            else:
                row.expand()
        target = (_outermost_folded(keep, self.root) or keep) if keep is not None else None
        self._tree_lines  # noqa: B018 - rebuilds the line index so row.line is current
        if target is not None and target.line >= 0:
            self.move_cursor(target)

    def next_attention(self) -> str | None:
        """Move to the next model (after the cursor, wrapping) whose state needs attention,
        unfolding its branch if it was folded; None when there is none."""
        order = [n.name for n in self.snapshot.walk() if n.name in self._rows]
        wanted = [n for n in order if self.snapshot.nodes[n].state.needs_attention]
        if not wanted:
            return None
        here = self.selected.name if self.selected else None
        after = order[order.index(here) + 1 :] if here in order else order
        name = next((n for n in after if n in wanted), wanted[0])
        row = self._rows[name]
        parent = row.parent
        while parent is not None and parent is not self.root:
            parent.expand()
            parent = parent.parent
        self._tree_lines  # noqa: B018
        self.move_cursor(row)
        return name

    def on_resize(self, event: events.Resize) -> None:
        self.relabel()

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[str]) -> None:
        event.stop()
        self.post_message(self.ModelHighlighted(event.node.data))


def _outermost_folded(row: TreeNode[str], root: TreeNode[str]) -> TreeNode[str] | None:
    """The highest collapsed ancestor hiding ``row`` (the row the cursor should rest on)."""
    found = None
    parent = row.parent
    while parent is not None and parent is not root:
        if not parent.is_expanded:
            found = parent
        parent = parent.parent
    return found
