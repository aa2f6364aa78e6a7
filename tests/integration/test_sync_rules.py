"""The Syncer's rules that only show over several polls, restarts or adoptions: what is kept
of each model, when a model Ollama cannot show is asked again, which specs are asked for once
and kept, which models first sight records a recipe for, which version of a base a model is
taken to be made from, and what stays a backup.

Every test talks HTTP to the stand-in server; backoff time is the Syncer's own clock.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import pytest

from ollama_lineage.config import Settings
from ollama_lineage.core.lineage import Kind
from ollama_lineage.core.states import State
from ollama_lineage.fake_ollama import FakeOllama
from ollama_lineage.ollama.client import OllamaClient
from ollama_lineage.services.session import Session, open_session
from ollama_lineage.services.store import Store
from ollama_lineage.services.sync import BATCH, Syncer
from tests.stand_in_http import Server

CHILD, BASE = "qwq:latest_20K", "qwq:latest"
HOST = "rules:1"
HANG_GUARD = 30.0  # seconds
T = TypeVar("T")
NEW = "qwq:odd"  # a model made after the first poll, so its show is the only one of its poll


class Clock:
    """The Syncer's clock, moved by hand: backoff is counted in it, never slept."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def session_over(fake: FakeOllama, db: Path, clock: Clock) -> AsyncIterator[Session]:
    """A session of the stand-in over the store at ``db``, as a fresh start of the app makes
    one, with its Syncer on ``clock``."""
    opened = settings(fake, db)
    store = await Store.open(db)
    client = OllamaClient(fake.url, timeout=5.0)
    session = Session(opened, client, store, Syncer(client, store, HOST, clock=clock))
    try:
        yield session
    finally:
        await session.aclose()


@asynccontextmanager
async def syncer_over(fake: FakeOllama, db: Path, clock: Clock) -> AsyncIterator[Syncer]:
    async with session_over(fake, db, clock) as session:
        yield session.syncer


async def guarded(awaitable: Awaitable[T]) -> T:
    """A poll that runs away fails here, not in the CI's timeout."""
    return await asyncio.wait_for(awaitable, HANG_GUARD)


def settings(fake: FakeOllama, db: Path) -> Settings:
    return Settings(host=fake.url, db_path=db, registry=fake.registry_url)


async def asked_at(syncer: Syncer, fake: FakeOllama, clock: Clock, t: float) -> list[str]:
    """The requests one poll at time ``t`` sends."""
    clock.now = t
    fake.clear_requests()
    await syncer.poll()
    return [r.path for r in fake.requests]


def make_new_model(fake: FakeOllama) -> None:
    fake.create(NEW, from_=BASE, parameters={"num_ctx": 1234})


def state(syncer: Syncer, name: str) -> State:
    return syncer.snapshot.nodes[name].state


async def fails_then_waits_5_s(syncer: Syncer, fake: FakeOllama, clock: Clock, at: float) -> None:
    """NEW's show fails at ``at`` as a first failure of its digest would: asked again 5 s on,
    not before, and then read."""
    fake.fail("/api/show")
    assert await asked_at(syncer, fake, clock, at) == ["/api/tags", "/api/show"]
    assert state(syncer, NEW) is State.UNREADABLE
    assert await asked_at(syncer, fake, clock, at + 4.9) == ["/api/tags"]
    assert await asked_at(syncer, fake, clock, at + 5.0) == ["/api/tags", "/api/show"]
    assert state(syncer, NEW) is not State.UNREADABLE


async def unreadable_new_model(
    syncer: Syncer, fake: FakeOllama, error: str = "injected failure"
) -> None:
    """After a first poll, a new model whose first show fails: it reads unreadable."""
    await syncer.poll()
    make_new_model(fake)
    fake.fail("/api/show", error=error)
    await syncer.poll()
    assert state(syncer, NEW) is State.UNREADABLE


# --- what is kept of each model ----------------------------------------------------------------


@pytest.fixture
def traps() -> Iterator[FakeOllama]:
    """Pulled bases, derivatives, a cloud model, a publisher's FROM, a lost blob."""
    with FakeOllama(scenario="traps") as server:
        yield server


