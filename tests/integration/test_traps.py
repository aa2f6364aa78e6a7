"""Each trap of real servers, end to end: first sight, staleness, and a rebuild that loses nothing.

Models are made on the stand-in the way a user makes them (real GGUF bytes, `/api/create`), the
base is re-created from new weights, and the rebuilt child is shown and compared field by field
with the original: only the weights may change.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import pytest

from ollama_lineage.config import Settings
from ollama_lineage.core.lineage import Kind, Upstream
from ollama_lineage.core.spec import ModelSpec
from ollama_lineage.core.states import State
from ollama_lineage.fake_ollama import FakeOllama
from ollama_lineage.services.rebuild import Plan, RebuildError
from ollama_lineage.services.session import Session, open_session
from ollama_lineage.services.store import Store
from tests.integration.held_tree import HeldTreeRead
from tests.stand_in_http import Server


@pytest.fixture
async def session(server: Server, tmp_path: Path) -> AsyncIterator[Session]:
    settings = Settings(
        host=server.fake.url, db_path=tmp_path / "db", registry=server.fake.registry_url
    )
    async with open_session(settings) as opened:
        yield opened


def user_content(spec: ModelSpec) -> dict[str, Any]:
    """Everything a user put in a model: all of the spec but the weights it runs on."""
    skip = {"weights", "parent_model", "shape"}
    return {f.name: getattr(spec, f.name) for f in fields(spec) if f.name not in skip}


TRAPS: dict[str, Callable[[Server], dict[str, Any]]] = {
    "parameters": lambda s: {"parameters": {"num_ctx": 20000, "num_thread": 16}},
    "adapter": lambda s: {"adapters": {"lora.gguf": s.lora()}, "parameters": {"num_ctx": 4096}},
    "own license": lambda s: {"license": "CHILD ADDENDUM"},
    "template system messages": lambda s: {
        "template": "[INST] {{ .Prompt }} [/INST]",
        "system": "Answer in one line.\nNever apologise.",
        "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
    },
    "renderer and parser": lambda s: {"renderer": "qwen3-coder", "parser": "qwen3-coder"},
}


@pytest.mark.parametrize("trap", TRAPS)
async def test_a_rebuild_keeps_everything_the_user_put_in(
    server: Server, session: Session, trap: str
) -> None:
    server.base("base:latest", seed=1)
    server.create(model="child:latest", **{"from": "base:latest"}, **TRAPS[trap](server))
    await session.syncer.poll()
    child = session.syncer.snapshot.nodes["child:latest"]
    assert (child.kind, child.state) == (Kind.DERIVATIVE, State.FRESH)
    original = await session.client.show("child:latest")

    server.base("base:latest", seed=2)
    await session.syncer.poll()
    assert session.syncer.snapshot.nodes["child:latest"].state is State.STALE

    plan = await session.rebuilder.plan("child:latest")
    await session.rebuilder.run(plan)
    rebuilt = await session.client.show("child:latest")
    assert user_content(rebuilt) == user_content(original)
    assert rebuilt.weights == (await session.client.show("base:latest")).weights
    # mypy keeps the narrowing to STALE above across run(), which makes a new snapshot.
    assert session.syncer.snapshot.nodes["child:latest"].state is State.FRESH  # type: ignore[comparison-overlap]


async def test_a_quantized_child_is_rebuilt_quantized(server: Server, session: Session) -> None:
    """`ollama create -q` leaves no `from`: adopted by hand, it must stay quantized after."""
    server.base("tiny16:latest", seed=1, f16=True)
    server.create(model="tiny16:q8", quantize="q8_0", **{"from": "tiny16:latest"})
    await session.syncer.poll()
    await session.rebuilder.track("tiny16:q8", "tiny16:latest")
    assert session.syncer.snapshot.nodes["tiny16:q8"].state is State.FRESH
    original = await session.client.show("tiny16:q8")

    server.base("tiny16:latest", seed=2, f16=True)
    await session.syncer.poll()
    # mypy keeps the narrowing to FRESH above across poll(), which makes a new snapshot.
    assert session.syncer.snapshot.nodes["tiny16:q8"].state is State.STALE  # type: ignore[comparison-overlap]
    plan = await session.rebuilder.plan("tiny16:q8")
    assert plan.request["quantize"] == original.quantization
    await session.rebuilder.run(plan)
    rebuilt = await session.client.show("tiny16:q8")
    assert rebuilt.quantization == original.quantization
    assert rebuilt.weights not in (
        original.weights,
        (await session.client.show("tiny16:latest")).weights,
    )


async def test_a_requantized_rebuild_that_kept_the_old_weights_is_put_back(
    server: Server, session: Session
) -> None:
    """Re-quantized weights are a blob nobody can predict, so after the base moved they must
    at least not be the weights being replaced. A server whose create kept them (here its
    show says so) fails verification, and the old model is back under its name."""
    server.base("tiny16:latest", seed=1, f16=True)
    server.create(model="tiny16:q8", quantize="q8_0", **{"from": "tiny16:latest"})
    await session.syncer.poll()
    await session.rebuilder.track("tiny16:q8", "tiny16:latest")
    before, old = server.fake.digest("tiny16:q8"), (await session.client.show("tiny16:q8")).weights
    server.base("tiny16:latest", seed=2, f16=True)
    await session.syncer.poll()
    plan = await session.rebuilder.plan("tiny16:q8")
    assert old and plan.base_moved and plan.expected.weights is None
    old_blob = "sha256-" + old.rsplit(":", 1)[-1].rsplit("-", 1)[-1]

    def keeps_old_weights(route: str, body: dict[str, Any]) -> dict[str, Any]:
        created = any(r.path == "/api/create" for r in server.fake.requests)
        quantized = body.get("details", {}).get("quantization_level") == "Q8_0"
        found = re.search(r"^FROM .*(sha256-[0-9a-f]{64})", body.get("modelfile", ""), re.M)
        if route != "/api/show" or not (created and quantized and found):
            return body
        return {**body, "modelfile": body["modelfile"].replace(found.group(1), old_blob)}

    server.fake.clear_requests()
    server.fake.reshape(keeps_old_weights)
    with pytest.raises(RebuildError, match="expected weights from the new base, got the old"):
        await session.rebuilder.run(plan)
    assert server.fake.digest("tiny16:q8") == before


async def test_adopting_under_a_base_whose_weights_it_never_had_is_refused(
    server: Server, session: Session
) -> None:
    server.base("base:latest", seed=1)
    server.base("stranger:latest", seed=5)
    await session.syncer.poll()
    with pytest.raises(RebuildError, match="never had the weights"):
        await session.rebuilder.track("stranger:latest", "base:latest")
    assert "stranger:latest" not in await session.store.recipes(session.settings.host_key)
    forced = await session.rebuilder.track("stranger:latest", "base:latest", force=True)
    assert forced.link.guessed
    assert session.syncer.snapshot.stale_in_order() == []  # never rebuilt in bulk


async def test_a_create_that_differs_from_the_plan_is_undone(
    server: Server, session: Session
) -> None:
    """Verification: the server's result is compared with the plan; a difference restores."""
    server.base("base:latest", seed=1)
    server.create(model="child:latest", parameters={"num_ctx": 20000}, **{"from": "base:latest"})
    await session.syncer.poll()
    before = server.fake.digest("child:latest")
    plan = await session.rebuilder.plan("child:latest")
    promised = replace(plan, expected=replace(plan.expected, system="Be brief."))
    with pytest.raises(RebuildError, match=r"system: expected 'Be brief\.', got None"):
        await session.rebuilder.run(promised)
    assert server.fake.digest("child:latest") == before
    node = session.syncer.snapshot.nodes["child:latest"]
    assert node.state is State.FAILED and "system" in node.reason
    (event, *_) = await session.store.history(session.settings.host_key, "child:latest")
    assert (event.kind, event.status) == ("build", "failed")
    assert "restored child:latest from" in event.log
    assert (event.error or "").startswith("verification: did not produce what the plan said")


