"""Several servers in one tree: a row per host, its models beneath it.

Each host's snapshot stays its own (its syncer's); the tree is shown one made of them all, in
which a model's key is its host's name and its own name joined by a tab, which no model or
host name holds. The tree shows a model by its own name; the app asks the key's host.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..core.lineage import Kind, Node, Snapshot
from ..core.states import State
from .widgets.status_line import tally

SEP = "\t"


@dataclass(frozen=True)
class HostTree:
    label: str
    url: str
    snapshot: Snapshot
    problem: str | None = None  # why the host cannot be read now (its tree is the last known)


def key(host: str, name: str) -> str:
    return f"{host}{SEP}{name}"


def split(row: str) -> tuple[str, str | None]:
    """A row's host and model name; a host's own row has no model (None)."""
    host, sep, name = row.partition(SEP)
    return host, (name if sep else None)


def shown(row: str) -> str:
    """What the tree prints for a row: the model's own name, or the host's."""
    return row.rpartition(SEP)[2]


def combined(hosts: Sequence[HostTree]) -> Snapshot:
    """One snapshot of every host's rows, each host's models under its row, in the given order."""
    nodes: dict[str, Node] = {}
    for host in hosts:
        snapshot = host.snapshot
        models, counts = tally(snapshot.nodes.values())
        summary = f"{models} model{'s' if models != 1 else ''} · {counts or 'all up to date'}"
        reason = f"{host.problem} (last known: {summary})" if host.problem else summary
        nodes[host.label] = Node(
            host.label,
            Kind.HOST,
            State.UNREADABLE if host.problem else State.CURRENT,
            f"{host.url} · {reason}",
            children=tuple(key(host.label, r) for r in snapshot.roots),
        )
        for node in snapshot.nodes.values():
            nodes[key(host.label, node.name)] = replace(
                node,
                name=key(host.label, node.name),
                base=key(host.label, node.base) if node.base else None,
                children=tuple(key(host.label, c) for c in node.children),
                depth=node.depth + 1,
            )
    return Snapshot(nodes, tuple(h.label for h in hosts))
