"""Rebuilds that end true: whatever stops one half-way, the model is the old one or a verified
new one, the tree does not say `building` and History does not say `running`."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from ollama_lineage.config import Settings
from ollama_lineage.core.states import State
from ollama_lineage.fake_ollama import FakeOllama
from ollama_lineage.ollama.client import Progress
from ollama_lineage.services.rebuild import RebuildError
from ollama_lineage.services.session import Session, open_session
from tests.stand_in_http import CLI, interrupted_in_first_create

CHILD = "qwq:latest_20K"


@pytest.fixture
async def session(fake: FakeOllama, tmp_path: Path) -> AsyncIterator[Session]:
    """The demo after first sight, then qwq:latest moved on: CHILD's rebuild makes a new model."""
    settings = Settings(host=fake.url, db_path=tmp_path / "db", registry=fake.registry_url)
    async with open_session(settings) as opened:
        await opened.syncer.poll()
        fake.publish("qwq:latest")
        fake.pull("qwq:latest")
        await opened.syncer.poll()
        assert opened.syncer.snapshot.nodes[CHILD].state is State.STALE
        yield opened


async def cancelled_in(fake: FakeOllama, route: str, work: Awaitable[object]) -> None:
    """Ctrl-C while the server answers ``route`` (slow it first): the work is cancelled."""
    task = asyncio.ensure_future(work)
    while not any(r.path == route for r in fake.requests):
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def events(session: Session, name: str) -> list[tuple[str, str]]:
    rows = await session.store.history(session.settings.host_key, name)
    return [(e.kind, e.status) for e in rows]


async def test_a_rebuild_reads_building_while_it_runs_and_history_names_its_base_version(
    fake: FakeOllama, session: Session
) -> None:
    """`building` from the backup until the new digest is recorded (a poll in between would
    call a digest it does not know yet drift), and History says which base version it used."""
    plan = await session.rebuilder.plan(CHILD)
    seen: list[State] = []
    await session.rebuilder.run(
        plan, lambda _: seen.append(session.syncer.snapshot.nodes[CHILD].state)
    )
    assert seen and set(seen) == {State.BUILDING}
    assert session.syncer.snapshot.nodes[CHILD].state is State.FRESH
    event = (await session.store.history(session.settings.host_key, CHILD))[0]
    assert (event.kind, event.status, event.base, event.base_digest) == (
        "build",
        "success",
        "qwq:latest",
        fake.digest("qwq:latest"),
    )
    lines = (event.log or "").splitlines()
    assert lines[0] == f"backed up {CHILD} as {plan.backup}" and lines[-1] == "success"


async def test_a_rebuilt_model_is_recorded_as_built_on_that_base_version_for_sure(
    fake: FakeOllama, session: Session
) -> None:
    """No longer a guess (bulk rebuilds take it), and a base that moves on again with the same
    weights (a new system prompt) still makes it stale: the base version is recorded."""
    await session.rebuilder.run(await session.rebuilder.plan(CHILD))
    node = session.syncer.snapshot.nodes[CHILD]
    assert (node.state, node.guessed, node.unproven) == (State.FRESH, False, False)
    fake.create("qwq:latest", "qwq:latest", system="Think before you answer.")
    await session.syncer.poll()
    node = session.syncer.snapshot.nodes[CHILD]
    assert node.state is State.STALE
    assert node.reason.startswith("built from qwq:latest ")


async def test_a_create_whose_result_cannot_be_shown_is_undone(
    fake: FakeOllama, session: Session
) -> None:
    before = fake.digest(CHILD)
    plan = await session.rebuilder.plan(CHILD)
    fake.fail("/api/show", nth=1, status=500, error="injected: show failed")
    with pytest.raises(RebuildError) as failed:
        await session.rebuilder.run(plan)
    assert "could not be verified" in str(failed.value)
    assert str(failed.value).endswith("; the old model is back")
    assert fake.digest(CHILD) == before  # the create had replaced it: the backup went back
    assert session.syncer.snapshot.nodes[CHILD].state is State.FAILED
    event = (await session.store.history(session.settings.host_key, CHILD))[0]
    assert (event.kind, event.status, event.digest_after) == ("build", "failed", before)
    assert (event.error or "").startswith("verification: could not be verified: ")
    assert (event.log or "").endswith(f"\nrestored {CHILD} from {plan.backup}")


