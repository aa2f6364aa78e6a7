"""Pins: models kept, with everything built on them, out of bulk rebuilds and autopilot."""

from __future__ import annotations

from collections.abc import Collection

from ..core.lineage import Kind, Snapshot
from .session import Session

PIN_MARK = "⚑"  # after a pinned model's name, in ``status`` and in the TUI's tree


def held(snapshot: Snapshot, pins: Collection[str]) -> dict[str, str]:
    """Every model kept out of bulk work, with why: pinned, or built on a pinned model."""
    found: dict[str, str] = {}
    for node in snapshot.walk():
        if node.name in pins:
            found[node.name] = "pinned"
    for name in [n for n, why in found.items() if why == "pinned"]:
        for node in snapshot.descendants(name):
            if node.kind is not Kind.BACKUP:
                found.setdefault(node.name, f"built on {name}, which is pinned")
    return found


def rebuildable(snapshot: Snapshot, pins: Collection[str]) -> list[str]:
    """What a bulk rebuild (``R``, ``rebuild --all-stale``) may redo, parents first.

    ``Snapshot.stale_in_order()`` less pinned models and everything built on them.
    """
    keep = held(snapshot, pins)
    return [name for name in snapshot.stale_in_order() if name not in keep]


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
