"""Recipes as code: export --all, plan and apply against the stand-in server."""

from __future__ import annotations

import asyncio
import difflib
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from ollama_lineage.cli import main
from ollama_lineage.config import Settings
from ollama_lineage.core.lineage import ModelFacts, build_snapshot
from ollama_lineage.core.modelfile import parse_modelfile
from ollama_lineage.core.names import InvalidModelName
from ollama_lineage.fake_ollama import FakeOllama
from ollama_lineage.ollama.client import Progress
from ollama_lineage.services.rebuild import Refused
from ollama_lineage.services.recipes import (
    Recorded,
    create_model,
    file_name,
    find_drift,
    model_name,
)
from ollama_lineage.services.session import open_session

BASE, CHILD, GRANDCHILD = "qwq:latest", "qwq:latest_20K", "qwq:latest_20K-coder"
MARIO = "llama3.2:latest-mario"


def run(fake: FakeOllama, db: Path, *args: str) -> int:
    # The registry is the stand-in's: a derivative whose lineage is a guess is rebuilt in bulk
    # only once the registry says it is not a pulled model.
    return main([*args, "--host", fake.host, "--db", str(db), "--registry", fake.registry_url])


def writes(fake: FakeOllama) -> list[tuple[str, str]]:
    """Every request that changes the server, as (route, model)."""
    found = []
    for r in fake.requests:
        if r.path == "/api/copy":
            found.append(("copy", r.body["destination"]))
        elif r.path in ("/api/create", "/api/delete"):
            found.append((r.path.rsplit("/", 1)[1], r.body["model"]))
    return found


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "lineage.sqlite3"


@pytest.fixture
def folder(fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """The demo with its stale model rebuilt, exported: the server matches the folder."""
    assert run(fake, db, "rebuild", "--all-stale", "--yes") == 0
    recipes = tmp_path / "recipes"
    assert run(fake, db, "export", "--all", str(recipes)) == 0
    capsys.readouterr()
    fake.clear_requests()
    return recipes


def plan(
    fake: FakeOllama, db: Path, folder: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str, str]:
    """Exit code, stdout with the name column's padding squeezed to one space, stderr."""
    capsys.readouterr()
    code = run(fake, db, "plan", str(folder), *extra)
    out, err = capsys.readouterr()
    squeezed = "\n".join(" ".join(line.split()) for line in out.splitlines())
    return code, squeezed + "\n", err


# --- file names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "file"),
    [
        ("qwq:latest_20K", "qwq@latest_20K.Modelfile"),
        ("me/coder:7b", "me+coder@7b.Modelfile"),
        ("reg.local:5000/team/m:v1.2", "reg.local@5000+team+m@v1.2.Modelfile"),
    ],
)
def test_file_names_map_both_ways(name: str, file: str) -> None:
    assert file_name(name) == file
    assert model_name(file) == name


def test_a_file_name_without_a_tag_means_latest() -> None:
    assert model_name("qwq.Modelfile") == "qwq:latest"


def test_a_file_name_without_the_suffix_is_no_recipe() -> None:
    with pytest.raises(InvalidModelName) as refused:
        model_name("qwq.txt")
    why = "a recipe file's name ends in .Modelfile"
    assert (str(refused.value), refused.value.reason) == (
        f"invalid model name 'qwq.txt': {why}",
        why,
    )


# --- export ---------------------------------------------------------------------------------


def test_export_all_writes_one_recipe_per_tracked_derivative(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "recipes"
    assert run(fake, db, "export", "--all", str(out_dir)) == 0
    out, err = capsys.readouterr()
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "llama3.2@latest-mario.Modelfile",
        "qwq@latest_20K-coder.Modelfile",
        "qwq@latest_20K.Modelfile",
    ]
    # FROM the base's name and only the overrides: what `ollama create -f` takes.
    assert (out_dir / "qwq@latest_20K.Modelfile").read_text() == (
        "FROM qwq:latest\nPARAMETER num_ctx 20000\nPARAMETER num_thread 16\n"
    )
    coder = (out_dir / "qwq@latest_20K-coder.Modelfile").read_text()
    assert coder.startswith("FROM qwq:latest_20K\n") and "TEMPLATE" not in coder
    assert "wrote 3 recipes" in out
    assert "skipped mistral:7b-long" in err  # orphaned: its base is gone
    assert writes(fake) == []
    # export NAME keeps working and says the same thing.
    assert run(fake, db, "export", CHILD) == 0
    assert capsys.readouterr().out == (out_dir / "qwq@latest_20K.Modelfile").read_text()


