"""`status --format prometheus`: gauges per host for node_exporter's textfile collector.

Written by hand rather than with prometheus-client: the text format is a line per sample,
and the app keeps to its three runtime packages. Every state is written, zeros too, so an
alert sees a count fall to 0 rather than a series vanish.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ..core.lineage import NEEDS_REBUILD, Kind, Snapshot
from ..core.states import State

PREFIX = "ollama_lineage"


@dataclass(frozen=True)
class HostReading:
    name: str
    url: str
    snapshot: Snapshot | None  # None: the host could not be read
    polled_at: float | None = None


_HELP = {
    "up": "1 if the host answered its listing, 0 if it could not be read.",
    "models": "Models on the host by state (fresh, stale, update available, ...).",
    "base_updates": "Bases whose registry has a newer version than the host.",
    "derivatives_stale": "Derivatives due a rebuild: stale, stale upstream, edited, rolled back.",
    "last_poll_timestamp_seconds": "When the host's listing was read, in Unix seconds.",
}


def prometheus(readings: Sequence[HostReading]) -> str:
    samples: dict[str, list[str]] = {metric: [] for metric in _HELP}
    for reading in readings:
        host = f'host="{_escape(reading.name)}",url="{_escape(reading.url)}"'
        samples["up"].append(f"{{{host}}} {0 if reading.snapshot is None else 1}")
        if reading.snapshot is None:
            continue
        nodes = list(reading.snapshot.walk())
        by_state = Counter(node.state for node in nodes)
        for state in State:
            samples["models"].append(f'{{{host},state="{state.word}"}} {by_state[state]}')
        updates = by_state[State.UPDATE_AVAILABLE]
        samples["base_updates"].append(f"{{{host}}} {updates}")
        due = sum(1 for n in nodes if n.kind is Kind.DERIVATIVE and n.state in NEEDS_REBUILD)
        samples["derivatives_stale"].append(f"{{{host}}} {due}")
        if reading.polled_at is not None:
            samples["last_poll_timestamp_seconds"].append(f"{{{host}}} {reading.polled_at:.3f}")
    lines = []
    for metric, rows in samples.items():
        if rows:
            lines += [
                f"# HELP {PREFIX}_{metric} {_HELP[metric]}",
                f"# TYPE {PREFIX}_{metric} gauge",
            ]
            lines += [f"{PREFIX}_{metric}{row}" for row in rows]
    return "\n".join(lines)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
