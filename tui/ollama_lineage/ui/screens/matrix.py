"""``m``: each derivative by name × each server, its state and build there, "missing", or
"differs" (another recipe): which servers still run an old build is one look.

The screen owns the worker that reads each server's recipes; the states are the tree's.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from ...core.lineage import Snapshot
from ...core.matrix import HostView, matrix
from ...services.session import Session


class MatrixScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,m", "dismiss", "Close"),
        Binding("j,down", "cursor('down')", "Down", show=False),
        Binding("k,up", "cursor('up')", "Up", show=False),
    ]

    def __init__(self, hosts: Sequence[tuple[str, Session | None, Snapshot | None]]) -> None:
        """``hosts``: each server's name, its session and its snapshot (None: not readable)."""
        super().__init__()
        self.hosts = list(hosts)
        self.rows: list[tuple[str, ...]] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="matrix-dialog"):
            yield Static("[b]Servers[/b] · reading recipes…", id="matrix-title")
            yield DataTable(id="matrix-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("model", key="model")
        for name, _, _ in self.hosts:
            table.add_column(name, key=name)
        self.run_worker(self._read(), group="matrix", exclusive=True)

    def action_cursor(self, direction: str) -> None:
        table = self.query_one(DataTable)
        (table.action_cursor_down if direction == "down" else table.action_cursor_up)()

    async def _read(self) -> None:
        views = []
        for name, session, snapshot in self.hosts:
            recipes: dict[str, str] = {}
            if session is not None and snapshot is not None:
                recipes = await session.store.recipe_texts(session.settings.host_key)
            views.append(HostView(name, snapshot, recipes))
        found = matrix(views)
        self.rows = [(row.name, *(cell.text for cell in row.cells)) for row in found]
        table = self.query_one(DataTable)
        table.clear()
        for cells in self.rows:
            table.add_row(*(escape(c) for c in cells), key=cells[0])
        hosts = len(self.hosts)
        self.query_one("#matrix-title", Static).update(
            f"[b]Servers[/b] · {len(found)} derivatives × {hosts} server{'s' if hosts > 1 else ''}"
            " · ∅ missing there · ≠ differs: another recipe of that name"
        )
