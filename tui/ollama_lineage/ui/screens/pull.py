"""``p``: pull a base with a byte-accurate progress bar; Escape cancels the download.

The pull is this screen's worker: closing the screen is what stops it.
"""

from __future__ import annotations

import time

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, ProgressBar, Static

from ...ollama.client import Progress
from ...services.problems import describe
from ...services.session import Session
from ..messages import FlowFailed, ModelsChanged, Redraw


class PullScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel / close")]

    def __init__(self, session: Session, name: str) -> None:
        super().__init__()
        self.session = session
        self.model = name
        self.finished = False
        self._layers: dict[str, tuple[int, int]] = {}
        self._latest: Progress | None = None
        self._started = time.monotonic()

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="pull-dialog"):
            yield Static(f"Pulling [b]{escape(self.model)}[/b]", id="pull-title")
            yield Static("asking the registry…", id="pull-status")
            yield ProgressBar(id="pull-bar", show_eta=False)
            yield Static("", id="pull-bytes")
        yield Footer()

    def on_mount(self) -> None:
        self.run_pull()

    @work(exclusive=True, group="pull")
    async def run_pull(self) -> None:
        try:
            digest = await self.session.rebuilder.pull(self.model, self.progress)
        except Exception as exc:
            self.finish(describe(exc), failed=True)
            self.app.post_message(FlowFailed("pull", self.model, exc, quiet=True))
        else:
            self.finish(f"{self.model} is now {digest[:12]}")
        self.app.post_message(ModelsChanged())

    def progress(self, progress: Progress) -> None:
        """Counted as it comes; painted once per burst of lines."""
        self._latest = progress
        if progress.total:
            self._layers[progress.digest] = (progress.completed or 0, progress.total)
        self.post_message(Redraw("progress"))

    @on(Redraw)
    def _paint(self) -> None:
        """The bar follows the layer being pulled; the line below counts every layer."""
        progress = self._latest
        if progress is None or self.finished:
            return
        self.query_one("#pull-status", Static).update(escape(progress.status))
        if progress.total:
            done = progress.completed or 0
            self.query_one(ProgressBar).update(total=progress.total, progress=done)
            self.query_one("#pull-bytes", Static).update(self._overall())

    def _overall(self) -> str:
        done = sum(d for d, _ in self._layers.values())
        total = sum(t for _, t in self._layers.values())
        rate = done / max(time.monotonic() - self._started, 1e-3)
        eta = f"{(total - done) / rate:.0f}s" if rate > 0 else "?"
        return (
            f"layer {len(self._layers)} · {done / 1e9:.2f} / {total / 1e9:.2f} GB"
            f" · {rate / 1e6:.0f} MB/s · ETA {eta}"
        )

    def finish(self, message: str, *, failed: bool = False) -> None:
        self.finished = True
        self.set_class(failed, "-failed")
        self.query_one("#pull-status", Static).update(escape(message) + " — esc closes")

    def action_cancel(self) -> None:
        if not self.finished:  # the pull is this screen's worker: it stops as the screen goes
            self.notify("pull cancelled; the old version is still there")
        self.dismiss()
