"""The rebuilder's smaller rules, each as a user meets it: a roll-back reads `building` and
keeps the server's words, a backup identical to a live model never counts as kept, a batch of
shows that fails still plans the rest, an adoption says exactly why it is refused and diffs
against the base version the child was made from."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ollama_lineage.config import Settings
from ollama_lineage.core.lineage import Link
from ollama_lineage.core.names import backup_name
from ollama_lineage.core.states import State
from ollama_lineage.fake_ollama import FakeOllama
from ollama_lineage.ollama.client import OllamaError
from ollama_lineage.services.lock import holder_of, lock_path
from ollama_lineage.services.rebuild import Plan, RebuildError, Refused
from ollama_lineage.services.session import Session, open_session
from ollama_lineage.services.store import Event, StoredRecipe
from tests.stand_in_http import Server

CHILD, BASE = "qwq:latest_20K", "qwq:latest"
WHEN = datetime(2025, 1, 2, 3, 4, 5)


def settings(fake: FakeOllama, tmp_path: Path, **extra: Any) -> Settings:
    return Settings(host=fake.url, db_path=tmp_path / "db", registry=fake.registry_url, **extra)


@pytest.fixture
async def session(fake: FakeOllama, tmp_path: Path) -> AsyncIterator[Session]:
    """The demo after first sight, then qwq:latest moved on: CHILD's rebuild makes a new model."""
    async with open_session(settings(fake, tmp_path)) as opened:
        await opened.syncer.poll()
        await base_moves(fake, opened)
        yield opened


@pytest.fixture
async def lab(server: Server, tmp_path: Path) -> AsyncIterator[Session]:
    """Nothing yet: each test makes its models as a user does (real GGUF bytes, a create)."""
    async with open_session(settings(server.fake, tmp_path)) as opened:
        yield opened


async def base_moves(fake: FakeOllama, session: Session) -> None:
    fake.publish(BASE)
    fake.pull(BASE)
    await session.syncer.poll()
    assert session.syncer.snapshot.nodes[CHILD].state is State.STALE


def state(session: Session, name: str) -> State:
    return session.syncer.snapshot.nodes[name].state


async def latest(session: Session, name: str) -> Event:
    """The newest History row of ``name``."""
    return (await session.store.history(session.settings.host_key, name))[0]


async def link_of(session: Session, name: str) -> Link:
    return (await session.store.recipes(session.settings.host_key))[name].link


async def while_served(fake: FakeOllama, route: str, work: Awaitable[object]) -> asyncio.Task[Any]:
    """``work`` started, once the server is answering ``route`` (slow it first)."""
    fake.clear_requests()
    task = asyncio.ensure_future(work)
    while not any(r.path == route for r in fake.requests):
        assert not task.done(), task
        await asyncio.sleep(0.01)
    return task


def cancel_once_recorded(session: Session, monkeypatch: pytest.MonkeyPatch, status: str) -> None:
    """Ctrl-C arrives just as History has recorded ``status``: the write is done, the
    interruption is raised where it returns (a fault no server can make)."""
    store = session.syncer.store
    real = store.finish_event

    async def finish_event(event_id: int, done: str, **fields: Any) -> None:
        await real(event_id, done, **fields)
        if done == status:
            monkeypatch.setattr(store, "finish_event", real)
            raise asyncio.CancelledError

    monkeypatch.setattr(store, "finish_event", finish_event)


# --- roll-back --------------------------------------------------------------------------------


async def test_a_rollback_reads_building_while_its_copy_runs_and_a_refusal_keeps_the_servers_words(
    fake: FakeOllama, session: Session
) -> None:
    """The tree says `building` from the start of the copy (a poll then must not call the
    model drifted), and a copy the server refuses is recorded once, in the server's words,
    not again as the app's own error around them."""
    await session.rebuilder.run(await session.rebuilder.plan(CHILD))
    fake.set_latency(0.5, "/api/copy")
    rollback = await while_served(fake, "/api/copy", session.rebuilder.rollback(CHILD))
    assert state(session, CHILD) is State.BUILDING
    await rollback
    assert state(session, CHILD) is State.ROLLED_BACK
    fake.set_latency(0.0, "/api/copy")

    fake.fail("/api/copy", status=500, error="disk full")
    with pytest.raises(RebuildError, match=f"^rollback of {CHILD} failed: Ollama: disk full$"):
        await session.rebuilder.rollback(CHILD)
    event = await latest(session, CHILD)
    assert (event.kind, event.status, event.error) == ("rollback", "failed", "Ollama: disk full")
    assert state(session, CHILD) is not State.BUILDING