async def test_weights_a_requantizing_plan_cannot_get_back_fail_verification(
    server: Server, session: Session
) -> None:
    """A plan that quantizes expects weights nobody can predict, but not the base's (the
    quantization was skipped) nor, when the base moved, the ones being replaced."""
    server.base("base:latest", seed=1)
    server.create(model="child:latest", parameters={"num_ctx": 20000}, **{"from": "base:latest"})
    await session.syncer.poll()

    async def planned(**changes: Any) -> Plan:  # the create gives the base's weights back
        plan = await session.rebuilder.plan("child:latest")
        return replace(plan, expected=replace(plan.expected, weights=None), **changes)

    with pytest.raises(RebuildError, match=r"weights: expected re-quantized weights, got the base"):
        await session.rebuilder.run(await planned())
    same = (await planned()).base_weights
    other = "sha256:" + "0" * 64
    moved = await planned(base_weights=other, weights_before=same, base_moved=True)
    with pytest.raises(RebuildError, match=r"weights: expected weights from the new base, got the"):
        await session.rebuilder.run(moved)
    # The base did not move: the weights it had are what it should have.
    unmoved = await planned(base_weights=other, weights_before=same, base_moved=False)
    assert await session.rebuilder.run(unmoved) == server.fake.digest("child:latest")


