"""A rebuild that changes nothing keeps nothing, and pruning never loses an only copy.

The story a real Ollama showed: a parent rolled back and rebuilt in bulk comes back as the
version its child was built on, so the child is fresh again and must be left alone.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from ollama_lineage.cli import main
from ollama_lineage.fake_ollama import FakeOllama

CHILD, GRANDCHILD = "qwq:latest_20K", "qwq:latest_20K-coder"


def run(fake: FakeOllama, db: Path, *args: str) -> int:
    return main([*args, "--host", fake.host, "--db", str(db), "--registry", fake.registry_url])


def backups_of(fake: FakeOllama, name: str) -> dict[str, str | None]:
    return {n: fake.digest(n) for n in fake.model_names() if n.startswith(name + ".bak-")}


def created(fake: FakeOllama) -> list[str]:
    return [r.body["model"] for r in fake.requests if r.path == "/api/create"]


def test_after_a_rollback_a_bulk_rebuild_leaves_the_fresh_child_and_its_old_backup(
    fake: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "db"
    old_child, old_coder = fake.digest(CHILD), fake.digest(GRANDCHILD)
    fake.pull("qwq:latest")
    assert run(fake, db, "rebuild", "--all-stale", "--yes") == 0
    new_coder = fake.digest(GRANDCHILD)
    assert new_coder != old_coder
    assert list(backups_of(fake, GRANDCHILD).values()) == [old_coder]

    assert run(fake, db, "rollback", CHILD, "--yes") == 0
    fake.clear_requests()
    capsys.readouterr()
    assert run(fake, db, "rebuild", "--all-stale", "--yes") == 0
    out = capsys.readouterr().out

    assert CHILD in created(fake)
    assert GRANDCHILD not in created(fake)  # its parent came back as it was built on
    assert f"{GRANDCHILD}: nothing to rebuild, now fresh" in out
    assert fake.digest(GRANDCHILD) == new_coder
    # The old version's only copy is still there, and no copy of the live model was added.
    assert list(backups_of(fake, GRANDCHILD).values()) == [old_coder]
    assert list(backups_of(fake, CHILD).values()) == [old_child]  # one copy of it is enough


def test_a_rebuild_giving_the_same_digest_is_unchanged_and_keeps_no_backup(
    fake: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "db"
    old_coder = fake.digest(GRANDCHILD)
    fake.pull("qwq:latest")
    assert run(fake, db, "rebuild", "--all-stale", "--yes") == 0
    live = fake.digest(GRANDCHILD)
    capsys.readouterr()
    fake.clear_requests()

    assert run(fake, db, "rebuild", GRANDCHILD, "--yes") == 0  # fresh: the create is a no-op

    assert created(fake) == [GRANDCHILD]
    assert fake.digest(GRANDCHILD) == live
    assert list(backups_of(fake, GRANDCHILD).values()) == [old_coder]  # nothing pruned
    assert f"{GRANDCHILD}: unchanged ({live[:12]}" in capsys.readouterr().out  # type: ignore[index]
    # History says why no backup was kept: dropped as the same as the model, not pruned.
    run(fake, db, "history", GRANDCHILD, "--json")
    events = json.loads(capsys.readouterr().out)
    assert [e["kind"] for e in events].count("delete backup") == 0
    build = next(e for e in events if e["kind"] == "build")
    log = build["log"].splitlines()
    assert "unchanged: the create gave the digest the model already had" in log
    assert log[-1].startswith("deleted ") and log[-1].endswith(", the same as the model")
    with sqlite3.connect(db) as connection:  # and the database no longer lists it
        rows = connection.execute("SELECT backup FROM backups WHERE original = ?", [GRANDCHILD])
        assert [backup for (backup,) in rows] == list(backups_of(fake, GRANDCHILD))


def test_an_unchanged_rebuild_whose_backup_cannot_be_deleted_still_succeeds_and_says_so(
    fake: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "db"
    fake.pull("qwq:latest")
    assert run(fake, db, "rebuild", "--all-stale", "--yes") == 0
    before = set(backups_of(fake, GRANDCHILD))
    fake.fail("/api/delete", status=500, error="busy")
    assert run(fake, db, "rebuild", GRANDCHILD, "--yes") == 0
    (kept,) = set(backups_of(fake, GRANDCHILD)) - before  # left for `backups` to list
    capsys.readouterr()
    run(fake, db, "history", GRANDCHILD, "--json")
    build = next(e for e in json.loads(capsys.readouterr().out) if e["kind"] == "build")
    assert build["status"] == "success"
    assert f"could not delete the backup {kept}: Ollama: busy" in build["log"].splitlines()
