"""One line across the top: which server, how many models in each state, how many are pinned,
and how fresh the view is. The filter in force is beside its field, so typing or clearing it
never changes this line's height (that laid the whole screen out). The counts are taken from
the State enum, so a new state shows up here with its own word without touching this file.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from rich.markup import escape
from textual.widgets import Static

from ...core.disk import human_bytes, kept_by_backups
from ...core.lineage import Kind, Node, Snapshot
from ...core.states import State
from ...services.pins import PIN_MARK
from ...services.server_problem import host_label
from . import format as fmt
from . import steady

# States that need no word in the summary: everything is as it should be.
QUIET = frozenset({State.CURRENT, State.FRESH, State.BACKUP})
PLURAL = {State.UPDATE_AVAILABLE: "updates available"}


def tally(nodes: Iterable[Node]) -> tuple[int, str]:
    """How many models (bases and derivatives) there are, and their states in words."""
    nodes = list(nodes)
    return sum(1 for n in nodes if n.kind in (Kind.BASE, Kind.DERIVATIVE)), state_counts(nodes)


def state_counts(nodes: Iterable[Node]) -> str:
    """``1 stale · 1 stale upstream · 3 updates available``, worst first, in the enum's words."""
    counts: dict[State, int] = {}
    for node in nodes:
        counts[node.state] = counts.get(node.state, 0) + 1
    ordered = sorted(
        (s for s in State if counts.get(s) and s not in QUIET),
        key=lambda s: not s.needs_attention,  # stable: enum order within each group
    )
    return " · ".join(
        f"{counts[s]} {PLURAL.get(s, s.word) if counts[s] > 1 else s.word}" for s in ordered
    )


def poll_age(then: datetime, now: datetime) -> str:
    """Seconds matter here: a poll every 2 s that is 40 s old means trouble."""
    seconds = (now - then).total_seconds()
    if seconds < 2:
        return "just now"
    return f"{seconds:.0f}s ago" if seconds < 60 else fmt.ago(then, now)


class StatusLine(Static):
    """Redrawn only when its words change: it is asked every second and on every keystroke,
    and an update lays the screen out again. The counts are taken once per snapshot."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._counted: tuple[Snapshot, int, str] | None = None
        self._hosts: tuple[Snapshot, str] | None = None
        self._held: tuple[Snapshot, int] | None = None

    def _counts(self, snapshot: Snapshot) -> tuple[int, str]:
        if self._counted is None or self._counted[0] is not snapshot:
            self._counted = (snapshot, *tally(snapshot.nodes.values()))
        return self._counted[1], self._counted[2]

    def _backups_hold(self, snapshot: Snapshot) -> int:
        """Worked out once a snapshot: the line is redrawn every second."""
        if self._held is None or self._held[0] is not snapshot:
            self._held = (snapshot, kept_by_backups(snapshot))
        return self._held[1]

    def show_status(
        self,
        *,
        host: str,
        snapshot: Snapshot,
        polled: datetime | None,
        now: datetime,
        loading: bool,
        pinned: int = 0,
        problem: str | None = None,
    ) -> None:
        """With a ``problem`` the counts are the last known tree's, and say so: a server that
        is down never reads as an empty, healthy one."""
        if hosts := self._per_host(snapshot):
            steady.update(self, hosts)
            return
        models, counts = self._counts(snapshot)
        parts = [f"[b]{escape(host_label(host))}[/b]"]
        count = f"{models} model{'s' if models != 1 else ''}"
        if problem is not None:
            parts.append(f"[reverse]⚠ {escape(problem)}[/]")
            parts.append(f"last known: {count}" if snapshot.nodes else "no tree known yet")
            if counts:
                parts.append(counts)
        elif loading:
            parts.append("reading the server…")
        else:
            parts.append(count)
            parts.append(counts or "all up to date")
            if pinned:
                parts.append(f"{PIN_MARK} {pinned} pinned")
            if held := self._backups_hold(snapshot):
                parts.append(f"≡ backups hold {human_bytes(held)}")
        if polled is not None:
            parts.append(f"{'last ' if problem else ''}polled {poll_age(polled, now)}")
        steady.update(self, " · ".join(parts))  # asked every second: a layout only on a new wrap

    def _per_host(self, snapshot: Snapshot) -> str:
        """Several servers in one tree: each one's name, and its counts or why it cannot be
        read; "" for one server. Worked out once a snapshot, as the counts are."""
        if self._hosts is None or self._hosts[0] is not snapshot:
            parts = []
            for root in snapshot.roots:
                host = snapshot.nodes[root]
                if host.kind is not Kind.HOST:
                    continue
                if host.state is State.UNREADABLE:
                    parts.append(f"[b]{escape(host.name)}[/b] [reverse]⚠ unreadable[/]")
                    continue
                models, counts = tally(snapshot.descendants(host.name))
                plural = "s" if models != 1 else ""
                line = f"{models} model{plural}, {counts or 'all up to date'}"
                parts.append(f"[b]{escape(host.name)}[/b] {line}")
            self._hosts = (snapshot, " │ ".join(parts))
        return self._hosts[1]