async def test_each_models_facts_are_its_listing_and_its_show_and_survive_a_restart(
    traps: FakeOllama, tmp_path: Path
) -> None:
    """The tree's facts come from the listing and the show: the weights a rebuild must not
    lose, the quantization, what the model says it was made from; a cloud model has no show.
    A restart reads the same facts back from the store."""
    db = tmp_path / "db"
    async with session_over(traps, db, Clock()) as session:
        await session.syncer.poll()
        facts = {n: node.facts for n, node in session.syncer.snapshot.nodes.items() if node.facts}
        listing = {t.name: t for t in await session.client.tags()}
        assert set(facts) == set(listing)
        for name, fact in facts.items():
            tag = listing[name]
            assert (fact.digest, fact.size, fact.modified_at) == (
                tag.digest,
                tag.size,
                tag.modified_at,
            )
            assert fact.remote_host == tag.remote_host
            if fact.remote_host:  # no show: the listing's word alone
                assert (fact.weights_blob, fact.shape) == (None, "")
                assert (fact.quantization, fact.parent_model) == (tag.quantization_level, "")
                continue
            if fact.problem:  # its show fails: what is known is the listing's
                assert (fact.weights_blob, fact.quantization) == (None, tag.quantization_level)
                continue
            spec = await session.client.show(name)
            assert (fact.weights_blob, fact.shape) == (spec.weights, spec.shape)
            assert fact.quantization == (spec.quantization or tag.quantization_level)
            assert fact.parent_model == (tag.parent_model or spec.parent_model)
        assert any(f.remote_host for f in facts.values())
        assert any(f.parent_model for f in facts.values())
    async with session_over(traps, db, Clock()) as session:
        loaded = (await session.syncer.load()).nodes
        assert {n: node.facts for n, node in loaded.items() if node.facts} == facts


# --- backoff of a model Ollama cannot show -----------------------------------------------------


async def test_an_unreadable_model_gives_ollamas_words_for_why(
    fake: FakeOllama, tmp_path: Path
) -> None:
    """The reason quotes Ollama's error as Ollama wrote it, without the client's prefix."""
    async with syncer_over(fake, tmp_path / "db", Clock()) as syncer:
        await unreadable_new_model(syncer, fake, error="model is busy")
        reason = syncer.snapshot.nodes[NEW].reason
        assert reason == "Ollama cannot show it (model is busy); retrying"


async def test_a_change_elsewhere_in_the_listing_does_not_ask_early_for_an_unreadable_model(
    fake: FakeOllama, tmp_path: Path
) -> None:
    """A new model in the listing is read (here from the spec cache, as a copy); the model
    whose show failed waits for its backoff, and the others are not read again."""
    clock = Clock()
    async with syncer_over(fake, tmp_path / "db", clock) as syncer:
        await unreadable_new_model(syncer, fake)
        fake.copy("phi4:latest", "phi4:copy")
        assert await asked_at(syncer, fake, clock, 1.0) == ["/api/tags"]
        assert "phi4:copy" in syncer.snapshot.nodes
        assert state(syncer, NEW) is State.UNREADABLE


async def test_a_model_unreadable_before_a_restart_keeps_its_backoff_doubling(
    fake: FakeOllama, tmp_path: Path
) -> None:
    """After a restart the stored problem is asked about at the first poll; failing again
    with the same digest, it waits 10 s, not 5 s as a model failing for the first time. A
    poll that asked again and learnt nothing new says the tree did not change."""
    db, clock = tmp_path / "db", Clock()
    async with syncer_over(fake, db, clock) as syncer:
        await unreadable_new_model(syncer, fake)
    clock.now = 100.0
    async with syncer_over(fake, db, clock) as syncer:
        await syncer.load()
        assert state(syncer, NEW) is State.UNREADABLE
        fake.fail("/api/show")
        fake.clear_requests()
        assert await syncer.poll() is False  # asked, failed the same way: nothing to redraw
        assert [r.path for r in fake.requests] == ["/api/tags", "/api/show"]
        assert await asked_at(syncer, fake, clock, 105.0) == ["/api/tags"]
        assert await asked_at(syncer, fake, clock, 110.0) == ["/api/tags", "/api/show"]
        assert state(syncer, NEW) is not State.UNREADABLE


async def test_a_model_deleted_while_unreadable_starts_afresh_when_it_comes_back(
    fake: FakeOllama, tmp_path: Path
) -> None:
    """A model that went away takes its backoff with it: made again (the same digest) and
    failing again, it is asked after 5 s, as any model failing for the first time."""
    clock = Clock()
    async with syncer_over(fake, tmp_path / "db", clock) as syncer:
        await unreadable_new_model(syncer, fake)
        digest = fake.digest(NEW)
        fake.delete(NEW)
        assert await asked_at(syncer, fake, clock, 1.0) == ["/api/tags"]
        assert NEW not in syncer.snapshot.nodes
        make_new_model(fake)
        assert fake.digest(NEW) == digest
        await fails_then_waits_5_s(syncer, fake, clock, at=2.0)