async def test_a_put_back_that_fails_says_where_the_old_model_is(
    fake: FakeOllama, session: Session
) -> None:
    plan = await session.rebuilder.plan(CHILD)
    fake.fail("/api/show", nth=1, status=500, error="injected: show failed")
    fake.fail("/api/copy", nth=2, status=500, error="injected: copy failed")  # the put-back
    with pytest.raises(RebuildError) as failed:
        await session.rebuilder.run(plan)
    assert str(failed.value).endswith(
        f"; restoring it failed (Ollama: injected: copy failed); roll back from {plan.backup}"
    )
    assert fake.digest(plan.backup) is not None
    assert session.syncer.snapshot.nodes[CHILD].state is not State.BUILDING


async def test_an_unexpected_error_mid_create_leaves_no_building_model_nor_running_event(
    fake: FakeOllama, session: Session
) -> None:
    before = fake.digest(CHILD)
    plan = await session.rebuilder.plan(CHILD)

    def broken(progress: Progress) -> None:
        if progress.status == "success":
            raise RuntimeError("a bug in a progress display")

    with pytest.raises(RuntimeError):
        await session.rebuilder.run(plan, broken)
    assert fake.digest(CHILD) == before
    assert session.syncer.snapshot.nodes[CHILD].state is not State.BUILDING
    event = (await session.store.history(session.settings.host_key, CHILD))[0]
    assert (event.kind, event.status, event.digest_after) == ("build", "failed", before)
    assert event.error == "RuntimeError: a bug in a progress display"
    assert (event.log or "").endswith(f"\nrestored {CHILD} from {plan.backup}")


async def test_a_cancelled_rebuild_puts_the_model_back_and_says_interrupted(
    fake: FakeOllama, session: Session
) -> None:
    before = fake.digest(CHILD)
    plan = await session.rebuilder.plan(CHILD)
    fake.set_latency(1.0, "/api/create")
    await cancelled_in(fake, "/api/create", session.rebuilder.run(plan))
    assert fake.digest(CHILD) == before
    assert session.syncer.snapshot.nodes[CHILD].state is not State.BUILDING
    event = (await session.store.history(session.settings.host_key, CHILD))[0]
    assert (event.kind, event.status, event.error) == ("build", "interrupted", None)
    assert event.digest_after == before


async def test_a_cancelled_rebuild_whose_put_back_fails_says_where_the_old_model_is(
    fake: FakeOllama, session: Session
) -> None:
    plan = await session.rebuilder.plan(CHILD)
    fake.set_latency(1.0, "/api/create")
    fake.fail("/api/copy", nth=2, status=500, error="injected: copy failed")  # the put-back
    await cancelled_in(fake, "/api/create", session.rebuilder.run(plan))
    event = (await session.store.history(session.settings.host_key, CHILD))[0]
    assert (event.kind, event.status) == ("build", "interrupted")
    assert (event.log or "").endswith(f"; roll back from {plan.backup}")


def test_ctrl_c_during_a_bulk_rebuild_finishes_the_model_in_flight_and_stops(
    fake: FakeOllama, tmp_path: Path
) -> None:
    fake.publish("qwq:latest")
    fake.pull("qwq:latest")
    where = ["--host", fake.host, "--db", str(tmp_path / "db"), "--registry", fake.registry_url]
    out, _ = interrupted_in_first_create(fake, ["rebuild", "--all-stale", "--yes", *where])
    lines = out.splitlines()
    assert lines[-1] == "stopped after 1 of 3; run again to continue"
    assert lines[-2].startswith("llama3.2:latest-mario: rebuilt from llama3.2:latest (")
    creates = [r.body["model"] for r in fake.requests if r.path == "/api/create"]
    assert creates == ["llama3.2:latest-mario"]
    history = subprocess.run(
        [*CLI, "history", "--since", "1h", *where], capture_output=True, text=True
    )
    assert "running" not in history.stdout and "build" in history.stdout


