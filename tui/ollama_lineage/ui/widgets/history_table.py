"""Builds, pulls, rollbacks, backup deletions and checks of one model, newest first."""

from __future__ import annotations

from datetime import datetime, timezone

from textual.widgets import DataTable

from ...services.store import Event
from . import format as fmt


class HistoryTable(DataTable[str], can_focus=False):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.add_columns("when", "what", "status", "digest", "note")

    def show_events(self, events: list[Event], now: datetime, *, older: str = "") -> None:
        """``older``: where the events before this page are, when there may be some."""
        self.clear()
        for event in sorted(events, key=lambda e: e.id, reverse=True):
            when = datetime.fromtimestamp(event.started_at, timezone.utc)
            after = fmt.short_digest(event.digest_after)
            if event.kind != "check":  # a check ran on one version: its digest alone
                after = f"{fmt.short_digest(event.digest_before)} → {after}"
            note = event.error or (f"backup {event.backup}" if event.backup else "")
            self.add_row(fmt.ago(when, now), event.kind, event.status, after, note)
        if older:
            self.add_row("", "…", "", "", f"older events: {older}")