async def test_a_model_made_again_while_unreadable_starts_its_backoff_afresh(
    fake: FakeOllama, tmp_path: Path
) -> None:
    """The wait doubles only for the same digest failing again: a new version of the model
    (made again meanwhile) that fails too is asked after 5 s, not after twice the old wait."""
    clock = Clock()
    async with syncer_over(fake, tmp_path / "db", clock) as syncer:
        await unreadable_new_model(syncer, fake)  # t=0: asked again at 5
        fake.fail("/api/show")
        assert await asked_at(syncer, fake, clock, 5.0) == ["/api/tags", "/api/show"]  # next: 15
        fake.create(NEW, from_=BASE, parameters={"num_ctx": 999})
        await fails_then_waits_5_s(syncer, fake, clock, at=6.0)


# --- specs asked for once ----------------------------------------------------------------------


async def test_specs_asked_again_after_the_cache_was_dropped_are_asked_once_per_digest(
    fake: FakeOllama, tmp_path: Path
) -> None:
    """An upgrade that dropped the spec cache: a model and its copy (one digest) cost one show,
    both get the spec, and it is kept, so asking again costs nothing."""
    db = tmp_path / "db"
    fake.copy("phi4:latest", "phi4:copy")
    async with open_session(settings(fake, db)) as session:
        await session.syncer.poll()
        expected = await session.syncer.show("phi4:latest")
    with sqlite3.connect(db) as raw:
        raw.execute("DELETE FROM specs")
    async with open_session(settings(fake, db)) as session:
        await session.syncer.load()
        fake.clear_requests()
        specs = await session.syncer.shows(["phi4:latest", "phi4:copy"])
        assert specs == {"phi4:latest": expected, "phi4:copy": expected}
        assert [r.path for r in fake.requests] == ["/api/show"]
        assert await session.syncer.show("phi4:copy") == expected
        assert [r.path for r in fake.requests] == ["/api/show"]


async def test_a_copy_read_in_the_poll_its_twin_failed_in_gets_its_recipe(
    fake: FakeOllama, tmp_path: Path
) -> None:
    """A new model and its copy (one digest) are both shown; when one show fails, that model
    is unreadable, and the other's spec, read in the same poll, still records its recipe."""
    clock = Clock()
    async with syncer_over(fake, tmp_path / "db", clock) as syncer:
        await syncer.poll()
        make_new_model(fake)
        fake.copy(NEW, f"{NEW}-copy")
        fake.fail("/api/show")
        assert await syncer.poll() is True
        twins = {name: state(syncer, name) for name in (NEW, f"{NEW}-copy")}
        (broken,) = [n for n, s in twins.items() if s is State.UNREADABLE]
        (read,) = [n for n, s in twins.items() if s is not State.UNREADABLE]
        recipes = await syncer.store.recipes(HOST)
        assert broken not in recipes
        assert recipes[read].link.base == BASE
        assert twins[read] is State.FRESH


async def test_a_cold_start_over_more_models_than_one_batch_keeps_every_spec_and_recipe(
    tmp_path: Path,
) -> None:
    """Specs are stored, and first sight records recipes, a batch at a time: with more new
    digests and derivatives than two batches, the poll carries on past each batch, every
    spec is kept (the cache that spares a copy a show) and every derivative's recipe is
    recorded at once, not left to a later poll that a quiet server may never bring."""
    db = tmp_path / "db"
    with FakeOllama(scenario=f"fleet:{3 * BATCH}") as fake:
        digests = {fake.digest(name) for name in fake.model_names()}
        assert len(digests) > BATCH
        async with syncer_over(fake, db, Clock()) as syncer:
            assert await guarded(syncer.poll()) is True
            nodes = syncer.snapshot.nodes
            assert len(nodes) == len(fake.model_names())
            derivatives = {n for n, node in nodes.items() if node.kind is Kind.DERIVATIVE}
            assert len(derivatives) > 2 * BATCH
            assert set(await syncer.store.recipes(HOST)) == derivatives
        with sqlite3.connect(db) as raw:
            assert {d for (d,) in raw.execute("SELECT digest FROM specs")} >= digests