async def test_a_derivative_changed_outside_the_app_reads_drifted_until_adopted(
    server: Server, session: Session
) -> None:
    server.base("base:latest", seed=1)
    server.create(model="child:latest", parameters={"num_ctx": 20000}, **{"from": "base:latest"})
    await session.syncer.poll()
    assert session.syncer.snapshot.nodes["child:latest"].state is State.FRESH

    server.create(model="child:latest", parameters={"num_ctx": 4096}, **{"from": "base:latest"})
    await session.syncer.poll()
    node = session.syncer.snapshot.nodes["child:latest"]
    assert node.state is State.DRIFTED and "changed outside ollama-lineage" in node.reason
    assert node.state.needs_attention

    stored = await session.rebuilder.track("child:latest", "base:latest")
    assert "PARAMETER num_ctx 4096" in stored.text
    assert session.syncer.snapshot.nodes["child:latest"].state is State.FRESH


async def test_an_older_server_that_drops_a_field_fails_verification_and_restores(
    tmp_path: Path,
) -> None:
    """Ollama before v0.14 silently ignores `requires`: the create 'succeeds' without it."""
    with FakeOllama(scenario="empty", version="0.13.0") as fake:
        server = Server(fake, tmp_path)
        server.base("base:latest", seed=1)
        server.create(model="child:latest", system="Be brief.", **{"from": "base:latest"})
        settings = Settings(host=fake.url, db_path=tmp_path / "db", registry=fake.registry_url)
        async with open_session(settings) as session:
            await session.syncer.poll()
            edited = "FROM base:latest\nSYSTEM Be brief.\nREQUIRES 0.14.0\n"
            await session.rebuilder.track("child:latest", "base:latest", edited)
            before = fake.digest("child:latest")
            plan = await session.rebuilder.plan("child:latest")
            assert plan.request["requires"] == "0.14.0"
            with pytest.raises(RebuildError) as failed:
                await session.rebuilder.run(plan)
            assert "requires: expected '0.14.0', got None" in str(failed.value)
            assert "the old model is back" in str(failed.value)
            assert fake.digest("child:latest") == before
            node = session.syncer.snapshot.nodes["child:latest"]
            assert node.state is State.FAILED and "requires" in node.reason


async def test_first_sight_after_the_base_moved_is_a_guess_and_says_so(
    server: Server, session: Session
) -> None:
    server.base("base:latest", seed=1)
    server.create(model="child:latest", parameters={"num_ctx": 20000}, **{"from": "base:latest"})
    server.base("base:latest", seed=2)  # before the app ever looked
    await session.syncer.poll()
    node = session.syncer.snapshot.nodes["child:latest"]
    assert node.state is State.STALE and node.guessed
    assert (await session.rebuilder.plan("child:latest")).guessed
    assert session.syncer.snapshot.stale_in_order() == []  # not in bulk until settled
    assert await session.upstream.settle_guesses() == []  # the registry: a local model
    assert session.syncer.snapshot.stale_in_order() == ["child:latest"]