def test_ctrl_c_during_apply_finishes_the_model_in_flight_and_stops(
    fake: FakeOllama, tmp_path: Path
) -> None:
    where = ["--host", fake.host, "--db", str(tmp_path / "db"), "--registry", fake.registry_url]
    folder = tmp_path / "recipes"
    subprocess.run([*CLI, "rebuild", "--all-stale", "--yes", *where], check=True)
    subprocess.run([*CLI, "export", "--all", str(folder), *where], check=True)
    for path in folder.glob("*.Modelfile"):
        path.write_text(path.read_text() + "PARAMETER num_predict 64\n")
    out, err = interrupted_in_first_create(fake, ["apply", str(folder), "--yes", *where])
    lines = out.splitlines()
    assert lines[-1] == "stopped after 1 of 3; run again to continue", (out, err)
    (first,) = [r.body["model"] for r in fake.requests if r.path == "/api/create"]
    assert lines[-2].startswith(f"~ {first}: rebuilt from ")
    history = subprocess.run(
        [*CLI, "history", "--since", "1h", *where], capture_output=True, text=True
    )
    assert "running" not in history.stdout and "build" in history.stdout


async def test_a_rollback_brings_back_the_old_model_and_its_recipe_and_records_both_digests(
    fake: FakeOllama, session: Session
) -> None:
    host = session.settings.host_key
    with pytest.raises(RebuildError, match=f"^{CHILD} has no backup to roll back to$"):
        await session.rebuilder.rollback(CHILD)
    before = fake.digest(CHILD)
    old_link = (await session.store.recipes(host))[CHILD].link
    plan = await session.rebuilder.plan(CHILD)
    rebuilt = await session.rebuilder.run(plan)
    assert await session.rebuilder.rollback(CHILD) == before == fake.digest(CHILD)
    node = session.syncer.snapshot.nodes[CHILD]
    assert node.state is State.ROLLED_BACK  # the old version again, and not `building`
    assert (await session.store.recipes(host))[CHILD].link.base_digest == old_link.base_digest
    (event,) = [e for e in await session.store.history(host, CHILD) if e.kind == "rollback"]
    assert (event.status, event.digest_before, event.digest_after, event.backup) == (
        "success",
        rebuilt,
        before,
        plan.backup,
    )


async def test_a_rollback_after_a_failed_rebuild_reads_rolled_back_not_failed(
    fake: FakeOllama, session: Session
) -> None:
    """The failure was of the build that the roll-back has since undone: the tree says what
    the model is now, a backup's version behind its recipe."""
    plan = await session.rebuilder.plan(CHILD)
    fake.fail("/api/show", nth=1, status=500, error="injected: show failed")
    with pytest.raises(RebuildError, match="could not be verified"):
        await session.rebuilder.run(plan)
    assert session.syncer.snapshot.nodes[CHILD].state is State.FAILED
    await session.rebuilder.rollback(CHILD)
    assert session.syncer.snapshot.nodes[CHILD].state is State.ROLLED_BACK


async def test_a_rollback_the_server_refuses_says_so_and_leaves_the_model(
    fake: FakeOllama, session: Session
) -> None:
    host = session.settings.host_key
    await session.rebuilder.run(await session.rebuilder.plan(CHILD))
    rebuilt = fake.digest(CHILD)
    fake.fail("/api/copy", status=500, error="disk full")
    with pytest.raises(RebuildError, match=f"^rollback of {CHILD} failed: .*disk full"):
        await session.rebuilder.rollback(CHILD)
    assert fake.digest(CHILD) == rebuilt
    assert session.syncer.snapshot.nodes[CHILD].state is State.FRESH
    (event,) = [e for e in await session.store.history(host, CHILD) if e.kind == "rollback"]
    assert event.status == "failed" and "disk full" in (event.error or "")


