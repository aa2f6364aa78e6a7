"""Pins and bulk work: which models one bulk run rebuilds, and which it holds back, and why."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from ..core.lineage import NEEDS_REBUILD, Kind, Node, Snapshot
from .session import Session

PIN_MARK = "⚑"  # after a pinned model's name, in ``status`` and in the TUI's tree
GUESSED = "its lineage is a guess the registry could not settle"
UNCONFIRMED = (
    "its base is known only from Ollama's parent_model, which the registry could not confirm"
    " (a pulled model keeps its publisher's)"
)


@dataclass
class Selection:
    """One bulk run (``R``, ``rebuild --all-stale``, ``apply``, autopilot): what it rebuilds,
    parents first, and each model it holds back with why. A model held back (pinned, guessed,
    failed or skipped in this run) holds back everything built on it: rebuilding a child on a
    parent that was not rebuilt only makes a backup and the same model again."""

    snapshot: Snapshot
    todo: list[str]
    held: dict[str, str]

    @property
    def due(self) -> list[str]:
        """Every model due a rebuild, held back or not, parents first."""
        return [n.name for n in self.snapshot.walk() if _due(self.snapshot, n.name)]

    @property
    def left(self) -> dict[str, str]:
        """The models due a rebuild this run leaves as they are, with why."""
        return {n: why for n, why in self.held.items() if _due(self.snapshot, n)}

    def hold(self, name: str, why: str, *, which: str = "held back") -> None:
        """``name`` is held back (``why``), and so is everything built on it."""
        self.held.setdefault(name, why)
        for node in self.snapshot.descendants(name):
            if node.kind is not Kind.BACKUP:
                self.held.setdefault(node.name, f"built on {name}, which is {which}")
        self.todo = [n for n in self.todo if n not in self.held]

    def hold_if_built_on_held(self, name: str, base: str | None) -> None:
        """For a model the snapshot does not know as ``base``'s child yet (``apply`` creating
        both): held back when its base is."""
        if base is not None and base in self.held and name not in self.held:
            self.hold(name, f"built on {base}, which is held back")


def bulk_selection(snapshot: Snapshot, pins: Collection[str], *, guesses: bool = True) -> Selection:
    """Every stale derivative, less those held back: pinned or built on a pinned model, a
    lineage only guessed (unless ``guesses`` is False), or built on one of those."""
    selection = Selection(snapshot, [n.name for n in snapshot.walk() if _due(snapshot, n.name)], {})
    for node in snapshot.walk():
        if node.name in pins:
            selection.hold(node.name, "pinned", which="pinned")
    for node in snapshot.walk():
        if (
            guesses
            and node.unproven
            and _due(snapshot, node.name)
            and node.name not in selection.held
        ):
            selection.hold(node.name, unproven_reason(node))
    return selection


def unproven_doubt(node: Node) -> str:
    """What is not known of a lineage taken on trust."""
    return GUESSED if node.guessed else UNCONFIRMED


def unproven_reason(node: Node) -> str:
    """Why a lineage taken on trust keeps a model out of bulk work."""
    return f"{unproven_doubt(node)}; read its plan and rebuild it alone"


def folder_selection(
    snapshot: Snapshot, changes: Sequence[tuple[str, str | None]], pins: Collection[str]
) -> Selection:
    """``apply``'s share of bulk work: of ``changes`` (name and base, parents first), those on a
    pinned model or built on one are held back. A guess does not hold a change back: the file
    says what the model is built from."""
    selection = Selection(snapshot, [name for name, _ in changes], {})
    for node in snapshot.walk():
        if node.name in pins:
            selection.hold(node.name, "pinned", which="pinned")
    for name, base in changes:
        selection.hold_if_built_on_held(name, base)
    return selection


def _due(snapshot: Snapshot, name: str) -> bool:
    node = snapshot.nodes[name]
    return node.kind is Kind.DERIVATIVE and node.state in NEEDS_REBUILD


async def pins_of(session: Session) -> set[str]:
    return await session.store.pins(session.settings.host_key)


async def toggle_pin(session: Session, name: str) -> tuple[bool, frozenset[str]]:
    """Pin ``name``, or unpin it when pinned (names compared as Ollama does, ignoring case);
    whether it is pinned now, and every pin as the store, their one owner, now says."""
    store, host = session.store, session.settings.host_key
    pinned = next((p for p in await store.pins(host) if p.casefold() == name.casefold()), None)
    if pinned:
        await store.unpin(host, pinned)
    else:
        await store.pin(host, name)
    return not pinned, frozenset(await store.pins(host))
