"""The database: bytes on disk, schema version, two instances at once."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ollama_lineage.core.lineage import Link, ModelFacts, Upstream
from ollama_lineage.core.modelfile import Message
from ollama_lineage.core.spec import ModelSpec, parse_show
from ollama_lineage.services.store import MIGRATIONS, Store, StoredRecipe, StoreError

HOST = "127.0.0.1:11434"


async def test_new_database_is_private_versioned_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "lineage.sqlite3"
    store = await Store.open(path)
    await store.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_a_database_from_a_newer_version_is_refused_not_damaged(tmp_path: Path) -> None:
    path = tmp_path / "lineage.sqlite3"
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="newer ollama-lineage"):
        await Store.open(path)
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 99


async def test_an_unwritable_location_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match="cannot open the database"):
        await Store.open(blocker / "lineage.sqlite3")


def test_a_folder_given_as_the_database_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """Run as a process: the traceback this used to print came at the interpreter's exit."""
    command = [sys.executable, "-m", "ollama_lineage.cli", "status", "--host", "127.0.0.1:9"]
    run = subprocess.run(
        [*command, "--db", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    said = f"error: cannot open the database {tmp_path}: it is a folder; try --db PATH\n"
    assert run.stderr == said
    assert run.returncode == 2


async def test_models_history_and_show_cache_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "lineage.sqlite3"
    store = await Store.open(path)
    v1 = ModelFacts("qwq:latest", "a" * 64, 10, "t1", "", "w1")
    v2 = ModelFacts("qwq:latest", "b" * 64, 10, "t2", "", "w2")
    await store.save_models(HOST, [v1], [])
    await store.save_models(HOST, [v2], [])
    spec = ModelSpec(weights="w2", parameters={"num_ctx": 20000, "stop": ["<|im_end|>"]})
    await store.cache_specs({"b" * 64: spec})
    await store.close()

    store = await Store.open(path)
    assert await store.models(HOST) == {"qwq:latest": v2}
    assert await store.digest_history(HOST, "qwq:latest") == [("a" * 64, "w1"), ("b" * 64, "w2")]
    assert await store.cached_specs(["b" * 64, "c" * 64]) == {"b" * 64: spec}
    assert await store.models("other-host:1") == {}
    await store.save_models(HOST, [], ["qwq:latest"])
    assert await store.models(HOST) == {}
    await store.close()


async def test_every_field_of_a_cached_spec_reads_back_after_a_restart(tmp_path: Path) -> None:
    """A field the cache dropped would read as changed on the next start (a false drift)."""
    spec = ModelSpec(
        weights="w" * 64,
        adapters=("sha256:" + "a" * 64,),
        template="{{ .Prompt }}",
        system="You are terse.",
        parameters={"num_ctx": 8192, "stop": ["<|im_end|>"]},
        licenses=("MIT",),
        messages=(Message("user", "hi"), Message("assistant", "hello")),
        renderer="qwen3-coder",
        parser="qwen3-coder",
        requires="0.12.0",
        quantization="Q4_K_M",
        parent_model="qwen3:latest",
        capabilities=("completion", "tools"),
        shape="0123456789abcdef",
    )
    store = await Store.open(tmp_path / "db")
    await store.cache_specs({"e" * 64: spec})
    await store.close()
    store = await Store.open(tmp_path / "db")
    try:  # closed either way: an open store's thread would hold pytest at exit
        assert await store.cached_specs(["e" * 64]) == {"e" * 64: spec}
    finally:
        await store.close()


async def test_failed_build_shows_until_a_later_build_succeeds(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "db")
    first = await store.start_event(HOST, "m:latest", "build", base="b:latest")
    await store.finish_event(first, "failed", error="boom")
    assert await store.failed_builds(HOST) == {"m:latest": "boom"}
    second = await store.start_event(HOST, "m:latest", "build", base="b:latest")
    await store.finish_event(second, "success", digest_after="d" * 64)
    assert await store.failed_builds(HOST) == {}
    history = await store.history(HOST, "m:latest")
    assert [(e.kind, e.status) for e in history] == [("build", "success"), ("build", "failed")]
    await store.close()


async def test_two_instances_write_at_once_without_locking_errors(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    one, two = await Store.open(path), await Store.open(path)

    async def hammer(store: Store, tag: str) -> None:
        for i in range(40):
            facts = ModelFacts(f"{tag}{i}:latest", f"{i:064x}", i, "t", "", None)
            await store.save_models(HOST, [facts], [])
            await store.save_upstream(HOST, {facts.name: Upstream(digest=facts.digest)})
            link = Link(facts.name, "base:latest", None, "recorded")
            await store.save_recipes(HOST, [StoredRecipe(link, "FROM base:latest\n")])
            event = await store.start_event(HOST, facts.name, "build")
            await store.finish_event(event, "success")

    await asyncio.gather(hammer(one, "a"), hammer(two, "b"))
    assert len(await one.models(HOST)) == 80
    assert len(await two.recipes(HOST)) == 80
    await one.close()
    await two.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


async def test_a_file_that_is_not_a_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"my notes, not sqlite\n" * 100)
    with pytest.raises(StoreError, match="cannot use the database"):
        await Store.open(path)
    assert path.read_bytes() == b"my notes, not sqlite\n" * 100


async def test_backups_of_a_model_come_oldest_first_and_only_its_own(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "db")
    await store.add_backup(HOST, "m:latest.bak-1", "m:latest")
    await store.add_backup(HOST, "other:latest.bak-1", "other:latest")
    await store.add_backup(HOST, "m:latest.bak-2", "m:latest")
    assert await store.backups_of(HOST, "m:latest") == ["m:latest.bak-1", "m:latest.bak-2"]
    assert await store.backups_of("elsewhere:1", "m:latest") == []
    await store.close()


async def test_the_store_keeps_what_the_app_uses_of_a_show_never_its_tensors(
    tmp_path: Path,
) -> None:
    """A real show is tens of KB; the row the app keeps is the typed spec alone."""
    recorded = Path(__file__).parents[1] / "conformance" / "recordings" / "ollama-0.33.0-rc2"
    (path,) = recorded.glob("*-show-verbose.json")
    show = json.loads(path.read_text())["response"]["body"]
    store = await Store.open(tmp_path / "db")
    await store.cache_specs({"d" * 64: parse_show(show)})
    await store.close()
    with sqlite3.connect(tmp_path / "db") as db:
        (row,) = db.execute("SELECT json FROM specs").fetchone()
    assert "tensors" not in row and "model_info" not in row and "token_embd" not in row
    assert json.loads(row)["parameters"]["num_ctx"] == 20000


async def test_a_license_many_models_share_is_stored_once(tmp_path: Path) -> None:
    license_text = "Apache License\nVersion 2.0, January 2004\n" + "terms and conditions " * 400
    template = "{{ .System }}" + " {{ .Prompt }}" * 40
    specs = {
        f"{n}" * 64: ModelSpec(
            weights="w" * 64, template=template, licenses=(license_text, f"own {n}")
        )
        for n in "abc"
    }
    store = await Store.open(tmp_path / "db")
    await store.cache_specs(specs)
    await store.cache_specs({"d" * 64: specs["a" * 64]})  # a later batch: nothing new to keep
    assert await store.cached_specs([*specs, "d" * 64]) == {**specs, "d" * 64: specs["a" * 64]}
    await store.close()
    with sqlite3.connect(tmp_path / "db") as db:
        rows = [r[0] for r in db.execute("SELECT json FROM specs")]
        texts = [r[0] for r in db.execute("SELECT text FROM texts")]
    assert not any("terms and conditions" in row for row in rows)
    assert sorted(texts) == sorted([license_text, template, "own a", "own b", "own c"])
    assert all(len(row) < 1000 for row in rows)


async def test_a_spec_stored_before_shared_texts_still_reads(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "db")
    await store.close()
    spec = ModelSpec(weights="w" * 64, template="T" * 300, licenses=("L" * 500,))
    with sqlite3.connect(tmp_path / "db") as db:  # as schema 4 wrote it: texts inline
        db.execute("INSERT INTO specs VALUES (?, ?)", ("e" * 64, json.dumps(spec.to_json())))
    store = await Store.open(tmp_path / "db")
    assert await store.cached_specs(["e" * 64]) == {"e" * 64: spec}
    await store.close()


async def test_a_spec_whose_shared_text_is_gone_is_asked_for_again(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "db")
    await store.cache_specs({"f" * 64: ModelSpec(weights="w" * 64, licenses=("L" * 500,))})
    await store.close()
    with sqlite3.connect(tmp_path / "db") as db:
        db.execute("DELETE FROM texts")
    store = await Store.open(tmp_path / "db")
    assert await store.cached_specs(["f" * 64]) == {}
    await store.close()


async def test_two_first_starts_at_the_same_moment_both_open_the_new_database(
    tmp_path: Path,
) -> None:
    for attempt in range(5):
        path = tmp_path / f"fresh-{attempt}.sqlite3"
        stores = await asyncio.gather(Store.open(path), Store.open(path))
        for store in stores:
            await store.save_models(HOST, [ModelFacts("m:latest", "a" * 64, 1, "t", "", None)], [])
            await store.close()
        with sqlite3.connect(path) as raw:
            assert raw.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def older_database(path: Path, version: int) -> None:
    """A database as an older release left it: its migrations only, and one model."""
    with sqlite3.connect(path) as raw:
        for script in MIGRATIONS[:version]:
            raw.executescript(script)
        raw.execute(f"PRAGMA user_version = {version}")
        raw.execute(
            "INSERT INTO models VALUES ('h', 'm:latest', 'd', 1, 't', '', 'w', 0, '', '', '', NULL)"
        )


async def test_an_older_database_is_brought_up_to_date_keeping_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    older_database(path, 3)
    store = await Store.open(path)
    assert list(await store.models("h")) == ["m:latest"]
    await store.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert raw.execute("SELECT edited FROM links").fetchall() == []  # schema 4's column


async def test_a_migration_that_fails_leaves_the_old_schema_whole(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    older_database(path, 3)
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE texts (x)")  # schema 5's table, made by someone else
    with pytest.raises(StoreError, match="cannot use the database"):
        await Store.open(path)
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 3
        columns = [row[1] for row in raw.execute("PRAGMA table_info(links)")]
        assert "edited" not in columns  # schema 4 was not half applied either


async def test_histories_of_several_models_come_in_one_answer_oldest_first(
    tmp_path: Path,
) -> None:
    store = await Store.open(tmp_path / "db")
    for digest, weights in (("a", "w1"), ("b", "w2")):
        facts = ModelFacts("qwq:latest", digest * 64, 1, "t", "", weights)
        await store.save_models(HOST, [facts], [])
    await store.save_models(HOST, [ModelFacts("phi4:latest", "c" * 64, 1, "t", "", "w3")], [])
    assert await store.digest_histories(HOST, ["qwq:latest", "phi4:latest", "never:seen"]) == {
        "qwq:latest": [("a" * 64, "w1"), ("b" * 64, "w2")],
        "phi4:latest": [("c" * 64, "w3")],
        "never:seen": [],
    }
    await store.close()


async def test_lookups_of_more_than_one_statement_can_bind_miss_nothing(tmp_path: Path) -> None:
    """Specs, texts and histories are asked 500 at a time: a fleet's worth crosses that."""
    store = await Store.open(tmp_path / "db")
    try:
        license = "LICENSE " * 100  # long enough to be kept once in `texts`
        specs = {f"{i:064x}": ModelSpec(weights=f"w{i}", licenses=(license,)) for i in range(1200)}
        await store.cache_specs(specs)
        assert await store.cached_specs([*specs, "f" * 64]) == specs
        facts = [ModelFacts(f"m{i}:latest", f"{i:064x}", 1, "t", "", f"w{i}") for i in range(600)]
        await store.save_models(HOST, facts, [])
        histories = await store.digest_histories(HOST, [f.name for f in facts])
        assert histories == {f.name: [(f.digest, f.weights_blob)] for f in facts}
    finally:
        await store.close()


async def test_a_first_start_waits_for_another_that_is_writing_the_new_database(
    tmp_path: Path,
) -> None:
    """SQLite refuses the switch to WAL at once while another connection writes in the old
    journal mode, as a second first start sees the first one's schema script."""
    path = tmp_path / "fresh.sqlite3"
    first = sqlite3.connect(path, isolation_level=None)
    first.execute("BEGIN")
    first.execute("CREATE TABLE scratch (a)")  # holds the write lock
    opening = asyncio.ensure_future(Store.open(path))
    done, _ = await asyncio.wait([opening], timeout=0.5)  # time to fail, as it did at once
    assert not done
    first.execute("ROLLBACK")
    first.close()
    store = await opening
    await store.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_old_history_is_forgotten_but_never_what_the_tree_reads(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "db")
    try:
        old_build = await store.start_event(HOST, "a:latest", "build")
        await store.finish_event(old_build, "success", digest_after="d1")
        old_pull = await store.start_event(HOST, "a:latest", "pull")
        await store.finish_event(old_pull, "failed", error="offline")
        old_check = await store.start_event(HOST, "b:latest", "check")
        await store.finish_event(old_check, "success")
        last_change = await store.start_event(HOST, "b:latest", "rollback")
        await store.finish_event(last_change, "success", digest_after="d2")
        recent = await store.start_event(HOST, "b:latest", "check")
        await store.finish_event(recent, "failed")
        with sqlite3.connect(tmp_path / "db") as raw:  # all but the last one, 100 days ago
            raw.execute(
                "UPDATE events SET started_at = started_at - 8640000 WHERE id != ?", (recent,)
            )
        known = await store.known_digests(HOST)
        assert await store.prune_history(HOST, before=time.time() - 90 * 86400) == 2
        assert {e.id for e in await store.history(HOST)} == {old_build, last_change, recent}
        assert await store.known_digests(HOST) == known
        assert [e.id for e in await store.history(HOST, "b:latest", limit=1)] == [recent]
    finally:
        await store.close()
