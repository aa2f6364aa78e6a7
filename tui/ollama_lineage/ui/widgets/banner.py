"""One line across the top when the server cannot be used, saying why; hidden otherwise."""

from __future__ import annotations

from rich.markup import escape
from textual.widgets import Static


class Banner(Static):
    def show_error(self, message: str | None, known: bool = True) -> None:
        self.set_class(message is not None, "-visible")
        tree = "showing the last known tree" if known else "no tree known yet"
        self.update(f"⚠ {escape(message)} — {tree}; retrying" if message else "")