async def test_a_model_the_registry_confirmed_as_pulled_gets_no_recipe_at_first_sight(
    fake: FakeOllama, tmp_path: Path
) -> None:
    """A pull keeps its publisher's FROM as parent_model. When the registry has said the
    model is its own (same digest there) before first sight reads it (its show failed at
    first), first sight records no recipe: it is pulled, not built here."""
    clock = Clock()
    pirate = "someuser/llama-pirate:latest"
    async with session_over(fake, tmp_path / "db", clock) as session:
        await session.syncer.poll()
        fake.publish(pirate, publisher_from="llama3.2:latest", weights_of="llama3.2:latest")
        fake.pull(pirate)
        fake.fail("/api/show")
        await session.syncer.poll()
        assert state(session.syncer, pirate) is State.UNREADABLE
        answers = await session.upstream.check([pirate])
        assert answers[pirate].digest == fake.digest(pirate)
        assert await asked_at(session.syncer, fake, clock, 5.0) == ["/api/tags", "/api/show"]
        assert session.syncer.snapshot.nodes[pirate].kind is Kind.BASE
        assert pirate not in await session.store.recipes(HOST)


# --- backups -----------------------------------------------------------------------------------


async def test_a_backup_made_here_stays_a_backup_after_its_original_is_deleted(
    fake: FakeOllama, tmp_path: Path
) -> None:
    """Its name alone makes a backup only of a model still listed; one this app made is
    recorded, so it stays a backup (not a derivative to rebuild) when its original is gone."""
    async with open_session(settings(fake, tmp_path / "db")) as session:
        await session.syncer.poll()
        fake.pull(BASE)
        await session.syncer.poll()
        await session.rebuilder.run(await session.rebuilder.plan(CHILD))
        (backup,) = await session.store.backups(session.syncer.host)
        fake.delete(CHILD)
        await session.syncer.poll()
        node = session.syncer.snapshot.nodes[backup]
        assert node.state is State.BACKUP
        assert node.reason.startswith(f"backup of {CHILD},")


async def test_a_backup_made_with_another_database_gets_no_recipe_at_first_sight(
    fake: FakeOllama, tmp_path: Path
) -> None:
    """A copy named by the backup rule is a backup of its original, not a derivative of the
    original's base: first sight records no recipe for it, so it is never rebuilt."""
    backup = f"{CHILD}.bak-20250101-000000"
    async with open_session(settings(fake, tmp_path / "db")) as session:
        await session.syncer.poll()
        fake.copy(CHILD, backup)
        await session.syncer.poll()
        assert session.syncer.snapshot.nodes[backup].state is State.BACKUP
        assert backup not in await session.store.recipes(session.syncer.host)


async def test_a_syncer_not_loaded_yet_has_an_empty_tree(fake: FakeOllama, tmp_path: Path) -> None:
    """Several servers' trees are drawn as one, each as its own Syncer has it: a server not
    loaded yet is an empty tree, and a name is taken as typed."""
    async with syncer_over(fake, tmp_path / "db", Clock()) as syncer:
        assert syncer.snapshot.nodes == {}
        assert syncer.resolve("QwQ") == "QwQ:latest"


# --- which base version a model was made from --------------------------------------------------


async def test_adopting_a_model_finds_the_older_base_version_with_its_weights(
    server: Server, tmp_path: Path
) -> None:
    """A standalone model with the weights of a base version seen before (the base moved on
    since) is adopted as made from that version: stale, not refused as foreign weights."""
    server.base("base:latest", seed=1)
    server.base("mine:latest", seed=1)
    async with open_session(settings(server.fake, tmp_path / "db")) as session:
        await session.syncer.poll()
        old = server.fake.digest("base:latest")
        server.base("base:latest", seed=2)
        await session.syncer.poll()
        stored = await session.rebuilder.track("mine:latest", "base:latest")
        assert (stored.link.base_digest, stored.link.guessed) == (old, False)
        assert state(session.syncer, "mine:latest") is State.STALE


async def test_adopting_under_a_base_back_on_an_older_version_takes_todays_version(
    server: Server, tmp_path: Path
) -> None:
    """The base went to a version with the same weights (a new license), then back: the model
    was made from the base as it is today, which is fresh, not from the version in between."""
    server.base("base:latest", seed=1)
    server.base("mine:latest", seed=1)
    async with open_session(settings(server.fake, tmp_path / "db")) as session:
        await session.syncer.poll()
        today = server.fake.digest("base:latest")
        server.base("base:latest", seed=1, license="NEW LICENSE")  # same blob, new digest
        await session.syncer.poll()
        assert server.fake.digest("base:latest") != today
        server.base("base:latest", seed=1)
        assert server.fake.digest("base:latest") == today
        await session.syncer.poll()
        stored = await session.rebuilder.track("mine:latest", "base:latest")
        assert (stored.link.base_digest, stored.link.guessed) == (today, False)
        assert state(session.syncer, "mine:latest") is State.FRESH
