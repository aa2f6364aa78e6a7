"""One line across the top when the server cannot be reached; hidden otherwise."""

from __future__ import annotations

from textual.widgets import Static


class Banner(Static):
    def show_error(self, message: str | None) -> None:
        self.set_class(message is not None, "-visible")
        self.update(f"⚠ {message} — showing the last known tree; retrying" if message else "")