async def test_pulls_and_backup_deletions_are_recorded_as_they_ended(
    fake: FakeOllama, session: Session
) -> None:
    host = session.settings.host_key
    before = fake.digest("llama3.2:latest")
    fake.publish("llama3.2:latest")
    fake.fail("/api/pull", status=500, error="registry hiccup")
    with pytest.raises(RebuildError, match=r"^pull of llama3\.2:latest failed: .*registry hiccup"):
        await session.rebuilder.pull("llama3.2:latest")
    after = await session.rebuilder.pull("llama3.2:latest")
    assert after == fake.digest("llama3.2:latest") != before
    ok, failed = [e for e in await session.store.history(host, "llama3.2:latest")][:2]
    assert (ok.kind, ok.status, ok.digest_before, ok.digest_after) == (
        "pull",
        "success",
        before,
        after,
    )
    lines = (ok.log or "").splitlines()
    assert lines[-1] == "success" and len(lines) == len(set(lines))  # each status once
    assert (failed.status, failed.error) == ("failed", "Ollama: registry hiccup")

    # Cut mid-stream, and a bug in the caller's progress hook: History keeps the statuses
    # seen, one a line, and says failed with why (a bug by its type), never `running`.
    fake.publish("llama3.2:latest")
    fake.fail("/api/pull", status=500, error="cut", mode="midstream")
    seen: dict[str, list[str]] = {"cut": [], "bug": []}

    def hook(which: str) -> Callable[[Progress], None]:
        def on_progress(progress: Progress) -> None:
            if not seen[which] or seen[which][-1] != progress.status:
                seen[which].append(progress.status)
            if which == "bug" and progress.status == "success":
                raise ValueError("hook broke")

        return on_progress

    with pytest.raises(RebuildError, match="cut"):
        await session.rebuilder.pull("llama3.2:latest", hook("cut"))
    with pytest.raises(ValueError, match="hook broke"):
        await session.rebuilder.pull("llama3.2:latest", hook("bug"))
    bug, cut = [e for e in await session.store.history(host, "llama3.2:latest")][:2]
    assert (cut.status, cut.error) == ("failed", "Ollama: cut")
    assert (bug.status, bug.error) == ("failed", "ValueError: hook broke")
    for event, which in ((cut, "cut"), (bug, "bug")):
        assert (event.log or "").splitlines() == seen[which] and len(seen[which]) > 1

    plan = await session.rebuilder.plan(CHILD)
    await session.rebuilder.run(plan)  # keeps one backup: plan.backup
    with pytest.raises(RebuildError, match=f"^{CHILD} is not a backup this app made"):
        await session.rebuilder.delete_backup(CHILD)
    backup_digest = fake.digest(plan.backup)
    fake.fail("/api/delete", status=500, error="busy")
    with pytest.raises(RebuildError, match=f"^could not delete {plan.backup}: .*busy"):
        await session.rebuilder.delete_backup(plan.backup)
    assert plan.backup in await session.store.backups(host)
    await session.rebuilder.delete_backup(plan.backup)
    assert fake.digest(plan.backup) is None
    assert plan.backup not in await session.store.backups(host)
    deleted, refused = [e for e in await session.store.history(host, CHILD)][:2]
    assert (deleted.kind, deleted.status, deleted.backup, deleted.digest_before) == (
        "delete backup",
        "success",
        plan.backup,
        backup_digest,
    )
    assert (refused.status, refused.error) == ("failed", "Ollama: busy")


async def test_a_rollback_cut_short_or_hit_by_a_bug_ends_in_history_and_leaves_building(
    fake: FakeOllama, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C during a roll-back's copy leaves History `interrupted` (no error: nothing
    failed), a bug after it `failed` with its type; neither leaves the model `building`."""
    host = session.settings.host_key
    await session.rebuilder.run(await session.rebuilder.plan(CHILD))
    fake.set_latency(1.0, "/api/copy")
    fake.clear_requests()
    await cancelled_in(fake, "/api/copy", session.rebuilder.rollback(CHILD))
    cut = (await session.store.history(host, CHILD))[0]
    assert (cut.kind, cut.status, cut.error) == ("rollback", "interrupted", None)
    assert cut.finished_at is not None
    assert session.syncer.snapshot.nodes[CHILD].state is not State.BUILDING

    fake.set_latency(0.0, "/api/copy")

    async def broken_poll() -> bool:
        raise RuntimeError("a bug")

    monkeypatch.setattr(session.syncer, "poll", broken_poll)
    with pytest.raises(RuntimeError, match="a bug"):
        await session.rebuilder.rollback(CHILD)
    bug = (await session.store.history(host, CHILD))[0]
    assert (bug.kind, bug.status, bug.error) == ("rollback", "failed", "RuntimeError: a bug")
    assert session.syncer.snapshot.nodes[CHILD].state is not State.BUILDING
