"""``D``: what each model holds on disk, what backups and stale derivatives keep alive, orphans.

The screen owns the worker that reads the figures (the folder, or the listing when the folder
is not here), so closing it stops the read; `r` reads again.
"""

from __future__ import annotations

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from ...core.disk import DiskReport, human_bytes
from ...services.disk import disk_report
from ...services.session import Session


class DiskScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,D", "dismiss", "Close"),
        Binding("r", "reload", "Read again"),
        Binding("j,down", "cursor('down')", "Down", show=False),
        Binding("k,up", "cursor('up')", "Up", show=False),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.report: DiskReport | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="disk-dialog"):
            yield Static("[b]Disk[/b] · reading…", id="disk-title")
            yield Static("", id="disk-summary")
            yield DataTable(id="disk-models", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("model", key="model")
        table.add_column(Text("size", justify="right"), key="size")
        table.add_column(Text("unique", justify="right"), key="unique")
        self.action_reload()

    def action_reload(self) -> None:
        self.run_worker(self._read(), group="disk", exclusive=True)

    def action_cursor(self, direction: str) -> None:
        table = self.query_one(DataTable)
        (table.action_cursor_down if direction == "down" else table.action_cursor_up)()

    async def _read(self) -> None:
        try:
            report = await disk_report(self.session)
        except Exception as exc:  # the folder or the server went away: say so, stay open
            self.query_one("#disk-title", Static).update(
                f"[b]Disk[/b] · could not read: {escape(str(exc))}"
            )
            return
        self.show_report(report)

    def show_report(self, report: DiskReport) -> None:
        self.report = report
        source = "from the listing, sizes approximate" if report.approximate else "from the folder"
        self.query_one("#disk-title", Static).update(
            f"[b]Disk[/b] · {len(report.models)} models hold "
            f"{human_bytes(report.total_bytes)} ({source})"
        )
        self.query_one("#disk-summary", Static).update("\n".join(summary_lines(report)))
        table = self.query_one(DataTable)
        table.clear()
        for use in sorted(report.models, key=lambda m: (-m.bytes, m.name)):
            table.add_row(
                Text(use.name),
                Text(human_bytes(use.bytes), justify="right"),
                Text(human_bytes(use.unique_bytes), justify="right"),
                key=use.name,
            )


def summary_lines(report: DiskReport) -> list[str]:
    lines = [
        f"≡ backups alone hold {human_bytes(report.held_by_backups_only)}",
        f"stale derivatives alone hold {human_bytes(report.held_by_stale_only)}"
        " (freed once rebuilt and their backups dropped)",
    ]
    if report.approximate:
        lines.append("orphans: unknown (the models folder is not readable here)")
    else:
        lines.append(
            f"orphans: {len(report.orphans)} blobs, {human_bytes(report.orphan_bytes)}"
            + (" (ollama-lineage disk --prune-orphans)" if report.orphans else "")
        )
    if report.free_bytes is not None:
        lines.append(f"free on the folder's filesystem: {human_bytes(report.free_bytes)}")
    lines += [f"[dim]{escape(problem)}[/dim]" for problem in report.problems]
    return lines
