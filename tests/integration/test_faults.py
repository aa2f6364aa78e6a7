"""Faults against the real stand-in server: what breaks, what the user reads, what survives.

Every test talks HTTP to FakeOllama. httpx is only replaced where the fake cannot produce the
fault (unknown fields, wrong types); those transports wrap the real server's answer.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ollama_lineage.cli import main
from ollama_lineage.config import Settings
from ollama_lineage.core.lineage import Kind
from ollama_lineage.core.modelfile import ModelfileError, parse_modelfile
from ollama_lineage.core.states import State
from ollama_lineage.fake_ollama import FakeOllama
from ollama_lineage.fake_ollama.faults import Reshape
from ollama_lineage.ollama.client import (
    ApiError,
    OllamaClient,
    ProtocolError,
    Unreachable,
)
from ollama_lineage.services.lock import holder_of, lock_path
from ollama_lineage.services.rebuild import Plan, Rebuilder, RebuildError
from ollama_lineage.services.session import Session, open_session
from ollama_lineage.services.store import Store
from ollama_lineage.services.sync import Syncer
from tests.integration.held_tree import HeldTreeRead

CHILD, BASE = "qwq:latest_20K", "qwq:latest"
WRITES = ("/api/create", "/api/copy", "/api/delete")
BLOB = "sha256-" + "ab" * 32
HANG_GUARD = 10.0  # seconds: a fault must end in an error, never in a hang
SHORT_TIMEOUT, LATENCY = 1.0, 3.0  # a client timeout, and a server far slower than it


# --- helpers ---------------------------------------------------------------------------------


def settings(fake: FakeOllama, db: Path, **extra: Any) -> Settings:
    return Settings(host=fake.url, db_path=db, registry=fake.registry_url, **extra)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "lineage.sqlite3"


@pytest.fixture
async def session(fake: FakeOllama, db: Path) -> AsyncIterator[Session]:
    async with open_session(settings(fake, db, timeout=5.0)) as opened:
        yield opened


def dump(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables that hold what the app knows (not the schema, not prompts)."""
    tables = ("models", "digest_history", "specs", "links", "backups", "events", "upstream")
    with sqlite3.connect(db) as raw:
        return {t: sorted(raw.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}


def integrity(db: Path) -> str:
    with sqlite3.connect(db) as raw:
        return str(raw.execute("PRAGMA integrity_check").fetchone()[0])


def events(db: Path, name: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as raw:
        return raw.execute(
            "SELECT kind, status, error, backup, digest_before, digest_after, finished_at"
            " FROM events WHERE name = ? ORDER BY id",
            (name,),
        ).fetchall()


def count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as raw:
        return int(raw.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def no_stray_tasks() -> None:
    """A failed poll must not leave requests running unawaited behind it."""
    assert [t for t in asyncio.all_tasks() if not t.done()] == [asyncio.current_task()]


def states(session: Session) -> dict[str, str]:
    return {n.name: n.state.word for n in session.syncer.snapshot.walk()}


def writes(fake: FakeOllama) -> list[str]:
    return [r.path for r in fake.requests if r.path in WRITES]


def one_line_error(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


def cli(fake: FakeOllama, db: Path, *args: str) -> int:
    return main([*args, "--host", fake.host, "--db", str(db)])


async def guarded(awaitable: Any) -> Any:
    return await asyncio.wait_for(awaitable, HANG_GUARD)


async def stale_plan(session: Session, fake: FakeOllama, minute: int = 0) -> Plan:
    """qwq:latest moved on, so qwq:latest_20K is stale: the plan of its rebuild."""
    await session.syncer.poll()
    fake.pull(BASE)
    await session.syncer.poll()
    assert session.syncer.snapshot.nodes[CHILD].state is State.STALE
    return await session.rebuilder.plan(CHILD, now=datetime(2025, 1, 2, 3, minute, 5))


# --- the server is down ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["status"],
        ["status", "--json"],
        ["rebuild", CHILD, "--yes"],
        ["pull", BASE],
        ["history", CHILD],
        ["export", CHILD],
    ],
    ids=lambda c: " ".join(c),
)
def test_cli_with_the_server_down_says_one_line_and_exits_2(
    fake: FakeOllama, db: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    fake.stop()
    code = cli(fake, db, *command)
    out, err = capsys.readouterr()
    assert code == 2
    line = one_line_error(err)
    assert line.startswith(f"error: cannot reach Ollama at {fake.url} (")
    assert "OLLAMA_HOST" in line
    assert out == ""


async def test_poll_with_the_server_down_raises_unreachable_and_keeps_nothing(
    fake: FakeOllama, db: Path
) -> None:
    fake.stop()
    async with open_session(settings(fake, db)) as s:
        with pytest.raises(Unreachable, match=rf"^cannot reach Ollama at {fake.url} \("):
            await guarded(s.syncer.poll())
        assert s.syncer.snapshot.nodes == {}
    assert count(db, "models") == 0
    assert integrity(db) == "ok"


async def test_a_server_that_dies_mid_cold_start_fails_the_poll_and_half_saves_nothing(
    fake: FakeOllama, db: Path
) -> None:
    # From the third show on, every connection just closes (one drop alone is retried: it
    # may be a kept-alive connection the server let go).
    for nth in range(3, 3 + len(fake.state.tags()) + 2):
        fake.fail("/api/show", nth=nth, mode="drop")
    async with open_session(settings(fake, db)) as s:
        with pytest.raises(Unreachable, match="the connection dropped mid-answer"):
            await guarded(s.syncer.poll())
        assert s.syncer.snapshot.nodes == {}
    assert count(db, "models") == 0  # no tree of some models and not others
    assert integrity(db) == "ok"


async def test_load_gives_the_last_known_tree_when_the_server_is_down_at_start(
    fake: FakeOllama, db: Path
) -> None:
    async with open_session(settings(fake, db)) as first:
        await first.syncer.poll()
        seen = states(first)
    assert seen[CHILD] == "fresh" and seen["llama3.2:latest-mario"] == "stale"
    stored = dump(db)

    fake.stop()
    async with open_session(settings(fake, db)) as second:
        snapshot = await second.syncer.load()
        assert {n.name: n.state.word for n in snapshot.walk()} == seen
        with pytest.raises(Unreachable, match="cannot reach Ollama"):
            await guarded(second.syncer.poll())
        assert second.syncer.snapshot is snapshot
    assert dump(db) == stored


async def test_server_going_down_mid_session_then_coming_back(
    fake: FakeOllama, db: Path, session: Session
) -> None:
    assert await session.syncer.poll() is True
    before, stored = session.syncer.snapshot, dump(db)

    fake.stop()
    for _ in range(2):
        with pytest.raises(Unreachable, match=rf"cannot reach Ollama at {fake.url}"):
            await guarded(session.syncer.poll())
    assert session.syncer.snapshot is before
    assert dump(db) == stored

    fake.start()  # same port
    assert fake.url == session.settings.host
    assert await guarded(session.syncer.poll()) is False
    assert session.syncer.snapshot == before
    fake.pull(BASE)
    assert await guarded(session.syncer.poll()) is True
    assert session.syncer.snapshot.nodes[CHILD].state is State.STALE
    after = dump(db)
    for table in ("links", "events", "backups"):
        assert after[table] == stored[table]
    assert set(stored["digest_history"]) <= set(after["digest_history"])
    assert integrity(db) == "ok"


async def test_server_down_before_a_rebuild_records_a_failed_build(
    fake: FakeOllama, db: Path, session: Session
) -> None:
    plan = await stale_plan(session, fake)
    fake.stop()
    with pytest.raises(RebuildError, match=r"old model kept: cannot reach Ollama"):
        await guarded(session.rebuilder.run(plan))
    (row,) = events(db, CHILD)
    assert row[:2] == ("build", "failed") and "cannot reach Ollama" in row[2]
    assert session.syncer.snapshot.nodes[CHILD].state is State.FAILED
    assert await session.store.backups(session.syncer.host) == {}  # the copy never happened
    assert integrity(db) == "ok"


# --- a rebuild that breaks half-way ------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "said"),
    [
        ("midstream", "Ollama: quantization failed: out of disk"),
        ("drop", "the connection dropped mid-answer"),
        ("status", "Ollama: quantization failed: out of disk"),
    ],
)
async def test_create_failing_keeps_the_old_model_and_records_why(
    fake: FakeOllama, db: Path, session: Session, mode: str, said: str
) -> None:
    plan = await stale_plan(session, fake)
    before = fake.digest(CHILD)
    fake.clear_requests()
    fake.fail("/api/create", status=500, error="quantization failed: out of disk", mode=mode)

    with pytest.raises(RebuildError) as caught:
        await guarded(session.rebuilder.run(plan))
    message = str(caught.value)
    assert message.startswith(f"rebuild of {CHILD} failed, old model kept: ")
    assert said in message and "\n" not in message

    assert fake.digest(CHILD) == before
    assert fake.digest(plan.backup) == before
    assert writes(fake) == ["/api/copy", "/api/create"]
    assert await session.store.backups(session.syncer.host) == {plan.backup: CHILD}
    (row,) = events(db, CHILD)
    kind, status, error, backup, digest_before, digest_after, finished = row
    assert (kind, status, backup, digest_before, digest_after) == (
        "build",
        "failed",
        plan.backup,
        before,
        None,
    )
    assert said in error and finished is not None
    (event,) = await session.store.history(session.syncer.host, CHILD)
    assert (event.log or "").splitlines()[0] == f"backed up {CHILD} as {plan.backup}"

    node = session.syncer.snapshot.nodes[CHILD]
    assert node.state is State.FAILED
    assert "old model kept" in node.reason and said in node.reason
    assert integrity(db) == "ok"

    # A second process (or the next start) sees the failure from the database alone.
    async with open_session(settings(fake, db)) as other:
        assert (await other.syncer.load()).nodes[CHILD].state is State.FAILED

    retry = await session.rebuilder.plan(CHILD, now=datetime(2025, 1, 2, 3, 30, 5))
    after = await guarded(session.rebuilder.run(retry))
    assert after == fake.digest(CHILD) != before
    assert session.syncer.snapshot.nodes[CHILD].state is State.FRESH
    assert await session.store.failed_builds(session.syncer.host) == {}
    builds = [r[:2] for r in events(db, CHILD) if r[0] == "build"]
    assert builds == [("build", "failed"), ("build", "success")]
    assert fake.digest(plan.backup) is None  # keep_backups=1: the older backup was pruned
    assert fake.digest(retry.backup) == before
    assert integrity(db) == "ok"


async def test_backup_copy_failing_sends_no_create(
    fake: FakeOllama, db: Path, session: Session
) -> None:
    plan = await stale_plan(session, fake)
    before = fake.digest(CHILD)
    fake.clear_requests()
    fake.fail("/api/copy", status=500, error="no space left on device")
    with pytest.raises(RebuildError, match="old model kept: Ollama: no space left on device"):
        await guarded(session.rebuilder.run(plan))
    assert writes(fake) == ["/api/copy"]
    assert fake.digest(CHILD) == before and fake.digest(plan.backup) is None
    assert await session.store.backups(session.syncer.host) == {}
    assert events(db, CHILD)[0][:2] == ("build", "failed")
    assert session.syncer.snapshot.nodes[CHILD].state is State.FAILED


@pytest.mark.parametrize("kind", ["garbage", "truncated"])
async def test_malformed_create_stream_fails_the_build_cleanly(
    fake: FakeOllama, db: Path, session: Session, kind: str
) -> None:
    plan = await stale_plan(session, fake)
    before = fake.digest(CHILD)
    fake.malformed("/api/create", kind=kind)
    with pytest.raises(RebuildError, match=r"old model kept: .*malformed JSON for /api/create"):
        await guarded(session.rebuilder.run(plan))
    assert events(db, CHILD)[0][:2] == ("build", "failed")
    assert session.syncer.snapshot.nodes[CHILD].state is State.FAILED
    assert integrity(db) == "ok"
    assert fake.digest(CHILD) == before
    await session.syncer.poll()  # the failure stays until a rebuild succeeds
    assert session.syncer.snapshot.nodes[CHILD].state is State.FAILED


async def test_slow_create_times_out_as_a_failed_build(fake: FakeOllama, db: Path) -> None:
    async with open_session(settings(fake, db, timeout=SHORT_TIMEOUT)) as s:
        plan = await stale_plan(s, fake)
        before = fake.digest(CHILD)
        fake.set_latency(LATENCY, "/api/create")
        with pytest.raises(RebuildError, match=r"old model kept: cannot reach .*\(timed out\)"):
            await guarded(s.rebuilder.run(plan))
        assert fake.digest(CHILD) == before
        assert s.syncer.snapshot.nodes[CHILD].state is State.FAILED
    assert events(db, CHILD)[0][:2] == ("build", "failed")


# --- bad answers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "status", "error", "raised"),
    [
        ("/api/tags", 500, "llama runner process has terminated", ApiError),
        ("/api/tags", 503, "server busy, please try again", ApiError),
    ],
)
async def test_error_statuses_carry_ollamas_message_and_leave_the_store(
    fake: FakeOllama,
    db: Path,
    session: Session,
    route: str,
    status: int,
    error: str,
    raised: type[ApiError],
) -> None:
    fake.fail(route, status=status, error=error)
    with pytest.raises(raised) as caught:
        await guarded(session.syncer.poll())
    assert type(caught.value) is raised
    assert str(caught.value) == f"Ollama: {error}"
    assert caught.value.status == status
    no_stray_tasks()
    assert count(db, "models") == 0 and count(db, "links") == 0
    assert session.syncer.snapshot.nodes == {}
    # The fault was one call: the next poll gets the whole tree.
    assert await guarded(session.syncer.poll()) is True
    assert session.syncer.snapshot.nodes[CHILD].state is State.FRESH
    assert integrity(db) == "ok"


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500, "error": "failed to read manifest"},  # a blob gone from disk
        {"status": 404, "error": "model 'qwq:latest' not found"},  # deleted mid-poll
        {"status": 403, "error": "cloud models are disabled"},
        {"malformed": "garbage"},
    ],
)
async def test_a_failing_show_marks_its_model_and_the_tree_carries_on(
    fake: FakeOllama,
    db: Path,
    session: Session,
    fault: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One model Ollama cannot show is that model's problem, retried later, never the tree's."""
    if "malformed" in fault:
        fake.malformed("/api/show", kind=fault["malformed"])
    else:
        fake.fail("/api/show", status=fault["status"], error=fault["error"])
    assert await guarded(session.syncer.poll()) is True
    no_stray_tasks()
    nodes = session.syncer.snapshot.nodes
    (broken,) = [n for n in nodes.values() if n.state is State.UNREADABLE]
    assert "retrying" in broken.reason
    assert fault.get("error", "malformed JSON") in broken.reason
    assert [n for n in nodes.values() if n.state is State.FRESH]  # the rest is classified
    assert count(db, "models") == len(fake.model_names())
    # Quiet polls do not ask again before the backoff; then one show heals it.
    fake.clear_requests()
    await guarded(session.syncer.poll())
    assert [r.path for r in fake.requests] == ["/api/tags"]
    monkeypatch.setattr(session.syncer, "_clock", lambda: float("inf"))
    assert await guarded(session.syncer.poll()) is True
    assert session.syncer.snapshot.nodes[broken.name].state is not State.UNREADABLE
    assert integrity(db) == "ok"


@pytest.mark.parametrize("route", ["/api/tags"])
@pytest.mark.parametrize("kind", ["garbage", "truncated"])
async def test_malformed_json_is_one_clear_line_and_leaves_the_store(
    fake: FakeOllama, db: Path, session: Session, route: str, kind: str
) -> None:
    fake.malformed(route, kind=kind)
    with pytest.raises(ProtocolError) as caught:
        await guarded(session.syncer.poll())
    message = str(caught.value)
    assert message.startswith(f"Ollama at {fake.url} sent malformed JSON for {route}: ")
    assert "\n" not in message and len(message) < 200
    no_stray_tasks()
    assert count(db, "models") == 0 and count(db, "specs") == 0
    assert await guarded(session.syncer.poll()) is True
    assert session.syncer.snapshot.nodes[CHILD].state is State.FRESH


def test_cli_reports_a_malformed_answer_in_one_line(
    fake: FakeOllama, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.malformed("/api/tags", kind="garbage")
    exit_code = cli(fake, db, "status")
    line = one_line_error(capsys.readouterr().err)
    assert "malformed JSON for /api/tags" in line
    assert exit_code == 2


def test_cli_carries_on_past_one_model_it_cannot_show(
    fake: FakeOllama, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.malformed("/api/show", kind="garbage")
    exit_code = cli(fake, db, "status")
    out = capsys.readouterr().out
    assert exit_code != 2  # what is left to do decides it, not "server unusable"
    assert len([x for x in out.splitlines() if " unreadable " in x]) == 1
    assert " fresh " in out


def with_extra_fields(path: str, data: dict[str, Any]) -> dict[str, Any]:
    data = {**data, "x_future": {"nested": [1, 2, {"deep": None}]}, "remote_host": "x"}
    for model in data.get("models") or []:
        model["x_capabilities"] = ["vision", "tools"]
        model["details"] = {**model.get("details", {}), "x_shard": 3}
    if "details" in data:
        data["details"] = {**data["details"], "x_shard": 3}
    return data


async def test_unknown_extra_fields_are_ignored(fake: FakeOllama, db: Path, tmp_path: Path) -> None:
    async with open_session(settings(fake, db)) as plain:
        await plain.syncer.poll()
        expected = states(plain)
    store = await Store.open(tmp_path / "extra.sqlite3")
    fake.reshape(with_extra_fields)
    client = OllamaClient(fake.url, timeout=5.0)
    try:
        syncer = Syncer(client, store, "extra:1")
        await guarded(syncer.poll())
        assert {n.name: n.state.word for n in syncer.snapshot.walk()} == expected
        fake.pull(BASE)
        await syncer.poll()
        rebuilder = Rebuilder(syncer)
        plan = await rebuilder.plan(CHILD)
        digest = await guarded(rebuilder.run(plan))  # streamed lines carry the extras too
        assert digest == fake.digest(CHILD)
        assert syncer.snapshot.nodes[CHILD].state is State.FRESH
    finally:
        await client.aclose()
        await store.close()


def size_as_text(path: str, data: dict[str, Any]) -> dict[str, Any]:
    if path == "/api/tags":
        data["models"][0]["size"] = "very big"
    return data


def details_as_list(path: str, data: dict[str, Any]) -> dict[str, Any]:
    if path == "/api/tags":
        data["models"][1]["details"] = ["not", "an", "object"]
    return data


def tags_as_a_list(path: str, data: dict[str, Any]) -> Any:
    return data["models"] if path == "/api/tags" else data


def tags_without_models(path: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"models": None} if path == "/api/tags" else data


@pytest.mark.parametrize(
    ("rewrite", "says"),
    [
        (size_as_text, "sent /api/tags with a malformed model entry"),
        (details_as_list, "sent /api/tags with a malformed model entry"),
        (tags_as_a_list, "sent list for /api/tags"),
        (tags_without_models, "sent /api/tags without a model list"),
    ],
)
async def test_a_listing_of_another_shape_is_a_protocol_error_that_says_so(
    fake: FakeOllama, db: Path, rewrite: Reshape, says: str
) -> None:
    store = await Store.open(db)
    fake.reshape(rewrite)
    client = OllamaClient(fake.url, timeout=5.0)
    try:
        with pytest.raises(ProtocolError, match=f"^Ollama at {fake.url} {says}"):
            await guarded(Syncer(client, store, "odd:1").poll())
    finally:
        await client.aclose()
        await store.close()
    assert count(db, "models") == 0


def total_as_text(path: str, data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "total": "lots"} if path == "/api/create" else data


async def test_a_progress_line_of_the_wrong_type_fails_the_build_not_the_app(
    fake: FakeOllama, db: Path
) -> None:
    store = await Store.open(db)
    fake.reshape(total_as_text)
    client = OllamaClient(fake.url, timeout=5.0)
    try:
        syncer = Syncer(client, store, "odd:1")
        await syncer.poll()
        fake.pull(BASE)
        await syncer.poll()
        rebuilder = Rebuilder(syncer)
        plan = await rebuilder.plan(CHILD)
        # The create may have finished server-side before the line was read: then the
        # backup is put back.
        kept = r"old model (kept|restored from \S+)"
        with pytest.raises(RebuildError, match=kept + r": .*malformed progress line"):
            await guarded(rebuilder.run(plan))
        assert syncer.snapshot.nodes[CHILD].state is State.FAILED
    finally:
        await client.aclose()
        await store.close()
    assert events(db, CHILD)[0][:2] == ("build", "failed")  # not left `running`


async def test_a_multi_megabyte_show_syncs_and_still_rebuilds(fake: FakeOllama, db: Path) -> None:
    template = "{{ .Prompt }}" + "lorem ipsum dolor sit amet " * 150_000  # ~4 MB
    fake.create("huge:latest", from_="phi4:latest", template=template)
    async with open_session(settings(fake, db)) as s:
        assert await guarded(s.syncer.poll()) is True
        node = s.syncer.snapshot.nodes["huge:latest"]
        assert node.kind is Kind.DERIVATIVE and node.state is State.FRESH
        assert (await s.syncer.show("huge:latest")).template == template
        plan = await s.rebuilder.plan("huge:latest")
        assert plan.request["template"] == template
        fake.clear_requests()
        await guarded(s.rebuilder.run(plan))
        (create,) = [r.body for r in fake.requests if r.path == "/api/create"]
        assert create["template"] == template
    with sqlite3.connect(db) as raw:
        (kept,) = raw.execute("SELECT text FROM texts WHERE length(text) > 1000000").fetchone()
        assert kept == template
    assert integrity(db) == "ok"


@pytest.mark.parametrize("route", ["/api/tags", "/api/show"])
async def test_answers_slower_than_the_timeout_are_unreachable_timed_out(
    fake: FakeOllama, db: Path, route: str
) -> None:
    fake.set_latency(LATENCY, route)
    store = await Store.open(db)
    client = OllamaClient(fake.url, timeout=SHORT_TIMEOUT)
    try:
        syncer = Syncer(client, store, "slow:1")
        started = asyncio.get_running_loop().time()
        with pytest.raises(Unreachable, match=r"cannot reach Ollama at .* \(timed out\)"):
            await guarded(syncer.poll())
        assert asyncio.get_running_loop().time() - started < LATENCY - 0.5
    finally:
        await client.aclose()
        await store.close()
    assert count(db, "models") == 0


@pytest.mark.parametrize("keep", [1, 2])
async def test_keep_backups_keeps_the_newest_backups_and_prunes_the_older(
    fake: FakeOllama, db: Path, keep: int
) -> None:
    """``--keep-backups`` over three rebuilds: the newest backups, each an older version of
    the model, stay; the older ones are deleted from the server and the database."""
    async with open_session(settings(fake, db, keep_backups=keep)) as s:
        await s.syncer.poll()
        backups, versions = [], []
        for minute in range(3):
            fake.publish(BASE)
            fake.pull(BASE)
            await s.syncer.poll()
            versions.append(fake.digest(CHILD))
            plan = await s.rebuilder.plan(CHILD, now=datetime(2025, 1, 2, 3, minute, 5))
            await guarded(s.rebuilder.run(plan))
            backups.append(plan.backup)
        assert len(set(versions)) == 3  # each rebuild replaced another version
        kept = [None] * (3 - keep) + versions[3 - keep :]
        assert [fake.digest(b) for b in backups] == kept
        assert set(await s.store.backups(s.syncer.host)) == set(backups[3 - keep :])


async def test_each_writer_says_in_the_lock_what_it_is_doing(fake: FakeOllama, db: Path) -> None:
    """A second writer is told who holds the server and doing what: a rebuild, a pull, a
    roll-back and a backup's deletion each write their own command into the lock."""
    async with open_session(settings(fake, db)) as s:
        plan = await stale_plan(s, fake)
        path = lock_path(db, s.syncer.host)

        async def held_while(route: str, work: Awaitable[object]) -> str:
            fake.clear_requests()
            fake.set_latency(0.3, route)
            task = asyncio.ensure_future(work)
            while not any(r.path == route for r in fake.requests):
                await asyncio.sleep(0.01)
            holder = holder_of(path)
            await guarded(task)
            fake.set_latency(0.0, route)
            return holder.command if holder else ""

        assert await held_while("/api/create", s.rebuilder.run(plan)) == f"rebuild {CHILD}"
        fake.publish("llama3.2:latest")
        pull = s.rebuilder.pull("llama3.2:latest")
        assert await held_while("/api/pull", pull) == "pull llama3.2:latest"
        rollback = s.rebuilder.rollback(CHILD)
        assert await held_while("/api/copy", rollback) == f"rollback {CHILD}"
        delete = s.rebuilder.delete_backup(plan.backup)
        assert await held_while("/api/delete", delete) == f"delete backup {plan.backup}"


# --- two instances on one database --------------------------------------------------------------


async def test_two_instances_sync_and_rebuild_at_once(fake: FakeOllama, db: Path) -> None:
    async with (
        open_session(settings(fake, db)) as one,
        open_session(settings(fake, db)) as two,
    ):
        await asyncio.gather(one.syncer.poll(), two.syncer.poll())
        fake.pull(BASE)
        fake.pull("llama3.2:latest")
        await asyncio.gather(one.syncer.poll(), two.syncer.poll())
        plan = await one.rebuilder.plan(CHILD, now=datetime(2025, 1, 2, 3, 4, 5))

        async def keep_polling(s: Session, times: int) -> None:
            for i in range(times):
                await s.syncer.poll()  # quiet polls skip the database: read and write too
                await s.syncer.refresh()
                await s.store.add_prompt(s.syncer.host, CHILD, f"p{id(s)} {i}")
                await s.store.history(s.syncer.host, CHILD)

        results = await guarded(
            asyncio.gather(
                one.rebuilder.run(plan),
                keep_polling(one, 15),
                keep_polling(two, 15),
                keep_polling(two, 15),
                two.upstream.check_all(),
                return_exceptions=True,
            )
        )
        assert [r for r in results if isinstance(r, BaseException)] == []
        digest = results[0]
        assert digest == fake.digest(CHILD)

        await two.syncer.poll()
        for s in (one, two):
            node = s.syncer.snapshot.nodes[CHILD]
            assert node.facts is not None and node.facts.digest == digest
            assert node.state is State.FRESH
            backup = s.syncer.snapshot.nodes[plan.backup]
            assert backup.kind is Kind.BACKUP and backup.base == CHILD
        history = await two.store.history(two.syncer.host, CHILD)
        assert (history[0].kind, history[0].status) == ("build", "success")
    assert integrity(db) == "ok"
    assert events(db, CHILD)[-1][:2] == ("build", "success")


# --- hostile input, refused before any request -------------------------------------------------

HOSTILE = [
    pytest.param(
        f"FROM /usr/share/ollama/.ollama/models/blobs/{BLOB}\n", 1, "not a file path", id="blob"
    ),
    pytest.param("FROM ./model.gguf\n", 1, "not a file path", id="relative-gguf"),
    pytest.param("FROM model.gguf\n", 1, "not a file path", id="bare-gguf"),
    pytest.param("FROM ~/models/x\n", 1, "not a file path", id="home"),
    pytest.param("FROM C:\\models\\x.gguf\n", 1, "not a file path", id="windows"),
    pytest.param("FROM qwq:latest\nFROM phi4:latest\n", 2, "exactly one FROM", id="two-from"),
    pytest.param("# nothing here\nSYSTEM hi\n", None, "no FROM line", id="no-from"),
    pytest.param(
        'FROM qwq:latest\nTEMPLATE """' + "x" * 1_000_001 + '"""\n',
        None,
        "larger than 1000000 bytes",
        id="huge-template",
    ),
    pytest.param("FROM qwq:latest\nSYSTEM a\x00b\n", 2, "U+0000", id="nul"),
    pytest.param("FROM qwq:latest\n\nSYSTEM \x1b[31mred\n", 3, "U+001B", id="escape"),
    pytest.param("FROM qwq:latest\nRUN rm -rf /\n", 2, "command must be one of", id="run"),
    pytest.param("FROM qwq:latest\nSTOP now\n", 2, "command must be one of", id="stop"),
    pytest.param("FROM qwq:latest\nREQUIRES soon\n", 2, "valid semver", id="req"),
    pytest.param("FROM qwq:latest\nDRAFT qwen3:0.6b\n", 2, "not supported in a recipe", id="draft"),
    pytest.param("FROM qwq:latest\nPARAMETER num_ctx lots\n", 2, "invalid int", id="int"),
    pytest.param(
        "FROM qwq:latest\nPARAMETER num_ctx 99999999999999999999\n", 2, "invalid int", id="big"
    ),
    pytest.param("FROM qwq:latest\nPARAMETER temperature hot\n", 2, "invalid float", id="float"),
    pytest.param("FROM qwq:latest\nPARAMETER use_mmap maybe\n", 2, "invalid bool", id="bool"),
    pytest.param("FROM qwq:latest\nPARAMETER evil 1\n", 2, "unknown parameter", id="param"),
    pytest.param("FROM qwq:latest\nPARAMETER num_ctx\n", 2, "needs a name and a value", id="bare"),
    pytest.param("FROM qwq:latest\nMESSAGE root hi\n", 2, "message role", id="role"),
    pytest.param("FROM qwq:latest\nADAPTER /etc/passwd\n", 2, "ADAPTER must name", id="adapter"),
    pytest.param('FROM qwq:latest\nSYSTEM """never\nclosed\n', 2, "unexpected EOF", id="eof"),
    pytest.param("FROM bad name!\n", 1, "FROM must name a model", id="bad-from-name"),
]


@pytest.mark.parametrize(("text", "line", "said"), HOSTILE)
def test_hostile_modelfiles_are_refused_by_the_parser(
    text: str, line: int | None, said: str
) -> None:
    with pytest.raises(ModelfileError) as caught:
        parse_modelfile(text)
    assert caught.value.line == line
    assert said in str(caught.value)
    assert "\n" not in str(caught.value)
    if line is not None:
        assert str(caught.value).startswith(f"line {line}: ")


@pytest.mark.parametrize(("text", "line", "said"), HOSTILE)
def test_hostile_modelfiles_are_refused_by_track_before_any_request(
    fake: FakeOllama,
    db: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    line: int | None,
    said: str,
) -> None:
    modelfile = tmp_path / "Modelfile"
    modelfile.write_text(text, encoding="utf-8", newline="")
    fake.clear_requests()
    code = cli(fake, db, "track", CHILD, "--from", BASE, "-f", str(modelfile))
    out, err = capsys.readouterr()
    assert code == 2
    message = one_line_error(err)
    assert message.startswith(f"error: {modelfile}: ")
    assert said in message
    if line is not None:
        assert f"line {line}: " in message
    assert len(message) < 300  # a huge value is never echoed back whole
    assert fake.requests == [] and writes(fake) == []
    assert not db.exists()  # refused before even opening the database
    assert out == ""


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"GGUF\x03\x00\x00\x00\xff\xfe\x80\x81" * 8, id="a-gguf-file"),
        pytest.param(b"FROM qwq:latest\nSYSTEM caf\xe9\n", id="latin-1"),
    ],
)
def test_a_binary_or_non_utf8_modelfile_is_refused_in_one_line(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    modelfile = tmp_path / "model.gguf"
    modelfile.write_bytes(content)
    fake.clear_requests()
    code = cli(fake, db, "track", CHILD, "--from", BASE, "-f", str(modelfile))
    message = one_line_error(capsys.readouterr().err)
    assert code == 2
    assert str(modelfile) in message and "UTF-8" in message
    assert fake.requests == []


@pytest.mark.parametrize(
    ("child", "base"),
    [
        ("bad name!", BASE),
        (CHILD, "../../etc/passwd"),
        ("qwq:latest/../x", BASE),
        (CHILD, "a" * 81 + ":latest"),
        ("x\x1b[2J:latest", BASE),
    ],
    ids=["space-bang", "dotdot-base", "dotdot-child", "too-long", "escape"],
)
def test_invalid_names_are_refused_by_track_before_any_request(
    fake: FakeOllama, db: Path, capsys: pytest.CaptureFixture[str], child: str, base: str
) -> None:
    fake.clear_requests()
    code = cli(fake, db, "track", child, "--from", base)
    message = one_line_error(capsys.readouterr().err)
    assert code == 2
    assert message.startswith("error: invalid model name ")
    assert "\x1b" not in message  # echoed escaped, never raw to the terminal
    assert fake.requests == []
    assert not db.exists()


async def test_overlapping_polls_of_one_session_while_models_come_and_go(
    fake: FakeOllama, db: Path, session: Session
) -> None:
    """The TUI's poll loop and a rebuild's own poll can overlap on one Syncer."""
    await session.syncer.poll()
    fake.delete("phi4:latest")
    fake.copy("my-gguf:latest", "my-gguf:copy")
    results = await guarded(
        asyncio.gather(*(session.syncer.poll() for _ in range(4)), return_exceptions=True)
    )
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert True in results
    nodes = session.syncer.snapshot.nodes
    assert "phi4:latest" not in nodes and "my-gguf:copy" in nodes
    assert "phi4:latest" not in await session.store.models(session.syncer.host)
    assert integrity(db) == "ok"


async def test_first_sight_asks_no_show_while_it_holds_the_syncers_write_lock(
    fake: FakeOllama, tmp_path: Path
) -> None:
    """An upgrade dropped the spec cache and a child has no recipe yet: first sight must show
    it again, and a slow show must not hold up every other writer of the tree."""
    db = tmp_path / "db"
    settings = Settings(host=fake.url, db_path=db, registry=fake.registry_url)
    async with open_session(settings) as session:
        await session.syncer.poll()
    with sqlite3.connect(db) as raw:
        raw.execute("DELETE FROM specs")
        raw.execute("DELETE FROM links WHERE child = 'qwq:latest_20K'")
    fake.set_latency(0.5, "/api/show")
    fake.clear_requests()
    async with open_session(settings) as session:
        polling = asyncio.ensure_future(session.syncer.poll())
        while not any(r.path == "/api/show" for r in fake.requests):
            await asyncio.sleep(0.01)
        assert not session.syncer._write.locked()
        await polling
        assert "qwq:latest_20K" in await session.store.recipes(settings.host_key)


async def test_a_new_digest_is_read_again_even_when_modified_at_did_not_move(
    fake: FakeOllama, tmp_path: Path
) -> None:
    """A server whose clock stood still (or a listing with coarse times): the digest alone says
    the model changed, and the tree must follow it."""

    def one_time(route: str, body: dict[str, Any]) -> dict[str, Any]:
        if route != "/api/tags":
            return body
        models = [{**m, "modified_at": "2026-01-01T00:00:00Z"} for m in body["models"]]
        return {**body, "models": models}

    fake.reshape(one_time)
    settings = Settings(host=fake.url, db_path=tmp_path / "db", registry=fake.registry_url)
    async with open_session(settings) as session:
        await session.syncer.poll()
        fake.create("qwq:latest_20K", from_="qwq:latest", parameters={"num_ctx": 4096})
        await session.syncer.poll()
        node = session.syncer.snapshot.nodes["qwq:latest_20K"]
        assert node.facts is not None and node.facts.digest == fake.digest("qwq:latest_20K")
        assert node.state is State.DRIFTED


async def test_a_show_that_keeps_failing_is_asked_again_after_a_wait_that_doubles(
    fake: FakeOllama, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model Ollama cannot show is asked again after 5 s, then after 10 s if it failed
    again, and not before: quiet polls between ask only for the listing."""
    now = [0.0]
    monkeypatch.setattr(session.syncer, "_clock", lambda: now[0])
    fake.fail("/api/show")
    await guarded(session.syncer.poll())
    (broken,) = [n for n in session.syncer.snapshot.walk() if n.state is State.UNREADABLE]

    async def asked_at(t: float) -> list[str]:
        now[0] = t
        fake.clear_requests()
        await guarded(session.syncer.poll())
        return [r.path for r in fake.requests]

    assert await asked_at(4.9) == ["/api/tags"]
    fake.fail("/api/show")
    assert await asked_at(5.0) == ["/api/tags", "/api/show"]  # failed again: now 10 s
    assert session.syncer.snapshot.nodes[broken.name].state is State.UNREADABLE
    assert await asked_at(14.9) == ["/api/tags"]
    assert await asked_at(15.0) == ["/api/tags", "/api/show"]
    assert session.syncer.snapshot.nodes[broken.name].state is not State.UNREADABLE
    assert await asked_at(1000.0) == ["/api/tags"]


async def test_a_child_first_seen_after_its_base_moved_on_is_linked_to_the_older_base(
    fake: FakeOllama, session: Session
) -> None:
    """First sight finds the base version a new child was built from in the base's history
    (seen at an earlier poll), not today's base: the child is stale, not a guess."""
    await session.syncer.poll()
    old = fake.digest(BASE)
    fake.create("qwq:mine", from_=BASE, parameters={"num_ctx": 4096})
    fake.pull(BASE)
    assert fake.digest(BASE) != old
    await session.syncer.poll()
    link = (await session.store.links(session.syncer.host))["qwq:mine"]
    assert (link.base, link.base_digest, link.guessed) == (BASE, old, False)
    assert session.syncer.snapshot.nodes["qwq:mine"].state is State.STALE


async def test_a_copy_of_a_known_model_is_read_from_the_spec_cache_without_a_show(
    fake: FakeOllama, session: Session
) -> None:
    """A new name whose digest was shown before (a copy) costs the listing only."""
    await session.syncer.poll()
    fake.copy("phi4:latest", "phi4:copy")
    fake.clear_requests()
    assert await guarded(session.syncer.poll()) is True
    assert [r.path for r in fake.requests] == ["/api/tags"]
    assert "phi4:copy" in session.syncer.snapshot.nodes


async def test_a_poll_that_finishes_after_a_newer_one_does_not_roll_the_tree_back(
    fake: FakeOllama, session: Session
) -> None:
    """A slow poll saw a model that a quicker, later poll saw deleted: the older answer is
    dropped, so the deleted model does not come back in the tree or the store."""
    await session.syncer.poll()
    fake.create("qwq:new", from_=BASE, parameters={"num_ctx": 4096})
    fake.set_latency(0.5, "/api/show")
    fake.clear_requests()
    slow = asyncio.ensure_future(session.syncer.poll())
    while not any(r.path == "/api/show" for r in fake.requests):
        await asyncio.sleep(0.01)
    fake.delete("qwq:new")
    await guarded(session.syncer.poll())
    assert await guarded(slow) is False
    assert "qwq:new" not in session.syncer.snapshot.nodes
    assert "qwq:new" not in await session.store.models(session.syncer.host)


async def test_a_poll_that_finds_a_listing_already_applied_returns_once_the_tree_shows_it(
    fake: FakeOllama, session: Session
) -> None:
    """A poll that found the listing a concurrent poll had just applied returned while that
    poll was still rebuilding the tree. A rebuild that had asked then read its model's old
    digest, took the create for a no-op and deleted its backup (seen as a CI flake of the
    two-instances test). The concurrent poll's last read of the store is held here."""
    await session.syncer.poll()
    fake.pull(BASE)
    held = HeldTreeRead(session.syncer.store)
    earlier = asyncio.create_task(session.syncer.poll())
    await guarded(held.reached.wait())

    async def poll_then_look() -> str | None:
        await session.syncer.poll()
        facts = session.syncer.snapshot.nodes[BASE].facts
        return facts.digest if facts else None

    later = asyncio.create_task(poll_then_look())
    await held.let_go(later, session.syncer.host)
    assert await guarded(later) == fake.digest(BASE)
    assert await guarded(earlier) is True


async def test_a_model_without_a_usable_recipe_is_refused_with_why(
    fake: FakeOllama, session: Session
) -> None:
    """Each refusal names the model and why: a base has no recipe (its own state says why),
    a name the server does not list, and a recipe whose base was deleted from the server."""
    await session.syncer.poll()
    base = session.syncer.snapshot.nodes[BASE]
    with pytest.raises(RebuildError) as refused:
        await session.rebuilder.plan(BASE)
    assert str(refused.value) == f"{BASE} has no recipe to rebuild from ({base.reason})"
    with pytest.raises(RebuildError) as refused:
        await session.rebuilder.plan("nosuch:latest")
    said = "nosuch:latest has no recipe to rebuild from (the server does not list it)"
    assert str(refused.value) == said

    fake.delete(BASE)
    await session.syncer.poll()
    with pytest.raises(RebuildError) as refused:
        await session.rebuilder.plan(CHILD)
    said = f"{CHILD}'s base {BASE} is not on the server; pull it first"
    assert str(refused.value) == said
    with pytest.raises(RebuildError) as refused:
        await session.rebuilder.recipe("nosuch:latest")
    assert str(refused.value).startswith("nosuch:latest has no recipe to rebuild from (")
