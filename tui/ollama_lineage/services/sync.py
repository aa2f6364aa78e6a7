"""The poll loop's one step: tags, shows for changed digests only, store, lineage snapshot.

The Syncer is the one writer of the snapshot. Network I/O happens outside its write lock, so
a pull, a rebuild or a hanging registry check never holds up the next poll; a poll that
finishes after a newer one has applied is dropped rather than roll the tree back.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Sequence
from contextlib import aclosing
from dataclasses import dataclass

from ..core.lineage import Link, ModelFacts, Snapshot, build_snapshot, infer_links, shared
from ..core.names import BACKUP_MARK, backup_origin, normalize_name, same_model
from ..core.overrides import derive_recipe
from ..core.spec import ModelSpec
from ..ollama.client import OllamaClient, OllamaError, TagEntry, Unreachable
from ..ollama.plain_http import CONNECTIONS
from .in_flight import in_flight
from .store import Store, StoredRecipe

# Specs are read from the models folder, stored, and first seen this many at a time: each store
# is a transaction, which costs the same whatever its size, and a cold start that fails
# part-way keeps what it had stored.
BATCH = 256
RETRY_FIRST, RETRY_MAX = 5.0, 600.0

# Specs read without a request (Ollama's models folder), by digest; absent ones go over HTTP.
SpecReader = Callable[[Sequence[TagEntry]], Awaitable[dict[str, ModelSpec]]]


@dataclass
class _Retry:
    digest: str
    due: float
    wait: float


class Syncer:
    """Keeps an up-to-date lineage snapshot of one server at one request per quiet poll."""

    def __init__(
        self,
        client: OllamaClient,
        store: Store,
        host: str,
        *,
        concurrency: int = CONNECTIONS,  # one show in flight per connection
        local_spec: SpecReader | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.store = store
        self.host = host
        self.snapshot = Snapshot()
        self.requests = {"tags": 0, "show": 0}
        self._building: set[str] = set()
        self._facts: dict[str, ModelFacts] | None = None
        # The last applied listing by its hash: at 10,000 models the body is ~4 MB to keep.
        self._last_listing = b""
        self._concurrency = concurrency
        self._write = asyncio.Lock()  # held only while applying results, never across I/O
        # One rebuild of the snapshot at a time: one that read the store before a change must
        # not finish after one that read it after, or the older tree stands until the next.
        self._refreshing = asyncio.Lock()
        self._tickets = 0
        self._applied = 0
        # How many listings were applied to the facts, and how many of them the snapshot shows.
        self._facts_applied = 0
        self._facts_shown = 0
        self._built_from: tuple[int, frozenset[str], tuple[int, int]] | None = None
        self._retries: dict[str, _Retry] = {}
        self._local_spec = local_spec
        self._clock = clock

    async def load(self) -> Snapshot:
        """The last known tree from the store alone: what to show before the server answers."""
        async with self._write:
            if self._facts is None:
                self._facts = await self.store.models(self.host)
                now = self._clock()
                for facts in self._facts.values():
                    if facts.problem:
                        self._retries[facts.name] = _Retry(facts.digest, now, RETRY_FIRST)
        await self.refresh()
        return self.snapshot

    async def poll(self) -> bool:
        """One sync step; True when the snapshot changed (so the screen has work to do)."""
        if self._facts is None:
            await self.load()
        self._tickets += 1
        ticket = self._tickets
        self.requests["tags"] += 1
        listing = await self.client.tags_body()
        fingerprint = hashlib.sha256(listing).digest()
        due = self._due_retries()
        if fingerprint == self._last_listing and not due:
            # Already applied: an older poll still reading must not apply after it.
            self._applied = max(self._applied, ticket)
            return await self._caught_up()
        # Only what changed is kept: at 10,000 models a whole parsed listing is ~20 MB.
        known = self._facts or {}
        listed: set[str] = set()
        changed: dict[str, TagEntry] = {}
        for tag in self.client.iter_tags(listing):
            listed.add(tag.name)
            if _differs(known.get(tag.name), tag) or tag.name in due:
                changed[tag.name] = tag
        gone = [name for name in known if name not in listed]
        del listing  # ~4 MB at 10,000 models, not to be held while the tree is rebuilt
        fresh, specs = await self._read(list(changed.values()))
        await self._specs_for_first_sight(fresh, gone, specs)
        async with self._write:
            if ticket < self._applied:  # a newer poll already applied a newer listing
                return await self._caught_up()
            self._applied = ticket
            if fresh or gone:
                self._facts_applied += 1
            await self.store.save_models(self.host, fresh, gone)
            assert self._facts is not None
            for name in gone:
                self._facts.pop(name, None)
                self._retries.pop(name, None)
            self._facts.update((f.name, f) for f in fresh)
            self._schedule_retries(fresh)
            await self._adopt_new_derivatives(specs)
            self._last_listing = fingerprint
        return await self.refresh()

    async def _caught_up(self) -> bool:
        """The poll that applied the listing may still be rebuilding the tree; a caller of
        poll reads the tree next (a rebuild, the new digest), so it waits for that."""
        if self._facts_shown == self._facts_applied:
            return False
        return await self.refresh()

    async def refresh(self) -> bool:
        """Recompute the snapshot from memory and the store (after a build, a track, …)."""
        async with self._refreshing:
            applied = self._facts_applied
            # Nothing the tree is made from has changed: the same facts, the same rows
            # building, a store no one wrote to. A warm `status` asked three times for one tree.
            inputs = (applied, frozenset(self._building), await self.store.generation())
            if inputs == self._built_from:
                self._facts_shown = applied
                return False
            known = await self.store.known_digests(self.host)
            snapshot = build_snapshot(
                list((self._facts or {}).values()),
                await self.store.links(self.host),
                backups=await self.backups(),
                upstream=await self.store.upstream(self.host),
                building=frozenset(self._building),
                failed=await self.store.failed_builds(self.host),
                known={n: d for n, (d, _) in known.items()},
                rolled_back=frozenset(n for n, (_, how) in known.items() if how == "rollback"),
            )
            self._facts_shown = applied
            self._built_from = inputs
            if snapshot == self.snapshot:
                return False
            self.snapshot = snapshot
            return True

    async def set_building(self, name: str, building: bool) -> None:
        """A rebuild says so, and the tree shows `building` (or leaves it) at once."""
        (self._building.add if building else self._building.discard)(name)
        await self.refresh()

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
            if BACKUP_MARK in name  # not parsing every name on every refresh
            and (origin := backup_origin(name)) is not None
            and origin in facts
        }
        return {**found, **await self.store.backups(self.host)}

    async def show(self, name: str) -> ModelSpec:
        """A model's spec, from the digest-keyed cache when the digest is known."""
        return (await self.shows([name]))[name]

    async def shows(self, names: Iterable[str]) -> dict[str, ModelSpec]:
        """Several models' specs: the cached ones in one query, the server asked for the rest."""
        facts = self._facts or {}
        wanted = list(dict.fromkeys(names))
        digests = {name: facts[name].digest for name in wanted if name in facts}
        cached = await self.store.cached_specs(set(digests.values())) if digests else {}
        found: dict[str, ModelSpec] = {}
        for name in wanted:
            digest = digests.get(name)
            if digest is not None and digest in cached:
                found[name] = cached[digest]
                continue
            found[name] = spec = await self.client.show(name)
            if digest is not None:
                await self.store.cache_specs({digest: spec})
                cached[digest] = spec
        return found

    async def version_with_weights(self, base: str, weights: str | None) -> str | None:
        """The newest version of ``base`` seen here whose weights blob is ``weights``."""
        facts = (self._facts or {}).get(base)
        if not weights or (facts is not None and facts.weights_blob == weights):
            return _version_with(facts, [], weights)  # today's version: no query
        return _version_with(facts, await self.store.digest_history(self.host, base), weights)

    # --- reading what changed ------------------------------------------------------------------

    async def _read(
        self, entries: Sequence[TagEntry]
    ) -> tuple[list[ModelFacts], dict[str, ModelSpec]]:
        """Facts for changed models, and their specs by digest; one failing show marks only
        its model. The specs share their long texts (a fleet's few licenses), so holding a
        cold start's is ~1 KB a model, and first sight need not read them back.

        Answers are stored as they come, a batch at a time, while the next shows are already
        in flight: a cold start never waits for a batch's slowest show before asking more.
        """
        cached = await self.store.cached_specs(t.digest for t in entries if not t.remote_host)
        stored = set(cached)
        facts: list[ModelFacts] = []
        at_hand: dict[str, ModelSpec] = {}
        unstored: dict[str, ModelSpec] = {}
        specs = self._specs(entries, cached)
        async with aclosing(specs):  # a failure stops the shows still in flight
            async for entry, spec, problem in specs:
                facts.append(_facts_from(entry, spec, problem))
                if spec is not None:
                    at_hand[entry.digest] = spec
                if spec is not None and entry.digest not in stored:
                    stored.add(entry.digest)
                    unstored[entry.digest] = spec
                    if len(unstored) >= BATCH:
                        await self.store.cache_specs(unstored)
                        unstored = {}
        await self.store.cache_specs(unstored)
        return facts, at_hand

    async def _specs(
        self, entries: Sequence[TagEntry], cached: dict[str, ModelSpec]
    ) -> AsyncGenerator[tuple[TagEntry, ModelSpec | None, str | None], None]:
        """Each entry's spec: the store's, else the folder's, else a show (in finish order)."""
        unread: list[TagEntry] = []
        for entry in entries:
            if entry.remote_host:  # a cloud model: nothing local to show
                yield entry, None, None
            elif entry.digest in cached:
                yield entry, cached[entry.digest], None
            else:
                unread.append(entry)
        to_show: list[TagEntry] = []
        for start in range(0, len(unread), BATCH):
            batch = unread[start : start + BATCH]
            on_disk = await self._local_spec(batch) if self._local_spec else {}
            for entry in batch:
                if entry.digest in on_disk:
                    yield entry, on_disk[entry.digest], None
                else:
                    to_show.append(entry)
        shows = in_flight(self._show, to_show, self._concurrency)
        async with aclosing(shows):
            async for entry, (spec, problem) in shows:
                yield entry, spec, problem

    async def _show(self, entry: TagEntry) -> tuple[ModelSpec | None, str | None]:
        self.requests["show"] += 1
        try:
            return await self.client.show(entry.name), None
        except Unreachable:
            raise  # the server is gone, not this model: the poll as a whole failed
        except OllamaError as exc:
            return None, str(exc).removeprefix("Ollama: ")

    def _due_retries(self) -> set[str]:
        now = self._clock()
        return {name for name, retry in self._retries.items() if retry.due <= now}

    def _schedule_retries(self, fresh: Sequence[ModelFacts]) -> None:
        """Back off per model: a cloud model that is offline is not asked every two seconds."""
        now = self._clock()
        for facts in fresh:
            previous = self._retries.pop(facts.name, None)
            if facts.problem:
                same = previous is not None and previous.digest == facts.digest
                wait = min(previous.wait * 2, RETRY_MAX) if same and previous else RETRY_FIRST
                self._retries[facts.name] = _Retry(facts.digest, now + wait, wait)

    # --- first sight ----------------------------------------------------------------------------

    async def _adopt_new_derivatives(self, at_hand: dict[str, ModelSpec]) -> None:
        """First sight needs no set-up: record each new derivative's recipe and build base."""
        assert self._facts is not None
        pairs = await self._new_pairs(self._facts)
        # A batch at a time: which base version each child was built from, then the specs not
        # at hand in one query.
        for start in range(0, len(pairs), BATCH):
            await self._first_recipes(pairs[start : start + BATCH], at_hand)

    async def _new_pairs(
        self, facts: dict[str, ModelFacts]
    ) -> list[tuple[ModelFacts, ModelFacts, Link]]:
        """Each derivative without a recipe yet, with its base and the inferred link."""
        recipes = await self.store.links(self.host)
        backups = await self.backups()
        upstream = await self.store.upstream(self.host)
        inferred = infer_links(list(facts.values()), {}, backups, upstream)
        return [
            (facts[child], facts[link.base], link)
            for child, link in inferred.items()
            if child not in recipes
            and child in facts
            and link.base in facts
            and not facts[child].problem
            and not facts[link.base].problem
        ]

    async def _specs_for_first_sight(
        self, fresh: Sequence[ModelFacts], gone: Sequence[str], at_hand: dict[str, ModelSpec]
    ) -> None:
        """Shows first sight needs that neither the poll nor the store has (only after an
        upgrade dropped the spec cache), asked before the write lock is taken, never under it."""
        facts = {n: f for n, f in (self._facts or {}).items() if n not in gone}
        facts.update((f.name, f) for f in fresh)
        wanted = {m.digest: m.name for c, b, _ in await self._new_pairs(facts) for m in (c, b)}
        missing = set(wanted) - at_hand.keys()
        missing -= (cached := await self.store.cached_specs(missing)).keys()
        at_hand.update(cached)
        for digest in missing:
            at_hand[digest] = await self.show(wanted[digest])

    async def _first_recipes(
        self, pairs: list[tuple[ModelFacts, ModelFacts, Link]], at_hand: dict[str, ModelSpec]
    ) -> None:
        # The histories of the bases whose weights moved on, in one query.
        moved = {b.name for c, b, _ in pairs if c.weights_blob and c.weights_blob != b.weights_blob}
        histories = await self.store.digest_histories(self.host, moved)
        built_from = {
            child.name: _version_with(base, histories.get(base.name, []), child.weights_blob)
            for child, base, _ in pairs
        }
        wanted = {d for c, b, _ in pairs for d in (c.digest, b.digest, built_from[c.name]) if d}
        specs = {d: at_hand[d] for d in wanted if d in at_hand}
        specs.update(await self.store.cached_specs(wanted - specs.keys()))
        new: list[StoredRecipe] = []
        for child, base, link in pairs:
            if child.digest not in specs or base.digest not in specs:
                continue  # changed since the shows above: seen at the next poll
            origin = built_from[child.name]
            if origin not in specs:  # never seen that base version: diff against today's
                origin = None
            recipe = derive_recipe(specs[child.digest], specs[origin or base.digest], base.name)
            new.append(
                StoredRecipe(
                    Link(child.name, base.name, origin, link.source, guessed=origin is None),
                    recipe.to_modelfile(),
                )
            )
        await self.store.save_recipes(self.host, new)


def _version_with(
    base: ModelFacts | None, history: list[tuple[str, str | None]], weights: str | None
) -> str | None:
    """Which version of a base (today's, else the newest in its history) had ``weights``."""
    if not weights:
        return None
    if base is not None and base.weights_blob == weights:
        return base.digest
    return next((digest for digest, blob in reversed(history) if blob == weights), None)


def _differs(known: ModelFacts | None, tag: TagEntry) -> bool:
    return known is None or known.digest != tag.digest or known.modified_at != tag.modified_at


def _facts_from(tag: TagEntry, spec: ModelSpec | None, problem: str | None) -> ModelFacts:
    return ModelFacts(
        name=tag.name,
        digest=tag.digest,
        size=tag.size,
        modified_at=tag.modified_at,
        parent_model=shared(tag.parent_model or (spec.parent_model if spec else "")),
        weights_blob=shared(spec.weights) if spec and spec.weights else None,
        quantization=shared((spec.quantization if spec else "") or tag.quantization_level),
        shape=shared(spec.shape if spec else ""),
        remote_host=tag.remote_host,
        problem=problem,
    )