@pytest.mark.parametrize("again", [False, True])
async def test_a_registry_answer_stored_before_the_tree_was_rebuilt_still_settles_the_guess(
    server: Server, session: Session, again: bool
) -> None:
    """The start-up check stores the registry's answers and only then rebuilds the snapshot:
    a bulk rebuild (R) asked in between read the answers as given, asked nothing again, and
    held the model back on the old snapshot, as a guess the registry "could not settle"."""
    server.base("base:latest", seed=1)
    server.create(model="child:latest", parameters={"num_ctx": 20000}, **{"from": "base:latest"})
    server.base("base:latest", seed=2)  # before the app ever looked
    await session.syncer.poll()
    answers = await session.upstream.registry.check("child:latest")
    await session.syncer.store.save_upstream(session.syncer.host, {"child:latest": answers})
    assert session.syncer.snapshot.nodes["child:latest"].unproven  # not rebuilt yet
    assert await session.upstream.settle_guesses(again=again) == []
    assert session.syncer.snapshot.stale_in_order() == ["child:latest"]


async def test_a_tree_read_before_a_change_never_lands_after_the_tree_read_after_it(
    server: Server, session: Session
) -> None:
    """Two rebuilds of the tree at once (the registry check's and a rebuild's): the one that
    read the store before the other's change finished last and stood, so a rebuilt model read
    drifted until the server changed again. The first read of the earlier one is held here
    while the change lands and the later one is given every chance to finish."""
    server.base("base:latest", seed=1)
    await session.syncer.poll()
    store, host = session.syncer.store, session.syncer.host
    # A first answer, so that the earlier rebuild has something new to read.
    await store.save_upstream(host, {"base:latest": Upstream(error="registry unreachable")})
    held = HeldTreeRead(store)
    earlier = asyncio.create_task(session.syncer.refresh())
    await held.reached.wait()
    await store.save_upstream(host, {"base:latest": Upstream(digest="f" * 64)})
    later = asyncio.create_task(session.syncer.refresh())
    await held.let_go(later, host)
    await asyncio.gather(earlier, later)
    assert session.syncer.snapshot.nodes["base:latest"].state is State.UPDATE_AVAILABLE


async def test_deleting_the_only_copy_of_a_model_is_refused(
    server: Server, session: Session
) -> None:
    server.base("base:latest", seed=1)
    server.create(model="child:latest", parameters={"num_ctx": 20000}, **{"from": "base:latest"})
    await session.syncer.poll()
    server.base("base:latest", seed=2)  # a rebuild that changes nothing keeps no backup
    await session.syncer.poll()
    backup = (await session.rebuilder.plan("child:latest")).backup
    await session.rebuilder.run(await session.rebuilder.plan("child:latest"))
    server.fake.delete("child:latest")
    await session.syncer.poll()
    with pytest.raises(RebuildError, match="only copy of child:latest"):
        await session.rebuilder.delete_backup(backup)
    assert server.fake.digest(backup) is not None


async def test_an_edited_recipe_reads_edited_and_is_offered_for_rebuild(
    server: Server, session: Session
) -> None:
    server.base("base:latest", seed=1)
    server.create(model="child:latest", parameters={"num_ctx": 20000}, **{"from": "base:latest"})
    await session.syncer.poll()
    await session.rebuilder.track(
        "child:latest", "base:latest", "FROM base:latest\nPARAMETER num_ctx 32768\n"
    )
    node = session.syncer.snapshot.nodes["child:latest"]
    assert node.state is State.EDITED and node.state.needs_attention
    assert session.syncer.snapshot.stale_in_order() == ["child:latest"]
    await session.rebuilder.run(await session.rebuilder.plan("child:latest"))
    assert session.syncer.snapshot.nodes["child:latest"].state is State.FRESH
    assert (await session.client.show("child:latest")).parameters["num_ctx"] == 32768