def test_export_then_plan_has_nothing_to_do(
    fake: FakeOllama, db: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = plan(fake, db, folder, capsys)
    assert code == 0
    assert out.strip() == "No changes: the server matches the folder (3 models)."
    assert writes(fake) == []


# --- edit → plan → apply → plan ---------------------------------------------------------------


def test_an_edited_file_is_planned_applied_and_then_plans_clean(
    fake: FakeOllama, db: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = folder / "qwq@latest_20K.Modelfile"
    path.write_text(path.read_text().replace("num_ctx 20000", "num_ctx 32768"))

    code, out, _ = plan(fake, db, folder, capsys)
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith(f"~ {CHILD}") and "recipe changed" in lines[0]
    assert "- PARAMETER num_ctx 20000" in out and "+ PARAMETER num_ctx 32768" in out
    assert f"~ {GRANDCHILD}" in out and f"its base {CHILD} is rebuilt first" in out
    assert lines[-1] == (
        "Plan: 0 to create, 2 to rebuild, 0 drifted (rebuilt from the file), 0 to delete;"
        " 1 unchanged."
    )
    assert writes(fake) == []

    assert run(fake, db, "apply", str(folder), "--yes") == 0
    out = capsys.readouterr().out
    creates = [r.body for r in fake.requests if r.path == "/api/create"]
    assert [c["model"] for c in creates] == [CHILD, GRANDCHILD]  # parents first
    assert creates[0]["from"] == BASE
    assert creates[0]["parameters"] == {"num_ctx": 32768, "num_thread": 16}
    ops = writes(fake)
    assert ops[0][0] == "copy" and ops[0][1].startswith(f"{CHILD}.bak-")  # backup first
    assert ops.index(("create", CHILD)) < ops.index(("create", GRANDCHILD))
    assert MARIO not in {model for _, model in ops}
    assert f"~ {CHILD}: rebuilt from {BASE}" in out
    assert out.splitlines()[-1] == "Apply complete: 0 created, 2 rebuilt, 0 deleted."

    code, out, _ = plan(fake, db, folder, capsys)
    assert (code, out.strip()) == (0, "No changes: the server matches the folder (3 models).")


def test_after_a_rollback_the_server_differs_from_the_recipe_and_plan_says_so(
    fake: FakeOllama, db: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Seen on a real Ollama: num_ctx 16384 applied from a file, then rolled back (the server
    has 20000 again), and status read fresh while plan said "No changes"."""
    path = folder / "qwq@latest_20K.Modelfile"
    path.write_text(path.read_text().replace("num_ctx 20000", "num_ctx 16384"))
    assert run(fake, db, "apply", str(folder), "--yes") == 0
    assert run(fake, db, "rollback", CHILD, "--yes") == 0
    capsys.readouterr()

    run(fake, db, "status", "--json")
    states = {m["name"]: m for m in json.loads(capsys.readouterr().out)["models"]}
    assert states[CHILD]["state"] == "rolled back"
    assert f"ollama-lineage rebuild {CHILD}" in states[CHILD]["reason"]
    assert states[GRANDCHILD]["state"] != "fresh"  # it was built on the version rolled away

    code, out, _ = plan(fake, db, folder, capsys)
    assert code == 1
    assert f"~ {CHILD} rebuild: rolled back" in out and "No changes" not in out
    # The recipe is still the one to go forward with: apply builds 16384 again.
    fake.clear_requests()
    assert run(fake, db, "apply", str(folder), "--yes") == 0
    creates = [r.body for r in fake.requests if r.path == "/api/create"]
    assert creates[0]["model"] == CHILD and creates[0]["parameters"]["num_ctx"] == 16384
    code, out, _ = plan(fake, db, folder, capsys)
    assert (code, out.strip()) == (0, "No changes: the server matches the folder (3 models).")


def test_tracking_a_rolled_back_model_keeps_that_version_as_its_recipe(
    fake: FakeOllama, db: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = folder / "qwq@latest_20K.Modelfile"
    path.write_text(path.read_text().replace("num_ctx 20000", "num_ctx 16384"))
    assert run(fake, db, "apply", str(folder), "--yes") == 0
    assert run(fake, db, "rollback", CHILD, "--yes") == 0
    assert run(fake, db, "track", CHILD, "--from", BASE) == 0
    capsys.readouterr()
    run(fake, db, "status", "--json")
    states = {m["name"]: m["state"] for m in json.loads(capsys.readouterr().out)["models"]}
    assert states[CHILD] == "fresh"
    assert run(fake, db, "export", CHILD) == 0
    assert "PARAMETER num_ctx 20000" in capsys.readouterr().out


def test_a_new_file_creates_its_model_without_a_backup(
    fake: FakeOllama, db: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "qwq@8k.Modelfile").write_text("FROM qwq:latest\nPARAMETER num_ctx 8192\n")
    code, out, _ = plan(fake, db, folder, capsys)
    assert code == 1
    assert "+ qwq:8k create from qwq:latest" in out
    assert run(fake, db, "apply", str(folder), "--yes") == 0
    assert writes(fake) == [("create", "qwq:8k")]
    (create,) = [r.body for r in fake.requests if r.path == "/api/create"]
    assert create["from"] == BASE and create["parameters"] == {"num_ctx": 8192}
    assert fake.digest("qwq:8k") is not None
    code, _, _ = plan(fake, db, folder, capsys)
    assert code == 0


def test_models_not_in_the_folder_are_never_touched(
    fake: FakeOllama, db: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "qwq@latest_20K-coder.Modelfile").unlink()
    path = folder / "qwq@latest_20K.Modelfile"
    path.write_text(path.read_text().replace("num_thread 16", "num_thread 8"))
    assert run(fake, db, "apply", str(folder), "--yes") == 0
    assert {model for _, model in writes(fake) if not model.startswith(f"{CHILD}.bak-")} == {CHILD}
    code, _, _ = plan(fake, db, folder, capsys)
    assert code == 0  # the coder is stale now, but it is not the folder's business


def test_a_failed_create_holds_back_what_is_built_on_it_and_applies_the_rest(
    fake: FakeOllama, db: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = folder / "qwq@latest_20K.Modelfile"
    path.write_text(path.read_text().replace("num_ctx 20000", "num_ctx 32768"))
    path = folder / "llama3.2@latest-mario.Modelfile"
    path.write_text(path.read_text() + "PARAMETER num_ctx 4096\n")
    run(fake, db, "plan", str(folder), "--json")
    order = [c["name"] for c in json.loads(capsys.readouterr().out)["changes"]]
    assert order.index(CHILD) < order.index(GRANDCHILD) and MARIO in order
    fake.fail("/api/create", nth=order.index(CHILD) + 1, status=500, error="out of disk")

    assert run(fake, db, "apply", str(folder), "--yes") == 1
    out, err = capsys.readouterr()
    assert f"~ {CHILD}: rebuild of {CHILD} failed, old model kept" in err and "out of disk" in err
    assert f"~ {GRANDCHILD}: held back, built on {CHILD}, which is failed in this run" in out
    assert ("create", GRANDCHILD) not in writes(fake)  # never built on a failed parent
    assert ("create", MARIO) in writes(fake)  # a model not built on it still goes ahead
    assert (
        out.splitlines()[-1] == "Apply stopped short: 0 created, 1 rebuilt, 0 deleted; 2 held back."
    )
    code, out, _ = plan(fake, db, folder, capsys)
    assert code == 1 and f"~ {CHILD}" in out and MARIO not in out


def test_apply_leaves_a_pinned_model_and_what_is_built_on_it(
    fake: FakeOllama, db: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for file in ("qwq@latest_20K.Modelfile", "qwq@latest_20K-coder.Modelfile"):
        path = folder / file
        path.write_text(path.read_text() + "PARAMETER num_predict 128\n")
    assert run(fake, db, "pin", CHILD) == 0

    code, out, _ = plan(fake, db, folder, capsys)
    assert code == 1
    assert f"held back: pinned (ollama-lineage unpin {CHILD} to apply it)" in out
    assert f"held back: built on {CHILD}, which is pinned" in out
    assert out.splitlines()[-1].endswith("; 2 held back.")

    assert run(fake, db, "apply", str(folder), "--yes") == 1
    out = capsys.readouterr().out
    assert writes(fake) == []
    assert f"~ {CHILD}: held back, pinned" in out
    assert (
        out.splitlines()[-1] == "Apply stopped short: 0 created, 0 rebuilt, 0 deleted; 2 held back."
    )

    assert run(fake, db, "unpin", CHILD) == 0
    assert run(fake, db, "apply", str(folder), "--yes") == 0
    assert [m for op, m in writes(fake) if op == "create"] == [CHILD, GRANDCHILD]


# --- drift ----------------------------------------------------------------------------------


def test_a_model_recreated_outside_is_drift_and_apply_puts_the_recipe_back(
    fake: FakeOllama, db: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = fake.digest(CHILD)
    fake.create(CHILD, from_=BASE, parameters={"num_ctx": 4096})
    code, out, _ = plan(fake, db, folder, capsys)
    assert code == 1
    assert out.splitlines()[0].startswith(f"! {CHILD} drift: changed outside ollama-lineage")
    assert "1 drifted" in out
    assert run(fake, db, "apply", str(folder), "--yes") == 0
    creates = [r.body for r in fake.requests if r.path == "/api/create"]
    assert creates[0]["model"] == CHILD
    assert creates[0]["parameters"] == {"num_ctx": 20000, "num_thread": 16}
    assert fake.digest(CHILD) == before  # the recipe's model again
    backups = [model for op, model in writes(fake) if op == "copy"]
    assert backups and backups[0].startswith(f"{CHILD}.bak-")  # the outside version is kept
    code, _, _ = plan(fake, db, folder, capsys)
    assert code == 0


def test_adopting_the_server_version_turns_drift_into_a_recipe_change(
    fake: FakeOllama, db: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.create(CHILD, from_=BASE, parameters={"num_ctx": 4096, "num_thread": 16})
    assert run(fake, db, "track", CHILD, "--from", BASE) == 0
    code, out, _ = plan(fake, db, folder, capsys)
    assert code == 1
    assert f"~ {CHILD} rebuild: recipe changed" in out and "drift:" not in out
    assert "- PARAMETER num_ctx 4096" in out


def test_find_drift_compares_with_the_recorded_digest() -> None:
    snapshot = build_snapshot(
        [
            ModelFacts("b:latest", "d-base", weights_blob="w"),
            ModelFacts("x:latest", "d-half", parent_model="b:latest", weights_blob="w"),
            ModelFacts("c:latest", "d-now", parent_model="b:latest", weights_blob="w"),
            ModelFacts("e:latest", "d-same", parent_model="b:latest", weights_blob="w"),
        ],
        building=frozenset({"x:latest"}),
    )
    drift = find_drift(
        snapshot,
        {
            "b:latest": Recorded("d-old", "first seen"),  # a base moving is no drift
            "gone:latest": Recorded("d-gone", "built"),  # deleted since
            "x:latest": Recorded("d-then", "built"),  # being rebuilt right now
            "c:latest": Recorded("d-then", "built"),
            "e:latest": Recorded("d-same", "first seen"),
        },
    )
    assert list(drift) == ["c:latest"]
    assert drift["c:latest"].current == "d-now"
    assert "built as d-then" in drift["c:latest"].reason


# --- asking, prune, JSON ----------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def edit_child(folder: Path) -> None:
    path = folder / "qwq@latest_20K.Modelfile"
    path.write_text(path.read_text().replace("num_ctx 20000", "num_ctx 16384"))


def test_apply_without_yes_shows_the_plan_and_asks(
    fake: FakeOllama,
    db: Path,
    folder: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    edit_child(folder)
    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    assert run(fake, db, "apply", str(folder)) == 0
    out = capsys.readouterr().out
    assert f"~ {CHILD}" in out and "nothing applied" in out
    assert writes(fake) == []
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    assert run(fake, db, "apply", str(folder)) == 0
    assert ("create", CHILD) in writes(fake)


def test_apply_without_yes_on_a_pipe_refuses(
    fake: FakeOllama,
    db: Path,
    folder: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    edit_child(folder)
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    assert run(fake, db, "apply", str(folder)) == 2
    out, err = capsys.readouterr()
    assert f"~ {CHILD}" in out and "pass --yes" in err
    assert writes(fake) == []


def test_prune_deletes_only_models_this_app_created(
    fake: FakeOllama, db: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "qwq@8k.Modelfile").write_text("FROM qwq:latest\nPARAMETER num_ctx 8192\n")
    assert run(fake, db, "apply", str(folder), "--yes") == 0
    (folder / "qwq@8k.Modelfile").unlink()
    (folder / "llama3.2@latest-mario.Modelfile").unlink()  # not created by this app
    code, out, _ = plan(fake, db, folder, capsys)
    assert code == 0  # without --prune, nothing is ever deleted
    code, out, _ = plan(fake, db, folder, capsys, "--prune")
    assert code == 1
    assert "- qwq:8k delete" in out and MARIO not in out
    fake.clear_requests()
    assert run(fake, db, "apply", str(folder), "--yes") == 0
    assert writes(fake) == []
    assert run(fake, db, "apply", str(folder), "--yes", "--prune") == 0
    assert writes(fake) == [("delete", "qwq:8k")]
    assert fake.digest(MARIO) is not None


def test_plan_json_lists_changes_and_a_summary(
    fake: FakeOllama, db: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_child(folder)
    code, out, _ = plan(fake, db, folder, capsys, "--json")
    assert code == 1
    data = json.loads(out)
    assert [(c["name"], c["action"]) for c in data["changes"]] == [
        (CHILD, "rebuild"),
        (GRANDCHILD, "rebuild"),
    ]
    assert data["summary"] == {"create": 0, "rebuild": 2, "drift": 0, "delete": 0, "unchanged": 1}


# --- bad input: refused before anything is sent ----------------------------------------------


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_a_broken_file_names_file_and_line_and_sends_nothing(
    fake: FakeOllama, db: Path, folder: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    path = folder / "qwq@latest_20K.Modelfile"
    path.write_text("FROM qwq:latest\nPARAMETER num_ctx abc\n")
    extra = ["--yes"] if command == "apply" else []
    code = run(fake, db, command, str(folder), *extra)
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == (
        f'error: {path}: line 2: PARAMETER num_ctx: "abc" is not an integer (invalid int value)'
    )
    assert fake.requests == []


def test_two_files_for_one_model_are_refused(
    fake: FakeOllama, db: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "qwq@latest_20K-coder.Modelfile").unlink()
    (folder / "QWQ@LATEST_20k.Modelfile").write_text("FROM qwq:latest\n")
    assert run(fake, db, "apply", str(folder), "--yes") == 2
    err = capsys.readouterr().err
    assert "qwq:latest_20K already has a recipe in" in err or "already has a recipe" in err
    assert fake.requests == []


def test_a_cycle_is_refused(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "loop"
    folder.mkdir()
    (folder / "a.Modelfile").write_text("FROM b\n")
    (folder / "b.Modelfile").write_text("FROM a\n")
    assert run(fake, db, "plan", str(folder)) == 2
    err = capsys.readouterr().err
    assert "error: cycle: a.Modelfile → b.Modelfile → a.Modelfile" in err
    assert fake.requests == []


def test_a_from_that_names_no_model_is_refused_before_any_change(
    fake: FakeOllama, db: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "x.Modelfile").write_text("FROM nosuch:model\nPARAMETER num_ctx 8\n")
    assert run(fake, db, "apply", str(folder), "--yes") == 2
    err = capsys.readouterr().err
    assert "FROM nosuch:model names no model on" in err
    assert writes(fake) == []


# --- templates are checked; recipes keep their past ---------------------------------------------


def links_row(db: Path, child: str) -> tuple[object, ...]:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT * FROM links WHERE child = ?", (child,)).fetchone()
    assert row is not None
    return tuple(row)


def test_a_template_go_would_refuse_keeps_the_old_recipe_byte_for_byte(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Seen on a real Ollama: `track -f` took TEMPLATE \"\"\"{{ .Prompt\"\"\"; the rebuild then
    failed on the server ("unclosed action") with the recipe's other lines already lost."""
    assert run(fake, db, "status") == 1
    before = links_row(db, CHILD)
    bad = tmp_path / "Modelfile"
    bad.write_text('FROM qwq:latest\nPARAMETER num_ctx 20000\nTEMPLATE """{{ .Prompt"""\n')
    fake.clear_requests()
    capsys.readouterr()

    assert run(fake, db, "track", CHILD, "--from", BASE, "-f", str(bad)) == 2
    err = capsys.readouterr().err
    assert "line 3" in err and "TEMPLATE" in err and "unclosed action" in err
    assert links_row(db, CHILD) == before
    assert writes(fake) == [] and not [r for r in fake.requests if r.path == "/api/show"]


def test_a_replaced_recipe_is_kept_shown_in_history_and_can_be_brought_back(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(fake, db, "export", CHILD) == 0
    original = capsys.readouterr().out
    edited = tmp_path / "Modelfile"
    edited.write_text("FROM qwq:latest\nPARAMETER num_ctx 4096\n")
    assert run(fake, db, "track", CHILD, "--from", BASE, "-f", str(edited)) == 0
    capsys.readouterr()

    assert run(fake, db, "recipe", CHILD) == 0
    out = capsys.readouterr().out
    assert out.index("PARAMETER num_ctx 4096") < out.index("PARAMETER num_ctx 20000")
    assert "# 1: replaced" in out and f"recipe {CHILD} --revert 1" in out
    assert run(fake, db, "history", CHILD) == 0
    assert "recipe edit" in capsys.readouterr().out
    with sqlite3.connect(db) as raw:
        ((status, digest, log),) = raw.execute(
            "SELECT status, digest_after, log FROM events WHERE name = ? AND kind = ?",
            (CHILD, "recipe edit"),
        ).fetchall()
    assert (status, digest) == ("success", fake.digest(CHILD))
    old_lines, new_lines = original.splitlines(), edited.read_text().splitlines()
    diff = "\n".join(difflib.unified_diff(old_lines, new_lines, "before", "after", lineterm=""))
    assert log == diff and log.startswith("--- before\n+++ after\n@@ ")  # History's diff
    assert "-PARAMETER num_ctx 20000" in log.splitlines()

    assert run(fake, db, "recipe", CHILD, "--revert", "1") == 0
    capsys.readouterr()
    assert run(fake, db, "export", CHILD) == 0
    assert capsys.readouterr().out == original
    assert run(fake, db, "recipe", CHILD, "--revert", "9") == 2
    assert writes(fake) == []


# --- export for `ollama create -f` ------------------------------------------------------------


def ollama_create_misses(modelfile: Path) -> list[str]:
    """ADAPTER values `ollama create -f` could not read: parser/parser.go stats each one as a
    file (relative to the Modelfile's folder) and uploads it by digest."""
    missing = []
    for line in modelfile.read_text().splitlines():
        if line.startswith("ADAPTER "):
            value = line.removeprefix("ADAPTER ").strip().strip('"')
            if not (modelfile.parent / Path(value).expanduser()).is_file():
                missing.append(value)
    return missing


def test_export_names_a_lora_by_a_file_ollama_create_can_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Seen on a real Ollama: `export` wrote `ADAPTER sha256:702b…`, and `ollama create -f`
    failed with `stat …/sha256:702b…: no such file or directory`."""
    db, name = tmp_path / "db", "qwq:latest-lora"
    with FakeOllama(scenario="traps") as fake:
        args = ("--host", fake.host, "--db", str(db), "--registry", fake.registry_url)
        assert main(["export", name, *args, "--models-dir", "none"]) == 0
        blind = capsys.readouterr().out
        (digest,) = parse_modelfile(blind).adapters
        hex_digest = digest.removeprefix("sha256:")
        # No models folder here: the comment says which file to put in the line's place.
        assert f"<models folder>/blobs/sha256-{hex_digest}" in blind
        assert blind.index("# ollama create -f needs the LoRA's file") < blind.index("ADAPTER")

        models = tmp_path / "models"
        blob = models / "blobs" / f"sha256-{hex_digest}"
        blob.parent.mkdir(parents=True)
        blob.write_bytes(b"GGUF")
        out_file = tmp_path / "qwq@latest-lora.Modelfile"
        assert main(["export", name, *args, "--models-dir", str(models), "-o", str(out_file)]) == 0
        assert f"ADAPTER {blob}\n" in out_file.read_text()
        assert ollama_create_misses(out_file) == []
        every = tmp_path / "every"
        assert main(["export", "--all", str(every), *args, "--models-dir", str(models)]) == 0
        assert f"ADAPTER {blob}\n" in (every / "qwq@latest-lora.Modelfile").read_text()
        # And the file reads back as the same recipe: plan sees nothing to do.
        assert parse_modelfile(out_file.read_text()).adapters == (digest,)
        assert main(["plan", str(tmp_path), *args, "--models-dir", str(models)]) == 0
        # What follows ADAPTER is kept too.
        lora = tmp_path / "Modelfile"
        lora.write_text(f"FROM qwq:latest\nADAPTER {digest}\nPARAMETER num_ctx 4096\n")
        assert main(["track", name, "--from", "qwq:latest", "-f", str(lora), *args]) == 0
        capsys.readouterr()
        assert main(["export", name, *args, "--models-dir", str(models)]) == 0
        assert (
            capsys.readouterr().out == f"FROM qwq:latest\nADAPTER {blob}\nPARAMETER num_ctx 4096\n"
        )


def test_apply_creates_a_parent_before_a_child_whose_name_sorts_first(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipes = tmp_path / "new"
    recipes.mkdir()
    (recipes / "a-child@latest.Modelfile").write_text("FROM z-parent:latest\nSYSTEM Be brief.\n")
    (recipes / "z-parent@latest.Modelfile").write_text("FROM qwq:latest\nPARAMETER num_ctx 8192\n")
    fake.clear_requests()
    assert run(fake, db, "apply", str(recipes), "--yes") == 0, capsys.readouterr()
    assert writes(fake) == [("create", "z-parent:latest"), ("create", "a-child:latest")]


def test_a_file_whose_name_is_no_model_name_says_why(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipes = tmp_path / "bad"
    recipes.mkdir()
    (recipes / "-m.Modelfile").write_text("FROM qwq:latest\n")
    assert run(fake, db, "plan", str(recipes)) == 2  # bad input
    assert capsys.readouterr().err == (
        f"error: {recipes / '-m.Modelfile'}: the file name is no model name"
        " (model '-m' must start with a letter, digit or '_')\n"
    )


# --- what apply tells and what History keeps of a create -------------------------------------


def history(
    fake: FakeOllama, db: Path, capsys: pytest.CaptureFixture[str], name: str
) -> list[dict[str, Any]]:
    """`history NAME --json`, newest first."""
    capsys.readouterr()
    assert run(fake, db, "history", name, "--json") == 0
    return list(json.loads(capsys.readouterr().out))


def progress_lines(out: str, after: str, upto: str) -> list[str]:
    """The progress `apply -v` printed between the lines that start with ``after`` and ``upto``."""
    start = out.index(after)
    lines = out[start : out.index(upto, start)].splitlines()
    return [line.strip() for line in lines if line[:2] == "  " and line[2:3].islower()]


def test_apply_names_what_it_made_and_history_keeps_the_create(
    fake: FakeOllama, db: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "qwq@8k.Modelfile").write_text("FROM qwq:latest\nPARAMETER num_ctx 8192\n")
    edit_child(folder)
    assert run(fake, db, "apply", str(folder), "--yes", "-v") == 0
    out = capsys.readouterr().out
    new, child = fake.digest("qwq:8k"), fake.digest(CHILD)
    assert new is not None and child is not None
    (backup,) = [
        model for op, model in writes(fake) if op == "copy" and model.startswith(f"{CHILD}.bak-")
    ]
    assert f"+ qwq:8k: created from {BASE} ({new[:12]})\n" in out
    assert f"~ {CHILD}: rebuilt from {BASE} ({child[:12]}), backup {backup}\n" in out
    # -v shows each create's progress as it comes, for a new model and for a rebuild.
    created = progress_lines(out, "+ qwq:8k: create request", "+ qwq:8k: created")
    assert created[-2:] == ["writing manifest", "success"]
    rebuilt = progress_lines(out, f"~ {CHILD}: create request", f"~ {CHILD}: rebuilt")
    assert rebuilt[-2:] == ["writing manifest", "success"]

    (event,) = history(fake, db, capsys, "qwq:8k")
    assert (event["kind"], event["status"], event["error"]) == ("create", "success", None)
    assert (event["base"], event["base_digest"]) == (BASE, fake.digest(BASE))
    assert event["digest_after"] == new
    assert event["log"] == "\n".join(created)
    # The recipe is recorded as the file's, built from today's base: no guess.
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        link = conn.execute("SELECT * FROM links WHERE child = 'qwq:8k'").fetchone()
    assert (link["base"], link["base_digest"], link["source"]) == (
        BASE,
        fake.digest(BASE),
        "recorded",
    )
    assert (link["guessed"], link["recipe"]) == (0, "FROM qwq:latest\nPARAMETER num_ctx 8192\n")


def test_a_create_that_fails_midstream_is_in_history_with_its_error_and_log(
    fake: FakeOllama, db: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "qwq@8k.Modelfile").write_text("FROM qwq:latest\nPARAMETER num_ctx 8192\n")
    fake.fail("/api/create", mode="midstream", error="out of disk")
    assert run(fake, db, "apply", str(folder), "--yes") == 1
    err = capsys.readouterr().err
    assert err == "+ qwq:8k: create of qwq:8k failed: Ollama: out of disk\n"
    (event,) = history(fake, db, capsys, "qwq:8k")
    assert (event["kind"], event["status"]) == ("create", "failed")
    assert (event["error"], event["digest_after"]) == ("Ollama: out of disk", None)
    lines = event["log"].split("\n")
    assert len(lines) == 2 and all(line.startswith("using existing layer") for line in lines)


def test_a_create_the_server_then_does_not_list_is_failed(
    fake: FakeOllama, db: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def hide_8k(route: str, body: dict[str, Any]) -> dict[str, Any]:
        if route == "/api/tags":
            return {**body, "models": [m for m in body["models"] if m["name"] != "qwq:8k"]}
        return body

    (folder / "qwq@8k.Modelfile").write_text("FROM qwq:latest\nPARAMETER num_ctx 8192\n")
    fake.reshape(hide_8k)
    assert run(fake, db, "apply", str(folder), "--yes") == 1
    why = "the server does not list it after the create"
    assert capsys.readouterr().err == f"+ qwq:8k: create of qwq:8k failed: {why}\n"
    (event,) = history(fake, db, capsys, "qwq:8k")
    assert (event["status"], event["error"]) == ("failed", why)
    assert event["log"].split("\n")[-2:] == ["writing manifest", "success"]


async def test_a_cancelled_create_is_in_history_as_cancelled(
    fake: FakeOllama, tmp_path: Path
) -> None:
    settings = Settings(host=fake.url, db_path=tmp_path / "db", registry=fake.registry_url)
    async with open_session(settings) as session:
        await session.syncer.poll()
        seen: list[str] = []

        def cancel_at_the_second_line(progress: Progress) -> None:
            seen.append(progress.status)
            if len(seen) == 2:
                task.cancel()

        recipe = parse_modelfile("FROM qwq:latest\nPARAMETER num_ctx 8192\n")
        task = asyncio.ensure_future(
            create_model(session, "qwq:8k", recipe, cancel_at_the_second_line)
        )
        with pytest.raises(asyncio.CancelledError):
            await task
        (event,) = await session.store.history(settings.host_key, "qwq:8k")
    assert (event.kind, event.status, event.error) == ("create", "cancelled", None)
    assert event.log == "\n".join(seen)


@pytest.mark.parametrize("base", ["nosuch:latest", "mistral:7b"])  # never there; gone since
async def test_a_create_on_a_base_the_server_lacks_is_refused_before_any_request(
    fake: FakeOllama, tmp_path: Path, base: str
) -> None:
    """apply's plan refuses such a FROM; this is the base deleted between plan and apply."""
    settings = Settings(host=fake.url, db_path=tmp_path / "db", registry=fake.registry_url)
    async with open_session(settings) as session:
        await session.syncer.poll()
        fake.clear_requests()
        recipe = parse_modelfile(f"FROM {base}\n")
        with pytest.raises(Refused) as refused:
            await create_model(session, "qwq:8k", recipe)
        assert await session.store.history(settings.host_key, "qwq:8k") == []
    assert str(refused.value) == f"qwq:8k's base {base} is not on the server; pull it first"
    assert writes(fake) == []


# --- prune: which models, and what History keeps of a delete ----------------------------------


def test_prune_deletes_each_gone_file_and_never_a_base_still_in_use(
    fake: FakeOllama, db: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three models this app created: a base whose child keeps its file (a user), the child,
    and one rebuilt since (so its backup hangs under it). With the base's file and the
    rebuilt one's gone, prune takes only the rebuilt one, next to the other changes."""
    (folder / "a-base@latest.Modelfile").write_text("FROM qwq:latest\nPARAMETER num_ctx 4096\n")
    (folder / "a-kid@latest.Modelfile").write_text("FROM a-base:latest\nSYSTEM Be brief.\n")
    eight_k = folder / "qwq@8k.Modelfile"
    eight_k.write_text("FROM qwq:latest\nPARAMETER num_ctx 8192\n")
    assert run(fake, db, "apply", str(folder), "--yes") == 0
    eight_k.write_text("FROM qwq:latest\nPARAMETER num_ctx 8000\n")
    assert run(fake, db, "apply", str(folder), "--yes") == 0
    assert any(name.startswith("qwq:8k.bak-") for name in fake.model_names())
    (folder / "a-base@latest.Modelfile").unlink()
    eight_k.unlink()
    edit_child(folder)

    code, out, _ = plan(fake, db, folder, capsys, "--prune", "--json")
    assert code == 1
    changes = [(c["name"], c["action"]) for c in json.loads(out)["changes"]]
    assert changes == [(CHILD, "rebuild"), (GRANDCHILD, "rebuild"), ("qwq:8k", "delete")]
    code, out, _ = plan(fake, db, folder, capsys, "--prune")
    assert "- qwq:8k delete: created by ollama-lineage, and its file is gone\n" in out


def test_a_delete_is_in_history_and_a_failed_one_says_why(
    fake: FakeOllama, db: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "qwq@8k.Modelfile").write_text("FROM qwq:latest\nPARAMETER num_ctx 8192\n")
    assert run(fake, db, "apply", str(folder), "--yes") == 0
    digest = fake.digest("qwq:8k")
    (folder / "qwq@8k.Modelfile").unlink()

    fake.fail("/api/delete", status=500, error="model is busy")
    assert run(fake, db, "apply", str(folder), "--yes", "--prune") == 1
    assert capsys.readouterr().err == "- qwq:8k: delete of qwq:8k failed: Ollama: model is busy\n"
    assert fake.digest("qwq:8k") == digest
    failed = history(fake, db, capsys, "qwq:8k")[0]
    assert (failed["kind"], failed["status"]) == ("delete", "failed")
    assert (failed["error"], failed["digest_before"]) == ("Ollama: model is busy", digest)

    assert run(fake, db, "apply", str(folder), "--yes", "--prune") == 0
    assert fake.digest("qwq:8k") is None
    deleted = history(fake, db, capsys, "qwq:8k")[0]
    assert (deleted["kind"], deleted["status"], deleted["error"]) == ("delete", "success", None)
    assert deleted["digest_before"] == digest


# --- what plan says of each kind of change --------------------------------------------------


def test_plan_json_gives_every_field_of_each_kind_of_change(
    fake: FakeOllama, db: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "qwq@4k.Modelfile").write_text("FROM qwq:latest\nPARAMETER num_ctx 4096\n")
    assert run(fake, db, "apply", str(folder), "--yes") == 0
    (folder / "qwq@4k.Modelfile").unlink()
    (folder / "qwq@8k.Modelfile").write_text("FROM qwq:latest\nPARAMETER num_ctx 8192\n")
    edit_child(folder)
    before = fake.digest(MARIO)
    assert before is not None
    fake.create(MARIO, from_="llama3.2:latest", parameters={"num_ctx": 4096})
    now = fake.digest(MARIO)
    assert now is not None

    code, out, _ = plan(fake, db, folder, capsys, "--prune", "--json")
    assert code == 1
    data = json.loads(out)
    changes = {c["name"]: c for c in data["changes"]}
    file = {name: str(folder / file_name(name)) for name in (CHILD, GRANDCHILD, MARIO, "qwq:8k")}
    assert changes == {
        "qwq:8k": {
            **{"name": "qwq:8k", "action": "create", "symbol": "+"},
            **{"reason": "create from qwq:latest", "base": BASE, "file": file["qwq:8k"]},
            **{"diff": [], "notes": []},
        },
        CHILD: {
            **{"name": CHILD, "action": "rebuild", "symbol": "~"},
            **{"reason": "rebuild: recipe changed", "base": BASE, "file": file[CHILD]},
            **{"diff": ["- PARAMETER num_ctx 20000", "+ PARAMETER num_ctx 16384"], "notes": []},
        },
        GRANDCHILD: {
            **{"name": GRANDCHILD, "action": "rebuild", "symbol": "~"},
            **{"reason": f"rebuild: its base {CHILD} is rebuilt first", "base": CHILD},
            **{"file": file[GRANDCHILD], "diff": [], "notes": []},
        },
        MARIO: {
            **{"name": MARIO, "action": "drift", "symbol": "!"},
            "reason": (
                f"drift: changed outside ollama-lineage: built as {before[:12]}, now {now[:12]};"
                " apply rebuilds it from llama3.2@latest-mario.Modelfile"
            ),
            **{"base": "llama3.2:latest", "file": file[MARIO], "diff": [], "notes": []},
        },
        "qwq:4k": {
            **{"name": "qwq:4k", "action": "delete", "symbol": "-"},
            **{"reason": "delete: created by ollama-lineage, and its file is gone", "base": None},
            **{"file": None, "diff": [], "notes": []},
        },
    }
    assert (data["unchanged"], data["warnings"], data["held"]) == ([], [], {})
    assert data["summary"] == {"create": 1, "rebuild": 2, "drift": 1, "delete": 1, "unchanged": 0}


def test_plan_json_lists_what_is_unchanged_held_back_and_warned_of(
    fake: FakeOllama, db: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A new file on a pinned model is held back by the plan already (the server does not
    know it as the pinned model's child yet); an unchanged model whose base is out of date
    and not in the folder gets a note."""
    assert run(fake, db, "pin", CHILD) == 0
    (folder / "qwq@20k-short.Modelfile").write_text(f"FROM {CHILD}\nPARAMETER num_predict 64\n")
    (folder / file_name(CHILD)).unlink()
    fake.publish("qwq:latest")
    fake.pull("qwq:latest")  # CHILD is stale now, and its child behind it
    code, out, _ = plan(fake, db, folder, capsys, "--json")
    assert code == 1
    data = json.loads(out)
    assert [c["name"] for c in data["changes"]] == ["qwq:20k-short"]
    assert data["held"] == {"qwq:20k-short": f"built on {CHILD}, which is held back"}
    assert sorted(data["unchanged"]) == sorted([GRANDCHILD, MARIO])
    warning = f"{GRANDCHILD}: its base {CHILD} is out of date and has no file here"
    assert data["warnings"] == [warning]
    code, out, _ = plan(fake, db, folder, capsys)
    assert f"note: {warning}\n" in out
    assert out.splitlines()[-1].endswith("; 1 held back.")


def test_a_file_for_a_model_without_a_recipe_says_what_the_model_is(
    fake: FakeOllama, db: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pulled model is rebuilt from its new file; a base the server lost (a recipe still
    names it) is created again."""
    for name in ("phi4:latest", "mistral:7b"):
        (folder / file_name(name)).write_text("FROM qwq:latest\nPARAMETER num_ctx 2048\n")
    code, out, _ = plan(fake, db, folder, capsys, "--json")
    assert code == 1
    changes = {c["name"]: c for c in json.loads(out)["changes"]}
    assert {name: (c["action"], c["reason"]) for name, c in changes.items()} == {
        "phi4:latest": (
            "rebuild",
            "rebuild: no recipe recorded (a pulled model);"
            " apply builds it from phi4@latest.Modelfile",
        ),
        "mistral:7b": ("create", "create from qwq:latest"),
    }
    assert {c["base"] for c in changes.values()} == {BASE}
    assert changes["phi4:latest"]["file"] == str(folder / "phi4@latest.Modelfile")


def test_a_file_for_a_derivative_without_a_recipe_says_its_state(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A derivative whose base was gone before this app first saw it has no recipe: the plan
    says what the tree calls it."""
    fake.create("tmp:base", from_=BASE, parameters={"num_ctx": 4096})
    fake.create("tmp:kid", from_="tmp:base", system="Be brief.")
    fake.delete("tmp:base")
    folder = tmp_path / "recipes"
    folder.mkdir()
    (folder / "tmp@kid.Modelfile").write_text(f"FROM {BASE}\nSYSTEM Be brief.\n")
    _, out, _ = plan(fake, db, folder, capsys, "--json")
    changes = {c["name"]: (c["action"], c["reason"]) for c in json.loads(out)["changes"]}
    assert changes["tmp:kid"] == (
        "rebuild",
        "rebuild: no recipe recorded (orphaned); apply builds it from tmp@kid.Modelfile",
    )


def test_an_edit_to_a_recipe_with_a_license_over_a_megabyte_still_shows_its_diff(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Recipes are stored and exported whole, licenses and all: plan reads back what export
    wrote (it refused a file over 1 MB) and shows what the edit changes."""
    fake.create("big:latest", from_=BASE, parameters={"num_ctx": 4096}, license="x" * 1_100_000)
    assert run(fake, db, "status") in (0, 1)
    folder = tmp_path / "recipes"
    assert run(fake, db, "export", "--all", str(folder)) == 0
    path = folder / "big@latest.Modelfile"
    path.write_text(path.read_text().replace("num_ctx 4096", "num_ctx 8192"))
    code, out, _ = plan(fake, db, folder, capsys)
    assert code == 1
    assert "- PARAMETER num_ctx 4096" in out and "+ PARAMETER num_ctx 8192" in out


def test_a_stale_model_is_planned_with_its_base_and_file(
    fake: FakeOllama, db: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.publish("qwq:latest")
    fake.pull("qwq:latest")
    code, out, _ = plan(fake, db, folder, capsys, "--json")
    assert code == 1
    child = json.loads(out)["changes"][0]
    assert (child["name"], child["action"]) == (CHILD, "rebuild")
    assert child["reason"].startswith(f"rebuild: built from {BASE} ")
    assert (child["base"], child["file"]) == (BASE, str(folder / file_name(CHILD)))


def test_a_recorded_recipe_that_no_longer_parses_is_planned_as_changed(
    fake: FakeOllama, db: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A damaged row in the database: the plan rebuilds from the file, with no diff to show."""
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE links SET recipe = 'FROM' WHERE child = ?", (MARIO,))
    code, out, _ = plan(fake, db, folder, capsys, "--json")
    assert code == 1
    (change,) = json.loads(out)["changes"]
    assert (change["name"], change["reason"], change["diff"]) == (
        MARIO,
        "rebuild: recipe changed",
        [],
    )


def test_a_diff_line_longer_than_a_screen_line_is_cut(
    fake: FakeOllama, db: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = folder / "qwq@8k.Modelfile"
    path.write_text("FROM qwq:latest\nSYSTEM " + "a" * 91 + "\n")  # "- SYSTEM aaa…": 100
    assert run(fake, db, "apply", str(path.parent), "--yes") == 0
    path.write_text("FROM qwq:latest\nSYSTEM " + "b" * 150 + "\n")
    code, out, _ = plan(fake, db, folder, capsys, "--json")
    assert code == 1
    (change,) = json.loads(out)["changes"]
    assert change["diff"] == ["- SYSTEM " + "a" * 91, "+ SYSTEM " + "b" * 90 + "…"]


def test_a_change_to_a_guessed_recipe_says_it_was_guessed(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.publish("qwq:latest")
    fake.pull("qwq:latest")  # first sight after its base moved: CHILD's recipe is a guess
    recipes = tmp_path / "recipes"
    assert run(fake, db, "export", "--all", str(recipes)) == 0
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "qwq@8k.Modelfile").write_text("FROM qwq:latest\nPARAMETER num_ctx 8192\n")
    assert run(fake, db, "apply", str(alone), "--yes") == 0  # a recipe this app wrote
    (recipes / "qwq@8k.Modelfile").write_text((alone / "qwq@8k.Modelfile").read_text())
    for name in (CHILD, "qwq:8k"):
        path = recipes / file_name(name)
        path.write_text(path.read_text() + "PARAMETER num_predict 5\n")
    code, out, _ = plan(fake, db, recipes, capsys)
    assert code == 1
    assert f"~ {CHILD} rebuild: recipe changed\n+ PARAMETER num_predict 5\n" in out
    assert out.count("note: the recorded recipe was guessed\n") == 1
    assert out.index("note: the recorded recipe was guessed") > out.index(f"~ {CHILD}")


def test_drift_says_how_this_app_last_knew_the_model(
    fake: FakeOllama, db: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seen, built = fake.digest(CHILD), fake.digest(MARIO)  # CHILD never rebuilt here
    assert seen is not None and built is not None
    fake.create(CHILD, from_=BASE, parameters={"num_ctx": 4096})
    fake.create(MARIO, from_="llama3.2:latest", parameters={"num_ctx": 4096})
    now = {name: str(fake.digest(name))[:12] for name in (CHILD, MARIO)}
    code, out, _ = plan(fake, db, folder, capsys)
    assert code == 1
    outside = "drift: changed outside ollama-lineage"
    assert f"! {CHILD} {outside}: first seen as {seen[:12]}, now {now[CHILD]};" in out
    assert f"! {MARIO} {outside}: built as {built[:12]}, now {now[MARIO]};" in out


# --- reading the folder ---------------------------------------------------------------------


def test_a_path_that_is_no_folder_is_refused(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(fake, db, "plan", str(tmp_path / "nowhere")) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'nowhere'} is not a folder of recipes\n"
    assert fake.requests == []


def test_every_bad_file_is_named_at_once(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipes = tmp_path / "bad"
    recipes.mkdir()
    (recipes / "-m.Modelfile").write_text("FROM qwq:latest\n")
    (recipes / "-n.Modelfile").write_text("FROM qwq:latest\n")
    (recipes / "a.Modelfile").write_text("FROM qwq:latest\nPARAMETER num_ctx x\n")
    (recipes / "b.Modelfile").write_text("FROM qwq:latest\nPARAMETER num_ctx y\n")
    assert run(fake, db, "plan", str(recipes)) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: {recipes / '-m.Modelfile'}: the file name is no model name"
        " (model '-m' must start with a letter, digit or '_')",
        f"error: {recipes / '-n.Modelfile'}: the file name is no model name"
        " (model '-n' must start with a letter, digit or '_')",
        f'error: {recipes / "a.Modelfile"}: line 2: PARAMETER num_ctx: "x" is not an integer'
        " (invalid int value)",
        f'error: {recipes / "b.Modelfile"}: line 2: PARAMETER num_ctx: "y" is not an integer'
        " (invalid int value)",
    ]
    assert fake.requests == []


def test_files_that_cannot_be_read_are_named_with_the_rest(
    fake: FakeOllama, db: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not UTF-8, a folder where a file should be, a second file for one model: each one is
    named, and the files after it are still read."""
    (folder / "a.Modelfile").write_bytes(b"FROM qwq:latest\nSYSTEM \xff\n")
    (folder / "b.Modelfile").write_bytes(b"FROM qwq:latest\nSYSTEM \xfe\n")
    (folder / "c.Modelfile").mkdir()
    (folder / "d.Modelfile").mkdir()
    (folder / "QWQ@LATEST_20k.Modelfile").write_text("FROM qwq:latest\n")
    (folder / "QWQ@LATEST_20k-coder.Modelfile").write_text("FROM qwq:latest\n")
    (folder / "x.Modelfile").write_text("FROM qwq:latest\nPARAMETER num_ctx x\n")
    assert run(fake, db, "plan", str(folder)) == 2
    twin = "already has a recipe in"
    assert capsys.readouterr().err.splitlines() == [
        f"error: {folder / 'a.Modelfile'}: not UTF-8 text (byte 23: invalid start byte)",
        f"error: {folder / 'b.Modelfile'}: not UTF-8 text (byte 23: invalid start byte)",
        f"error: {folder / 'c.Modelfile'}: cannot read it: Is a directory",
        f"error: {folder / 'd.Modelfile'}: cannot read it: Is a directory",
        f"error: {folder / file_name(GRANDCHILD)}: {GRANDCHILD} {twin}"
        " QWQ@LATEST_20k-coder.Modelfile",
        f"error: {folder / file_name(CHILD)}: {CHILD} {twin} QWQ@LATEST_20k.Modelfile",
        f'error: {folder / "x.Modelfile"}: line 2: PARAMETER num_ctx: "x" is not an integer'
        " (invalid int value)",
    ]
    assert fake.requests == []


def test_a_from_that_spells_a_file_s_model_in_another_case_still_orders_parents_first(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipes = tmp_path / "new"
    recipes.mkdir()
    (recipes / "a-kid@latest.Modelfile").write_text("FROM Z-PARENT:latest\nSYSTEM Be brief.\n")
    (recipes / "z-Parent@latest.Modelfile").write_text("FROM qwq:latest\nPARAMETER num_ctx 8\n")
    code, out, _ = plan(fake, db, recipes, capsys, "--json")
    assert code == 1
    changes = [(c["name"], c["action"]) for c in json.loads(out)["changes"]]
    assert changes == [("z-Parent:latest", "create"), ("a-kid:latest", "create")]


def test_a_from_that_spells_a_file_s_model_in_another_case_is_applied(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real Ollama (0.33) reads a create's `from` by its exact name: `Z-PARENT:latest` for a
    listed `z-Parent:latest` goes to the registry and fails. The create names it as listed."""
    recipes = tmp_path / "new"
    recipes.mkdir()
    (recipes / "a-kid@latest.Modelfile").write_text("FROM Z-PARENT:latest\nSYSTEM Be brief.\n")
    (recipes / "z-Parent@latest.Modelfile").write_text("FROM QWQ:Latest\nPARAMETER num_ctx 8\n")
    assert run(fake, db, "apply", str(recipes), "--yes") == 0, capsys.readouterr().err
    creates = [r.body for r in fake.requests if r.path == "/api/create"]
    assert [(c["model"], c["from"]) for c in creates] == [
        ("z-Parent:latest", "qwq:latest"),
        ("a-kid:latest", "z-Parent:latest"),
    ]
    assert fake.digest("a-kid:latest") is not None


def test_a_file_named_in_another_case_than_the_server_s_model_applies_to_it(
    fake: FakeOllama, db: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_child(folder)
    (folder / file_name(CHILD)).rename(folder / "QWQ@latest_20K.Modelfile")
    assert run(fake, db, "apply", str(folder), "--yes") == 0
    creates = [r.body for r in fake.requests if r.path == "/api/create"]
    assert [c["model"] for c in creates] == [CHILD, GRANDCHILD]
    assert creates[0]["parameters"]["num_ctx"] == 16384


# --- apply's rebuild keeps the recorded recipe honest -------------------------------------------


def test_a_failed_rebuild_from_an_edited_file_keeps_the_recorded_recipe(
    fake: FakeOllama, db: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(fake, db, "export", CHILD) == 0
    recorded = capsys.readouterr().out
    edit_child(folder)
    fake.fail("/api/create", status=500, error="out of disk")
    assert run(fake, db, "apply", str(folder), "--yes") == 1
    capsys.readouterr()
    assert run(fake, db, "export", CHILD) == 0
    assert capsys.readouterr().out == recorded
    code, out, _ = plan(fake, db, folder, capsys)
    assert code == 1 and f"~ {CHILD} rebuild: recipe changed" in out


def test_rebuilding_drift_from_an_unchanged_file_adopts_nothing(
    fake: FakeOllama, db: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The file is the recorded recipe: apply rebuilds from it without recording the outside
    version as adopted first."""
    fake.create(CHILD, from_=BASE, parameters={"num_ctx": 4096})
    assert run(fake, db, "apply", str(folder), "--yes") == 0
    assert [e["kind"] for e in history(fake, db, capsys, CHILD)] == ["build"]


# --- export ---------------------------------------------------------------------------------


def test_export_all_makes_the_folder_writes_over_an_earlier_export_and_says_what_it_skips(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "a" / "b" / "recipes"
    assert run(fake, db, "export", "--all", str(out_dir)) == 0
    (out_dir / file_name(CHILD)).write_text("FROM qwq:latest\n")
    fake.delete("llama3.2:latest")  # MARIO has a recipe, and its base is gone
    capsys.readouterr()
    assert run(fake, db, "export", "--all", str(out_dir)) == 0
    out, err = capsys.readouterr()
    assert out == f"wrote 2 recipes to {out_dir}\n"
    assert "PARAMETER num_ctx 20000" in (out_dir / file_name(CHILD)).read_text()
    assert sorted(err.splitlines()) == [
        f"skipped {MARIO}: its base llama3.2:latest is gone from the server",
        "skipped mistral:7b-long: no recipe recorded",
    ]


def test_a_model_whose_base_was_deleted_outside_stays_in_status(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """apply made mid from qwq and kid from mid; `ollama rm mid` outside. kid is still on the
    server, so status lists it (orphaned, under its missing base) instead of leaving it out."""
    recipes = tmp_path / "new"
    recipes.mkdir()
    (recipes / "mid@latest.Modelfile").write_text("FROM qwq:latest\nPARAMETER num_ctx 8\n")
    (recipes / "kid@latest.Modelfile").write_text("FROM mid:latest\nSYSTEM Be brief.\n")
    assert run(fake, db, "apply", str(recipes), "--yes") == 0
    fake.delete("mid:latest")
    capsys.readouterr()
    assert run(fake, db, "status", "--json") == 1
    models = {m["name"]: m for m in json.loads(capsys.readouterr().out)["models"]}
    assert (models["mid:latest"]["kind"], models["mid:latest"]["state"]) == ("missing", "missing")
    assert (models["kid:latest"]["base"], models["kid:latest"]["state"]) == (
        "mid:latest",
        "orphaned",
    )
