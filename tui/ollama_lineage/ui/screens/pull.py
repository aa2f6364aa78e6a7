"""``p``: pull a base with a byte-accurate progress bar; Escape cancels the download."""

from __future__ import annotations

import time

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Footer, ProgressBar, Static

from ...ollama.client import Progress


class PullScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel / close")]

    class Cancelled(Message):
        """The user gave up on the pull; the app stops the download."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.model = name
        self.finished = False
        self._layers: dict[str, tuple[int, int]] = {}
        self._started = time.monotonic()

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="pull-dialog"):
            yield Static(f"Pulling [b]{escape(self.model)}[/b]", id="pull-title")
            yield Static("asking the registry…", id="pull-status")
            yield ProgressBar(id="pull-bar", show_eta=False)
            yield Static("", id="pull-bytes")
        yield Footer()

    def progress(self, progress: Progress) -> None:
        """The bar follows the layer being pulled; the line below counts every layer."""
        self.query_one("#pull-status", Static).update(escape(progress.status))
        if progress.total:
            done = progress.completed or 0
            self._layers[progress.digest] = (done, progress.total)
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
        if not self.finished:
            self.post_message(self.Cancelled())
        self.dismiss()