async def test_a_rebuild_that_makes_something_else_puts_the_old_model_back(
    tmp_path: Path,
) -> None:
    """A 0.13 server drops REQUIRES, and the base moved: the create really replaces the model
    with another one, so only the put-back brings the old digest back."""
    with FakeOllama(scenario="empty", version="0.13.0") as fake:
        server = Server(fake, tmp_path)
        server.base("base:latest", seed=1)
        server.create(model="child:latest", system="Be brief.", **{"from": "base:latest"})
        settings = Settings(host=fake.url, db_path=tmp_path / "db", registry=fake.registry_url)
        async with open_session(settings) as session:
            await session.syncer.poll()
            edited = "FROM base:latest\nSYSTEM Be brief.\nREQUIRES 0.14.0\n"
            await session.rebuilder.track("child:latest", "base:latest", edited)
            server.base("base:latest", seed=2)
            await session.syncer.poll()
            before = fake.digest("child:latest")
            made: list[str | None] = []
            plan = await session.rebuilder.plan("child:latest")
            with pytest.raises(RebuildError, match="the old model is back"):
                await session.rebuilder.run(
                    plan, lambda p: made.append(fake.digest("child:latest"))
                )
            assert made[-1] != before  # the server had made another model
            assert fake.digest("child:latest") == before


async def test_an_empty_system_is_predicted_as_ollama_stores_it(
    server: Server, session: Session
) -> None:
    server.base("base:latest", seed=1)
    server.create(model="child:latest", system="Be brief.", **{"from": "base:latest"})
    await session.syncer.poll()
    await session.rebuilder.track("child:latest", "base:latest", 'FROM base:latest\nSYSTEM ""\n')
    await session.rebuilder.run(await session.rebuilder.plan("child:latest"))
    assert session.syncer.snapshot.nodes["child:latest"].state is State.FRESH
    assert (await session.client.show("child:latest")).system is None


async def test_an_adopted_model_is_lineage_of_this_app_not_taken_on_trust(
    server: Server, session: Session
) -> None:
    """track records where the child came from; once the base moves it is rebuilt in bulk
    without asking the registry, and History says who adopted it from what."""
    server.base("base:latest", seed=1)
    server.create(model="child:latest", parameters={"num_ctx": 20000}, **{"from": "base:latest"})
    await session.syncer.poll()
    built_from = server.fake.digest("base:latest")
    stored = await session.rebuilder.track("child:latest", "base:latest")
    assert (stored.link.source, stored.link.guessed, stored.link.base_digest) == (
        "recorded",
        False,
        built_from,
    )
    server.base("base:latest", seed=2)
    await session.syncer.poll()
    node = session.syncer.snapshot.nodes["child:latest"]
    assert node.state is State.STALE and not node.guessed
    assert session.syncer.snapshot.stale_in_order() == ["child:latest"]
    (adopt,) = [
        e for e in await session.store.history(session.settings.host_key) if e.kind == "adopt"
    ]
    assert (adopt.name, adopt.base, adopt.status) == ("child:latest", "base:latest", "success")


async def test_a_tree_rebuilt_with_nothing_changed_still_sees_another_process_write(
    server: Server, session: Session, tmp_path: Path
) -> None:
    # A rebuild of the tree that nothing changed for is skipped; "nothing" must include a
    # write by another connection (a cron `check` beside the TUI), not only this one's.
    server.base("base:latest", seed=1)
    await session.syncer.poll()
    assert await session.syncer.refresh() is False
    other = await Store.open(tmp_path / "db")
    try:
        await other.save_upstream(session.syncer.host, {"base:latest": Upstream(digest="f" * 64)})
    finally:
        await other.close()
    assert await session.syncer.refresh() is True
    assert session.syncer.snapshot.nodes["base:latest"].state is State.UPDATE_AVAILABLE


async def test_a_model_set_building_reads_building_when_nothing_else_changed(
    server: Server, session: Session
) -> None:
    # The tree is rebuilt only when what it is made from changed: which models are building
    # is part of that, though it lives in memory, not in the store.
    server.base("base:latest", seed=1)
    server.create(model="child:latest", parameters={"num_ctx": 20000}, **{"from": "base:latest"})
    await session.syncer.poll()
    assert await session.syncer.refresh() is False

    def child() -> State:
        return session.syncer.snapshot.nodes["child:latest"].state

    await session.syncer.set_building("child:latest", True)
    assert child() is State.BUILDING
    await session.syncer.set_building("child:latest", False)
    assert child() is State.FRESH