async def test_ctrl_c_just_after_history_records_a_finished_change_does_not_rewrite_it(
    fake: FakeOllama, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebuild or roll-back History already records as `success` did happen: an
    interruption arriving as that write returns leaves it `success`, not `interrupted`."""
    plan = await session.rebuilder.plan(CHILD)
    cancel_once_recorded(session, monkeypatch, "success")
    with pytest.raises(asyncio.CancelledError):
        await session.rebuilder.run(plan)
    build = await latest(session, CHILD)
    assert (build.kind, build.status, build.error) == ("build", "success", None)
    assert fake.digest(CHILD) == build.digest_after != build.digest_before  # not put back

    cancel_once_recorded(session, monkeypatch, "success")
    with pytest.raises(asyncio.CancelledError):
        await session.rebuilder.rollback(CHILD)
    rollback = await latest(session, CHILD)
    assert (rollback.kind, rollback.status, rollback.error) == ("rollback", "success", None)
    assert fake.digest(CHILD) == rollback.digest_after == build.digest_before
    assert state(session, CHILD) is State.ROLLED_BACK


async def test_a_rollback_leaves_a_recipe_for_another_base_as_it_is(
    fake: FakeOllama, session: Session
) -> None:
    """The roll-back records the backup's base version only when the backup was built on the
    base the recipe names: a recipe moved to another base since keeps its own link."""
    await session.rebuilder.run(await session.rebuilder.plan(CHILD))
    text = "FROM llama3.2:latest\nPARAMETER num_ctx 4096\n"
    await session.rebuilder.track(CHILD, "llama3.2:latest", text, force=True)
    moved = await link_of(session, CHILD)
    assert moved.base == "llama3.2:latest"
    await session.rebuilder.rollback(CHILD)
    assert await link_of(session, CHILD) == moved


async def test_a_rollback_after_a_failed_rebuild_records_the_lineage_as_its_own(
    fake: FakeOllama, session: Session
) -> None:
    """A link known only from Ollama's `parent_model` is unproven until the registry says the
    model is local; rolling back to a backup this app made records it, so it is proven."""
    assert session.syncer.snapshot.nodes[CHILD].unproven
    plan = await session.rebuilder.plan(CHILD)
    fake.fail("/api/show", nth=1, status=500, error="injected: show failed")
    with pytest.raises(RebuildError, match="could not be verified"):
        await session.rebuilder.run(plan)  # the old model is back; its backup stays
    await session.rebuilder.rollback(CHILD)
    assert not session.syncer.snapshot.nodes[CHILD].unproven


# --- rebuild ----------------------------------------------------------------------------------


async def test_a_plan_shows_the_model_now_and_after_with_their_weights(
    fake: FakeOllama, session: Session
) -> None:
    """The confirm dialog's two sides: the same recipe from the same base, only the weights
    line differs; the base is current, so no note says to rebuild it first."""
    before = (await session.syncer.show(CHILD)).weights
    after = (await session.syncer.show(BASE)).weights
    assert before and after and before != after
    plan = await session.rebuilder.plan(CHILD)
    now, then = plan.current_text.splitlines(), plan.after_text.splitlines()
    assert now[:2] == [f"# weights {before.split(':')[-1][:12]}", f"FROM {BASE}"]
    assert then[:2] == [f"# weights {after.split(':')[-1][:12]}", f"FROM {BASE}"]
    assert now[2:] == then[2:] and "PARAMETER num_ctx 20000" in now
    assert plan.stale_base is None


async def test_a_backup_name_taken_steps_to_the_next_second(
    fake: FakeOllama, session: Session
) -> None:
    """Two rebuilds in one second must not share a backup: the name at the plan's time is
    taken, so the backup is named one second later, and sorts after it."""
    fake.copy(CHILD, backup_name(CHILD, WHEN))
    await session.syncer.poll()
    plan = await session.rebuilder.plan(CHILD, now=WHEN)
    assert plan.backup == backup_name(CHILD, WHEN + timedelta(seconds=1))


async def test_a_verification_that_finds_several_differences_names_each(
    fake: FakeOllama, session: Session
) -> None:
    """The user reads every field the server made otherwise than planned, each apart, in
    the error (History keeps the same words)."""
    plan = await session.rebuilder.plan(CHILD)
    promised = replace(plan, expected=replace(plan.expected, system="Be brief.", renderer="x"))
    with pytest.raises(RebuildError) as failed:
        await session.rebuilder.run(promised)
    said = "system: expected 'Be brief.', got None; renderer: expected 'x', got None"
    assert f"did not produce what the plan said ({said})" in str(failed.value)


async def test_a_model_deleted_after_its_plan_fails_its_rebuild_in_history(
    fake: FakeOllama, session: Session
) -> None:
    """Someone ran `ollama rm` while the confirm dialog was open: the backup copy fails, the
    user reads why, and History says so (nothing crashes on a model without facts)."""
    plan = await session.rebuilder.plan(CHILD)
    fake.delete(CHILD)
    await session.syncer.poll()
    with pytest.raises(RebuildError, match=f"^rebuild of {CHILD} failed, old model kept: "):
        await session.rebuilder.run(plan)
    event = await latest(session, CHILD)
    assert (event.kind, event.status) == ("build", "failed")


async def test_a_create_that_lost_the_model_and_a_put_back_that_fails_say_where_it_is(
    fake: FakeOllama, session: Session
) -> None:
    """The disk filled during the create, so Ollama lost the model's manifest, and the
    put-back fails too: the user is told to roll back, and History's log says the same."""
    fake.create(BASE, BASE, system="Be brief.")  # the child's manifest gets a layer more
    await session.syncer.poll()
    plan = await session.rebuilder.plan(CHILD)
    fake.set_disk_free(0, on_create=True)
    fake.fail("/api/copy", nth=2, status=500, error="injected: copy failed")  # the put-back
    with pytest.raises(RebuildError) as failed:
        await session.rebuilder.run(plan)
    said = f"and restoring it failed (Ollama: injected: copy failed): roll back from {plan.backup}"
    assert said in str(failed.value)
    event = await latest(session, CHILD)
    assert (event.kind, event.status) == ("build", "failed")
    put_back = f"restoring {CHILD} from {plan.backup} failed: Ollama: injected: copy failed"
    assert put_back in event.log.splitlines()


async def test_an_interrupted_rebuild_is_recorded_even_when_the_server_stops_listing(
    fake: FakeOllama, session: Session
) -> None:
    """Ctrl-C mid-create puts the backup back; the listing after it fails, yet History says
    `interrupted`, not `running`, and the interruption is what the caller gets."""
    before = fake.digest(CHILD)
    plan = await session.rebuilder.plan(CHILD)
    fake.set_latency(1.0, "/api/create")
    task = await while_served(fake, "/api/create", session.rebuilder.run(plan))
    fake.fail("/api/tags", status=500, error="injected: tags failed")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    event = await latest(session, CHILD)
    assert (event.kind, event.status, event.error) == ("build", "interrupted", None)
    assert event.finished_at is not None
    assert fake.digest(CHILD) == before


async def test_a_backup_identical_to_a_live_model_is_pruned_and_never_counts(
    fake: FakeOllama, session: Session
) -> None:
    """Keep one backup: the newest is the same as a copy the user made of the model, so it
    holds nothing else and goes; the older one, the only copy of its version, stays."""
    first = await session.rebuilder.plan(CHILD, now=WHEN)
    await session.rebuilder.run(first)
    fake.copy(CHILD, "keep:latest")
    await base_moves(fake, session)
    second = await session.rebuilder.plan(CHILD, now=WHEN + timedelta(minutes=1))
    await session.rebuilder.run(second)
    assert fake.digest(first.backup) is not None
    assert fake.digest(second.backup) is None
    assert list(await session.store.backups(session.settings.host_key)) == [first.backup]


async def test_of_two_identical_backups_only_the_newer_is_kept(
    fake: FakeOllama, tmp_path: Path
) -> None:
    """Keep two: a rebuild after a roll-back backs up the same version again; the older
    backup holds nothing the newer does not, so it goes rather than count as a second."""
    async with open_session(settings(fake, tmp_path, keep_backups=2)) as s:
        await s.syncer.poll()
        await base_moves(fake, s)
        old = fake.digest(CHILD)
        first = await s.rebuilder.plan(CHILD, now=WHEN)
        await s.rebuilder.run(first)
        await s.rebuilder.rollback(CHILD)
        second = await s.rebuilder.plan(CHILD, now=WHEN + timedelta(minutes=1))
        await s.rebuilder.run(second)
        assert fake.digest(second.backup) == old
        assert fake.digest(first.backup) is None
        assert list(await s.store.backups(s.settings.host_key)) == [second.backup]


# --- plans and their shows --------------------------------------------------------------------


async def test_a_show_that_fails_in_a_batch_costs_only_its_own_plans(
    fake: FakeOllama, session: Session
) -> None:
    """Plans for several models ask the shows they lack in one go; when that fails each is
    asked alone, so only a model whose own show (or its base's) fails has no plan, and its
    plan says the server's words."""
    mario = "llama3.2:latest-mario"
    fake.create(mario, "llama3.2:latest", system="It's-a me.")  # a digest never shown here
    fake.fail("/api/show", status=500, error="injected: show failed")
    await session.syncer.poll()
    fake.fail("/api/show", nth=1, status=500, error="injected: show failed")  # in the batch
    fake.fail("/api/show", nth=2, status=500, error="injected: show failed")  # alone
    plans = await session.rebuilder.plans([mario, CHILD])
    refused, plan = plans[mario], plans[CHILD]
    assert isinstance(refused, Exception) and str(refused) == "Ollama: injected: show failed"
    assert isinstance(plan, Plan) and plan.base == BASE

    # Now the base's show fails: its child has no plan, with the same words.
    fake.fail("/api/show", status=500, error="injected: show failed")
    await base_moves(fake, session)
    fake.fail("/api/show", nth=1, status=500, error="injected: base show failed")
    fake.fail("/api/show", nth=2, status=500, error="injected: base show failed")
    with pytest.raises(OllamaError) as failed:  # the server's error, as is
        await session.rebuilder.plan(CHILD)
    assert str(failed.value) == "Ollama: injected: base show failed"


async def test_a_stored_recipe_that_does_not_parse_is_refused_with_why(
    fake: FakeOllama, session: Session
) -> None:
    """A recipe stored by another version of the app that this one cannot read."""
    host = session.settings.host_key
    link = await link_of(session, CHILD)
    await session.store.save_recipes(host, [StoredRecipe(link, f"FROM {BASE}\nPARAMETER lots 1\n")])
    with pytest.raises(Refused) as refused:
        await session.rebuilder.plan(CHILD)
    said = str(refused.value)
    assert said.startswith(f"the stored recipe of {CHILD} does not parse: ")
    assert "unknown parameter 'lots'" in said


async def test_pulling_a_model_the_server_never_had(fake_empty: FakeOllama, tmp_path: Path) -> None:
    async with open_session(settings(fake_empty, tmp_path)) as s:
        await s.syncer.poll()
        assert "qwq:latest" not in s.syncer.snapshot.nodes
        assert await s.rebuilder.pull("qwq:latest") == fake_empty.digest("qwq:latest")
        event = await latest(s, "qwq:latest")
        assert (event.kind, event.status, event.digest_before) == ("pull", "success", None)


# --- adopting (track) -------------------------------------------------------------------------


async def test_each_refused_adoption_says_exactly_why(fake: FakeOllama, session: Session) -> None:
    with pytest.raises(Refused) as refused:
        await session.rebuilder.track("nosuch:latest", BASE)
    assert str(refused.value) == "nosuch:latest is not on the server"
    with pytest.raises(Refused) as refused:
        await session.rebuilder.track(CHILD, "nosuch:latest")
    assert str(refused.value) == "nosuch:latest is not on the server"
    with pytest.raises(Refused) as refused:
        await session.rebuilder.track(CHILD, BASE, "FROM llama3.2:latest\n")
    assert str(refused.value) == f"the Modelfile says FROM llama3.2:latest, not {BASE}"


async def test_a_model_of_another_architecture_and_quantization_is_foreign(
    fake: FakeOllama, session: Session
) -> None:
    """Other tensor shapes are another model, whatever its quantization: refused, and adopted
    only when forced; a Modelfile the user wrote is their lineage, not a guess."""
    other = "mistral:7b-long"  # Q4_0 and its own shapes; qwq:latest is Q4_K_M
    with pytest.raises(RebuildError, match="never had the weights"):
        await session.rebuilder.track(other, BASE)
    text = f"FROM {BASE}\nPARAMETER num_ctx 4096\n"
    stored = await session.rebuilder.track(other, BASE, text, force=True)
    assert (stored.link.base_digest, stored.link.guessed) == (None, False)
    assert not session.syncer.snapshot.nodes[other].guessed


async def test_an_adopted_copy_of_the_base_is_lineage_for_sure(
    server: Server, lab: Session
) -> None:
    """A model with the very weights of the base, adopted: not a guess, recorded by this app
    (so not waiting on the registry), rebuilt in bulk once the base moves; History's adopt
    has no diff, as there was no recipe before."""
    server.base("base:latest", seed=1)
    server.base("mine:latest", seed=1)
    await lab.syncer.poll()
    stored = await lab.rebuilder.track("mine:latest", "base:latest")
    assert stored.link.guessed is False
    server.base("base:latest", seed=2)
    await lab.syncer.poll()
    node = lab.syncer.snapshot.nodes["mine:latest"]
    assert (node.state, node.guessed, node.unproven) == (State.STALE, False, False)
    assert lab.syncer.snapshot.stale_in_order() == ["mine:latest"]
    adopt = await latest(lab, "mine:latest")
    assert (adopt.kind, adopt.status, adopt.log) == ("adopt", "success", "")


async def test_adopting_after_the_base_moved_diffs_against_the_version_it_was_made_from(
    server: Server, lab: Session
) -> None:
    """The base moved on to new weights and another template: the recipe adopted holds only
    what the user put in the child, not the old base's template restated as the child's."""
    server.base("base:latest", seed=1)
    server.create(model="child:latest", parameters={"num_ctx": 20000}, **{"from": "base:latest"})
    await lab.syncer.poll()
    server.base("base:latest", seed=2, template="<|user|>{{ .Prompt }}<|end|>")
    await lab.syncer.poll()
    stored = await lab.rebuilder.track("child:latest", "base:latest")
    assert stored.text == "FROM base:latest\nPARAMETER num_ctx 20000\n"


async def test_a_guess_adopted_once_the_base_is_back_on_the_childs_weights_is_settled(
    server: Server, lab: Session
) -> None:
    """First seen after the base moved, the link is a guess; with the base back on the very
    weights the child has, adopting it records that version for sure."""
    server.base("base:latest", seed=1)
    server.create(model="child:latest", parameters={"num_ctx": 20000}, **{"from": "base:latest"})
    server.base("base:latest", seed=2)  # before the app ever looked
    await lab.syncer.poll()
    assert lab.syncer.snapshot.nodes["child:latest"].guessed
    server.base("base:latest", seed=1)
    await lab.syncer.poll()
    stored = await lab.rebuilder.track("child:latest", "base:latest")
    assert stored.link.guessed is False
    assert not lab.syncer.snapshot.nodes["child:latest"].guessed


async def test_a_quantized_child_is_adopted_as_a_guess_under_the_track_lock(
    server: Server, lab: Session, tmp_path: Path
) -> None:
    """Re-quantized weights only share the base's shapes: which base version they came from
    is a guess, so the child is not rebuilt in bulk unasked; a second writer meanwhile reads
    that a track holds the server."""
    server.base("tiny16:latest", seed=1, f16=True)
    server.create(model="tiny16:q8", quantize="q8_0", **{"from": "tiny16:latest"})
    await lab.syncer.poll()
    server.fake.set_latency(0.3, "/api/show")
    task = await while_served(
        server.fake, "/api/show", lab.rebuilder.track("tiny16:q8", "tiny16:latest")
    )
    holder = holder_of(lock_path(tmp_path / "db", lab.syncer.host))
    stored = await task
    assert holder is not None and holder.command == "track tiny16:q8 --from tiny16:latest"
    assert stored.link.guessed is True
    assert lab.syncer.snapshot.nodes["tiny16:q8"].guessed
