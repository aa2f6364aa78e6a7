"""The poll loop's one step: tags, shows for changed digests only, store, lineage snapshot."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from ..core.lineage import Link, ModelFacts, Snapshot, build_snapshot, infer_links
from ..core.names import BACKUP_MARK, backup_origin, normalize_name, same_model
from ..core.overrides import derive_recipe
from ..ollama.client import OllamaClient, ShowResult, TagEntry
from .store import Store, StoredRecipe


class Syncer:
    """Keeps an up-to-date lineage snapshot of one server at one request per quiet poll."""

    def __init__(
        self, client: OllamaClient, store: Store, host: str, *, concurrency: int = 16
    ) -> None:
        self.client = client
        self.store = store
        self.host = host
        self.snapshot = Snapshot()
        self.building: set[str] = set()
        self.requests = {"tags": 0, "show": 0}
        self._facts: dict[str, ModelFacts] | None = None
        self._last_listing = b""
        self._concurrency = asyncio.Semaphore(concurrency)

    async def load(self) -> Snapshot:
        """The last known tree from the store alone: what to show before the server answers."""
        self._facts = await self.store.models(self.host)
        await self.refresh()
        return self.snapshot

    async def poll(self) -> bool:
        """One sync step; True when the snapshot changed (so the screen has work to do)."""
        if self._facts is None:
            await self.load()
        assert self._facts is not None
        self.requests["tags"] += 1
        listing = await self.client.tags_body()
        if listing == self._last_listing:
            return False
        tags = {t.name: t for t in self.client.parse_tags(listing)}
        known = self._facts
        changed = [t for name, t in tags.items() if _differs(known.get(name), t)]
        gone = [name for name in known if name not in tags]
        if not changed and not gone:
            self._last_listing = listing
            return False
        shows = await self._shows(changed)
        fresh_facts = [_facts_from(t, shows[t.digest]) for t in changed]
        await self.store.save_models(self.host, fresh_facts, gone)
        for name in gone:
            known.pop(name, None)  # an overlapping poll may have dropped it already
        known.update((f.name, f) for f in fresh_facts)
        await self._adopt_new_derivatives(shows)
        self._last_listing = listing
        return await self.refresh()

    async def refresh(self) -> bool:
        """Recompute the snapshot from memory and the store (after a build, a track, …)."""
        facts = list((self._facts or {}).values())
        recipes = await self.store.recipes(self.host)
        snapshot = build_snapshot(
            facts,
            {child: r.link for child, r in recipes.items()},
            backups=await self.backups(),
            upstream=await self.store.upstream(self.host),
            building=frozenset(self.building),
            failed=await self.store.failed_builds(self.host),
        )
        if snapshot == self.snapshot:
            return False
        self.snapshot = snapshot
        return True

    def resolve(self, name: str) -> str:
        """The server's spelling of ``name``: Ollama matches names case-insensitively."""
        wanted = normalize_name(name)
        if wanted in self.snapshot.nodes:
            return wanted
        return next((n for n in self.snapshot.nodes if same_model(n, wanted)), wanted)

    async def backups(self) -> dict[str, str]:
        """Backups this app made, plus any named by its rule (made with another database)."""
        facts = self._facts or {}
        found = {
            name: origin
            for name in facts
            if BACKUP_MARK in name  # parsing every name on every refresh is 10 ms at 1,000
            and (origin := backup_origin(name)) is not None
            and origin in facts
        }
        return {**found, **await self.store.backups(self.host)}

    async def show(self, name: str) -> ShowResult:
        """A model's show, from the digest-keyed cache when the digest is known."""
        facts = (self._facts or {}).get(name)
        if facts is not None:
            cached = await self.store.cached_shows([facts.digest])
            if facts.digest in cached:
                return ShowResult(cached[facts.digest])
        return await self.client.show(name)

    async def _shows(self, entries: list[TagEntry]) -> dict[str, Mapping[str, Any]]:
        cached: dict[str, Mapping[str, Any]] = dict(
            await self.store.cached_shows(t.digest for t in entries)
        )
        missing = [t for t in entries if t.digest not in cached]

        async def fetch(entry: TagEntry) -> None:
            async with self._concurrency:
                self.requests["show"] += 1
                cached[entry.digest] = (await self.client.show(entry.name)).raw

        tasks = [asyncio.ensure_future(fetch(t)) for t in missing]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            # One show failed: stop the others rather than leave them running unawaited
            # (the CLI would close the client under them and leak their sockets).
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        await self.store.cache_shows({t.digest: cached[t.digest] for t in missing})
        return cached

    async def _adopt_new_derivatives(self, shows: Mapping[str, Mapping[str, Any]]) -> None:
        """First sight needs no set-up: record each new derivative's recipe and build base."""
        assert self._facts is not None
        recipes = await self.store.recipes(self.host)
        backups = await self.backups()
        facts = self._facts
        inferred = infer_links(list(facts.values()), {}, backups)
        new: list[StoredRecipe] = []
        for child, link in inferred.items():
            if child in recipes or child not in facts or link.base not in facts:
                continue
            new.append(await self._first_recipe(facts[child], facts[link.base], link, shows))
        if new:
            await self.store.save_recipes(self.host, new)

    async def _first_recipe(
        self,
        child: ModelFacts,
        base: ModelFacts,
        link: Link,
        shows: Mapping[str, Mapping[str, Any]],
    ) -> StoredRecipe:
        """Diff the child against the base version with the same weights, if ever seen."""
        built_from: str | None = None
        if child.weights_blob and child.weights_blob == base.weights_blob:
            built_from = base.digest
        else:
            for digest, blob in reversed(await self.store.digest_history(self.host, base.name)):
                if blob and blob == child.weights_blob:
                    built_from = digest
                    break
        wanted = [d for d in (child.digest, built_from, base.digest) if d and d not in shows]
        known = {**shows, **(await self.store.cached_shows(wanted))}
        if built_from not in known:  # never seen that base version: diff against today's
            built_from = None
        recipe = derive_recipe(known[child.digest], known[built_from or base.digest], base.name)
        guessed = built_from is None
        return StoredRecipe(
            Link(child.name, base.name, built_from, link.source, guessed), recipe.to_modelfile()
        )


def _differs(known: ModelFacts | None, tag: TagEntry) -> bool:
    return known is None or known.digest != tag.digest or known.modified_at != tag.modified_at


def _facts_from(tag: TagEntry, show: Mapping[str, Any]) -> ModelFacts:
    result = ShowResult(show)
    return ModelFacts(
        name=tag.name,
        digest=tag.digest,
        size=tag.size,
        modified_at=tag.modified_at,
        parent_model=tag.parent_model or result.parent_model,
        weights_blob=result.weights_blob,
    )
