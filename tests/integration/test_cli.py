"""The headless CLI against the stand-in server: what cron and scripts see."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from ollama_lineage.cli import main
from ollama_lineage.fake_ollama import FakeOllama


@pytest.fixture
def demo(fake):
    return fake


def run(fake: FakeOllama, db: Path, *args: str) -> int:
    return main([*args, "--host", fake.host, "--db", str(db)])


def status(fake, db, capsys) -> tuple[int, dict[str, dict]]:
    capsys.readouterr()
    code = run(fake, db, "status", "--json")
    models = json.loads(capsys.readouterr().out)["models"]
    return code, {m["name"]: m for m in models}


def writes(fake) -> list:
    return [r for r in fake.requests if r.path in ("/api/create", "/api/copy", "/api/delete")]


def test_the_seed_story_end_to_end(demo, tmp_path, capsys):
    db = tmp_path / "lineage.sqlite3"
    code, models = status(demo, db, capsys)
    assert models["qwq:latest_20K"]["state"] == "fresh"
    assert models["qwq:latest_20K"]["base"] == "qwq:latest"
    assert models["qwq:latest_20K-coder"]["base"] == "qwq:latest_20K"
    assert models["llama3.2:latest-mario"]["state"] == "stale"
    assert models["mistral:7b-long"]["state"] == "orphaned"
    assert models["my-gguf:latest"]["state"] == "untracked"
    assert code == 1  # the demo already holds a stale and an orphaned model

    demo.pull("qwq:latest")
    code, models = status(demo, db, capsys)
    assert code == 1
    assert models["qwq:latest_20K"]["state"] == "stale"
    assert models["qwq:latest_20K-coder"]["state"] == "stale upstream"

    before = demo.digest("qwq:latest_20K")
    demo.clear_requests()
    assert run(demo, db, "rebuild", "qwq:latest_20K", "--yes") == 0
    creates = [r for r in demo.requests if r.path == "/api/create"]
    assert len(creates) == 1
    body = creates[0].body
    assert body["from"] == "qwq:latest"
    assert body["model"] == "qwq:latest_20K"
    assert body["parameters"] == {"num_ctx": 20000, "num_thread": 16}
    assert "template" not in body and "system" not in body
    copies = [r.body for r in demo.requests if r.path == "/api/copy"]
    assert copies[0]["source"] == "qwq:latest_20K"
    backup = copies[0]["destination"]
    assert backup.startswith("qwq:latest_20K.bak-")
    assert demo.digest(backup) == before

    code, models = status(demo, db, capsys)
    assert models["qwq:latest_20K"]["state"] == "fresh"
    assert models[backup]["kind"] == "backup"
    assert models[backup]["base"] == "qwq:latest_20K"
    assert models["qwq:latest_20K-coder"]["state"] == "stale"


def test_rollback_restores_the_old_digest_and_history_records_it(demo, tmp_path, capsys):
    db = tmp_path / "lineage.sqlite3"
    before = demo.digest("qwq:latest_20K")
    demo.pull("qwq:latest")
    assert run(demo, db, "rebuild", "qwq:latest_20K", "--yes") == 0
    assert demo.digest("qwq:latest_20K") != before
    assert run(demo, db, "rollback", "qwq:latest_20K") == 0
    assert demo.digest("qwq:latest_20K") == before
    capsys.readouterr()
    assert run(demo, db, "history", "qwq:latest_20K", "--json") == 0
    events = json.loads(capsys.readouterr().out)
    assert [(e["kind"], e["status"]) for e in events] == [
        ("rollback", "success"),
        ("build", "success"),
    ]
    assert events[0]["digest_after"] == before


def test_rebuild_all_stale_goes_parents_first(demo, tmp_path):
    db = tmp_path / "lineage.sqlite3"
    demo.pull("qwq:latest")
    demo.clear_requests()
    assert run(demo, db, "rebuild", "--all-stale", "--yes") == 0
    created = [r.body["model"] for r in demo.requests if r.path == "/api/create"]
    assert created.index("qwq:latest_20K") < created.index("qwq:latest_20K-coder")
    assert "llama3.2:latest-mario" in created


def test_unreachable_server_is_one_line_and_exit_2(tmp_path, capsys):
    code = main(["status", "--host", "127.0.0.1:9", "--db", str(tmp_path / "x.sqlite3")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: cannot reach Ollama at http://127.0.0.1:9")
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_bad_modelfile_names_the_line_and_sends_nothing(demo, tmp_path, capsys):
    modelfile = tmp_path / "Modelfile"
    modelfile.write_text("FROM qwq:latest\nPARAMETER num_ctx 20000\nSTOP now\n")
    demo.clear_requests()
    code = run(
        demo,
        tmp_path / "db",
        "track",
        "qwq:latest_20K",
        "--from",
        "qwq:latest",
        "-f",
        str(modelfile),
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "line 3" in err and "command must be one of" in err
    assert demo.requests == []


@pytest.mark.parametrize("name", ["bad name!", "qwq:latest/../x", "a/:b", ":nothing"])
def test_invalid_model_names_are_refused_before_any_request(demo, tmp_path, capsys, name):
    demo.clear_requests()
    code = run(demo, tmp_path / "db", "rebuild", name, "--yes")
    assert code == 2
    assert "invalid model name" in capsys.readouterr().err
    assert demo.requests == []


def test_track_from_a_modelfile_then_export_round_trips(demo, tmp_path, capsys):
    db = tmp_path / "db"
    modelfile = tmp_path / "Modelfile"
    modelfile.write_text("FROM phi4:latest\nPARAMETER num_ctx 8192\n")
    assert (
        run(demo, db, "track", "my-gguf:latest", "--from", "phi4:latest", "-f", str(modelfile)) == 0
    )
    capsys.readouterr()
    assert run(demo, db, "export", "my-gguf:latest") == 0
    assert capsys.readouterr().out == "FROM phi4:latest\nPARAMETER num_ctx 8192\n"
    assert writes(demo) == []


def test_a_backup_named_by_the_rule_nests_even_without_a_record(demo, tmp_path, capsys):
    demo.copy("qwq:latest_20K", "qwq:latest_20K.bak-20260101-000000")
    _, models = status(demo, tmp_path / "db", capsys)
    backup = models["qwq:latest_20K.bak-20260101-000000"]
    assert (backup["kind"], backup["state"], backup["base"]) == (
        "backup",
        "backup",
        "qwq:latest_20K",
    )


def test_servers_before_v0_30_give_the_same_tree_from_show(tmp_path, capsys):
    # Before v0.30 /api/tags leaves parent_model empty; /api/show still has it.
    with FakeOllama(scenario="demo", version="0.29.0") as old:
        listing = httpx.get(f"{old.url}/api/tags").json()["models"]
        assert {m["details"]["parent_model"] for m in listing} == {""}
        _, models = status(old, tmp_path / "db", capsys)
    assert models["qwq:latest_20K"]["base"] == "qwq:latest"
    assert models["qwq:latest_20K"]["state"] == "fresh"
    assert models["qwq:latest_20K-coder"]["base"] == "qwq:latest_20K"
    assert models["llama3.2:latest-mario"]["state"] == "stale"
    assert models["my-gguf:latest"]["state"] == "untracked"


def test_a_new_recipe_for_the_same_base_does_not_make_a_stale_model_fresh(demo, tmp_path, capsys):
    db = tmp_path / "db"
    status(demo, db, capsys)  # first sight records what qwq:latest_20K was built from
    demo.create("qwq:latest", from_="qwq:latest", template="{{ .Prompt }} (new template)")
    _, models = status(demo, db, capsys)
    assert models["qwq:latest_20K"]["state"] == "stale"  # same weights, new template
    modelfile = tmp_path / "Modelfile"
    modelfile.write_text("FROM qwq:latest\nPARAMETER num_ctx 32768\nPARAMETER num_thread 16\n")
    assert (
        run(demo, db, "track", "qwq:latest_20K", "--from", "qwq:latest", "-f", str(modelfile)) == 0
    )
    _, models = status(demo, db, capsys)
    assert models["qwq:latest_20K"]["state"] == "stale"


def test_rebuilding_on_a_stale_base_says_so(demo, tmp_path, capsys):
    db = tmp_path / "db"
    demo.pull("qwq:latest")
    capsys.readouterr()
    assert run(demo, db, "rebuild", "qwq:latest_20K-coder", "--yes") == 0
    assert "note: qwq:latest_20K is itself out of date" in capsys.readouterr().out


def test_names_are_matched_like_ollama_does(demo, tmp_path, capsys):
    demo.pull("qwq:latest")
    assert run(demo, tmp_path / "db", "rebuild", "QWQ:LATEST_20k", "--yes") == 0
    (create,) = [r.body for r in demo.requests if r.path == "/api/create"]
    assert create["model"] == "qwq:latest_20K"
    capsys.readouterr()
    full_name = "registry.ollama.ai/library/QWQ:latest_20K"
    assert run(demo, tmp_path / "db", "history", full_name, "--json") == 0
    (event,) = json.loads(capsys.readouterr().out)
    assert (event["name"], event["kind"]) == ("qwq:latest_20K", "build")
