"""Is a newer version upstream, and is a model the registry's own? Stored, so it holds offline."""

from __future__ import annotations

import time
from collections.abc import Iterable
from contextlib import aclosing
from functools import cached_property
from typing import TYPE_CHECKING

from ..core.lineage import NEEDS_REBUILD, Kind, Node, Upstream
from ..core.states import State
from .in_flight import in_flight
from .sync import Syncer

if TYPE_CHECKING:
    from ..ollama.registry import RegistryClient

LOCAL_RECHECK = 7 * 86400.0  # seconds before a "no such model" answer is asked again


class UpstreamChecker:
    """Checks the bases, and the derivatives whose lineage is only taken on trust."""

    def __init__(self, syncer: Syncer, registry: str, *, timeout: float = 10.0) -> None:
        self.syncer = syncer
        self._url, self._timeout = registry, timeout

    @cached_property
    def registry(self) -> RegistryClient:
        """Made when a question is asked: a warm `status` whose answers are all stored never
        imports httpx (80 ms of a 0.4 s start)."""
        from ..ollama.registry import RegistryClient

        return RegistryClient(self._url, timeout=self._timeout)

    async def aclose(self) -> None:
        if "registry" in self.__dict__:
            await self.registry.aclose()

    async def check_all(self) -> dict[str, Upstream]:
        """Bases for updates; guessed derivatives, since a pulled model is never rebuilt."""
        return await self.check([n.name for n in self.syncer.snapshot.walk() if _worth_asking(n)])

    async def settle_guesses(self, *, again: bool = True) -> list[str]:
        """Ask the registry about derivatives due a rebuild whose lineage is not proven (a
        guess, or only Ollama's ``parent_model``); the names it could not settle (bulk
        rebuilds leave those alone) are returned. Each answer is stored: a model is asked
        once, and one the registry could not answer again only when ``again``."""
        answers = await self.syncer.store.upstream(self.syncer.host)

        def unsettled() -> list[str]:
            return [
                n.name
                for n in self.syncer.snapshot.walk()
                if n.unproven and n.state in NEEDS_REBUILD
            ]

        def unasked(name: str) -> bool:
            answer = answers.get(name)
            return answer is None or (again and answer.error is not None)

        if guesses := [n for n in unsettled() if unasked(n)]:
            await self.check(guesses)  # which rebuilds the snapshot
        elif any(n in answers for n in unsettled()):
            # Answered after the snapshot was made (the start-up check stores its answers,
            # then rebuilds): the snapshot catches up, or R would hold them back on it.
            await self.syncer.refresh()
        return unsettled()

    async def check(self, names: Iterable[str]) -> dict[str, Upstream]:
        """Ask the registry; a model it said it has no such model of is asked again only
        after ``LOCAL_RECHECK`` seconds, and an unreachable registry never undoes that answer
        (a base made here must not read "not checked", nor fail autopilot, every night)."""
        store, host = self.syncer.store, self.syncer.host
        local = await store.local_since(host)
        now = time.time()
        names = list(names)
        recent = [n for n in names if now - local.get(n, -LOCAL_RECHECK) < LOCAL_RECHECK]
        asked = [n for n in names if n not in recent]
        # No more checks made than can run: a fleet's thousand waiting ones held megabytes.
        async with aclosing(in_flight(self.registry.check, asked, self.registry.at_once)) as found:
            answers = {name: answer async for name, answer in found}
        kept = [n for n, u in answers.items() if n in local and u.error and not u.local]
        await store.save_upstream(host, {n: u for n, u in answers.items() if n not in kept})
        if recent or kept:
            stored = await store.upstream(host)
            answers.update((n, stored[n]) for n in [*recent, *kept])
        await self.syncer.refresh()
        return {n: answers[n] for n in names}


def _worth_asking(node: Node) -> bool:
    if node.facts is None or node.facts.remote_host or node.facts.problem:
        return False
    if node.kind is Kind.BASE:
        return not node.facts.parent_model or node.state is State.UNTRACKED
    return node.kind is Kind.DERIVATIVE and node.unproven
