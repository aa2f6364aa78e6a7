"""Each derivative by name × each server: "which servers still run the old qwq 20K?" in one look.

A cell is the model's state on that server, "missing" where it is not there, or "differs" where
a model of that name is built from another recipe than the first server's that has one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .lineage import Kind, Snapshot
from .states import State

MISSING_HERE = ("missing", "∅")
DIFFERS = ("differs", "≠")


@dataclass(frozen=True)
class HostView:
    name: str
    snapshot: Snapshot | None  # None: the server could not be read
    recipes: Mapping[str, str]  # model → recipe text, as recorded for that server


@dataclass(frozen=True)
class Cell:
    word: str
    symbol: str
    digest: str = ""

    @property
    def text(self) -> str:
        """With the model's digest there: two servers' "fresh" can be two builds (one on an
        older base that server never updated)."""
        build = f" {self.digest[:8]}" if self.digest else ""
        return f"{self.symbol} {self.word}{build}"


@dataclass(frozen=True)
class Row:
    name: str
    cells: tuple[Cell, ...]  # one per host, in the hosts' order


def matrix(hosts: Sequence[HostView]) -> list[Row]:
    """One row per derivative any readable server has, by name; backups are left out."""
    names = sorted(
        {
            n.name
            for host in hosts
            if host.snapshot is not None
            for n in host.snapshot.nodes.values()
            if n.kind is Kind.DERIVATIVE and n.facts is not None
        }
    )
    return [
        Row(name, tuple(_cell(host, name, _reference(hosts, name)) for host in hosts))
        for name in names
    ]


def _reference(hosts: Sequence[HostView], name: str) -> str | None:
    """The recipe the others are compared with: the first server's that records one."""
    return next((h.recipes[name] for h in hosts if h.snapshot and name in h.recipes), None)


def _cell(host: HostView, name: str, reference: str | None) -> Cell:
    if host.snapshot is None:
        return Cell("unreachable", "⚠")
    node = host.snapshot.nodes.get(name)
    if node is None or node.facts is None:
        return Cell(*MISSING_HERE)
    recipe = host.recipes.get(name)
    if reference is not None and recipe is not None and recipe != reference:
        return Cell(*DIFFERS, node.facts.digest)
    state = node.state if node.kind is Kind.DERIVATIVE else State.UNTRACKED
    return Cell(state.word, state.symbol, node.facts.digest)
