"""Races between rebuilds of the tree, ordered by hand: the first rebuild of the tree is held
at its last read of the store until the test lets it go."""

from __future__ import annotations

import asyncio
from typing import Any

from ollama_lineage.services.store import Store


class HeldTreeRead:
    """``reached`` is set when the first rebuild of the tree is at its last read; it waits
    there until ``let_go`` has given another task every chance to finish first."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.reached = asyncio.Event()
        self._go_on = asyncio.Event()
        original = store.failed_builds

        async def held(host: str) -> dict[str, str]:
            if not self.reached.is_set():
                self.reached.set()
                await self._go_on.wait()
            return await original(host)

        store.failed_builds = held  # type: ignore[method-assign]

    async def let_go(self, other: asyncio.Future[Any], host: str) -> None:
        for _ in range(20):  # each a trip through the store's queue, behind any read of `other`
            if other.done():
                break
            await self.store.pins(host)
        self._go_on.set()
