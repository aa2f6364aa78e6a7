"""The headless CLI against the stand-in server: what cron and scripts see."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from ollama_lineage.cli import main
from ollama_lineage.fake_ollama import FakeOllama, RecordedRequest


@pytest.fixture
def demo(fake: FakeOllama) -> FakeOllama:
    return fake


def run(fake: FakeOllama, db: Path, *args: str) -> int:
    # The registry is the stand-in's: a derivative whose lineage is a guess is rebuilt in bulk
    # only once the registry says it is not a pulled model.
    return main([*args, "--host", fake.host, "--db", str(db), "--registry", fake.registry_url])


def status(
    fake: FakeOllama, db: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, dict[str, Any]]]:
    capsys.readouterr()
    code = run(fake, db, "status", "--json")
    models = json.loads(capsys.readouterr().out)["models"]
    return code, {m["name"]: m for m in models}


def writes(fake: FakeOllama) -> list[RecordedRequest]:
    return [r for r in fake.requests if r.path in ("/api/create", "/api/copy", "/api/delete")]


def test_the_seed_story_end_to_end(
    demo: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
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


def test_rollback_restores_the_old_digest_and_history_records_it(
    demo: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "lineage.sqlite3"
    before = demo.digest("qwq:latest_20K")
    demo.pull("qwq:latest")
    assert run(demo, db, "rebuild", "qwq:latest_20K", "--yes") == 0
    assert demo.digest("qwq:latest_20K") != before
    assert run(demo, db, "rollback", "qwq:latest_20K", "--yes") == 0
    assert demo.digest("qwq:latest_20K") == before
    capsys.readouterr()
    assert run(demo, db, "history", "qwq:latest_20K", "--json") == 0
    events = json.loads(capsys.readouterr().out)
    assert [(e["kind"], e["status"]) for e in events] == [
        ("rollback", "success"),
        ("build", "success"),
    ]
    assert events[0]["digest_after"] == before


def test_rebuild_all_stale_goes_parents_first(demo: FakeOllama, tmp_path: Path) -> None:
    db = tmp_path / "lineage.sqlite3"
    demo.pull("qwq:latest")
    demo.clear_requests()
    assert run(demo, db, "rebuild", "--all-stale", "--yes") == 0
    created = [r.body["model"] for r in demo.requests if r.path == "/api/create"]
    assert created.index("qwq:latest_20K") < created.index("qwq:latest_20K-coder")
    assert "llama3.2:latest-mario" in created


def test_unreachable_server_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["status", "--host", "127.0.0.1:9", "--db", str(tmp_path / "x.sqlite3")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: cannot reach Ollama at http://127.0.0.1:9")
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_status_asks_for_the_listing_once_sent_while_it_starts(
    demo: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(demo, tmp_path / "db", "status")  # the first run shows every model
    demo.clear_requests()
    run(demo, tmp_path / "db", "status")
    assert "qwq:latest_20K" in capsys.readouterr().out
    assert [(r.method, r.path) for r in demo.requests] == [("GET", "/api/tags")]


def test_status_json_is_one_model_a_line_and_an_empty_server_an_empty_list(
    demo: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    run(demo, tmp_path / "db", "status", "--json")
    out = capsys.readouterr().out
    lines = out.splitlines()
    listed = json.loads(out)["models"]
    assert len(lines) == len(listed) + 5  # {, host, "models": [, a line a model, ], }
    assert [json.loads(line.strip().rstrip(",")) for line in lines[3:-2]] == listed
    with FakeOllama(scenario="empty") as empty:
        run(empty, tmp_path / "empty.db", "status", "--json")
        assert json.loads(capsys.readouterr().out) == {"host": empty.url, "models": []}


def test_bad_modelfile_names_the_line_and_sends_nothing(
    demo: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
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
def test_invalid_model_names_are_refused_before_any_request(
    demo: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    demo.clear_requests()
    code = run(demo, tmp_path / "db", "rebuild", name, "--yes")
    assert code == 2
    assert "invalid model name" in capsys.readouterr().err
    assert demo.requests == []


def test_track_from_a_modelfile_then_export_round_trips(
    demo: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "db"
    modelfile = tmp_path / "Modelfile"
    modelfile.write_text("FROM phi4:latest\nPARAMETER num_ctx 8192\n")
    adopt = ("track", "my-gguf:latest", "--from", "phi4:latest", "-f", str(modelfile))
    # Made from a GGUF file, it never had phi4's weights: adopting it is refused unless forced,
    # since a rebuild would then replace its weights with phi4's.
    assert run(demo, db, *adopt) == 2
    assert "never had the weights of any version of phi4:latest" in capsys.readouterr().err
    assert run(demo, db, *adopt, "--force") == 0
    assert "warning: my-gguf:latest never had phi4:latest's weights" in capsys.readouterr().out
    assert run(demo, db, "export", "my-gguf:latest") == 0
    assert capsys.readouterr().out == "FROM phi4:latest\nPARAMETER num_ctx 8192\n"
    assert writes(demo) == []


def test_a_backup_named_by_the_rule_nests_even_without_a_record(
    demo: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    demo.copy("qwq:latest_20K", "qwq:latest_20K.bak-20260101-000000")
    _, models = status(demo, tmp_path / "db", capsys)
    backup = models["qwq:latest_20K.bak-20260101-000000"]
    assert (backup["kind"], backup["state"], backup["base"]) == (
        "backup",
        "backup",
        "qwq:latest_20K",
    )


def test_servers_before_v0_30_give_the_same_tree_from_show(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before v0.30 /api/tags leaves parent_model empty; /api/show still has it.
    with FakeOllama(scenario="demo", version="0.29.0") as old:
        listing = httpx.get(f"{old.url}/api/tags").json()["models"]
        assert {m["details"]["parent_model"] for m in listing} == {""}
        _, models = status(old, tmp_path / "db", capsys)
    assert models["qwq:latest_20K"]["base"] == "qwq:latest"
    assert models["qwq:latest_20K"]["state"] == "fresh"
    assert models["qwq:latest_20K-coder"]["base"] == "qwq:latest_20K"
    assert models["llama3.2:latest-mario"]["state"] == "stale"


def test_a_new_recipe_for_the_same_base_does_not_make_a_stale_model_fresh(
    demo: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
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


def test_rebuilding_on_a_stale_base_says_so(
    demo: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "db"
    demo.pull("qwq:latest")
    capsys.readouterr()
    assert run(demo, db, "rebuild", "qwq:latest_20K-coder", "--yes") == 0
    assert "note: qwq:latest_20K is itself out of date" in capsys.readouterr().out


def test_names_are_matched_like_ollama_does(
    demo: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    demo.pull("qwq:latest")
    assert run(demo, tmp_path / "db", "rebuild", "QWQ:LATEST_20k", "--yes") == 0
    (create,) = [r.body for r in demo.requests if r.path == "/api/create"]
    assert create["model"] == "qwq:latest_20K"
    capsys.readouterr()
    full_name = "registry.ollama.ai/library/QWQ:latest_20K"
    assert run(demo, tmp_path / "db", "history", full_name, "--json") == 0
    (event,) = json.loads(capsys.readouterr().out)
    assert (event["name"], event["kind"]) == ("qwq:latest_20K", "build")


# --- issue 10: a CLI for cron ------------------------------------------------------------------


def test_rebuilding_a_model_the_server_lacks_says_so_without_tui_keys(
    demo: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    demo.clear_requests()
    code = run(demo, tmp_path / "db", "rebuild", "nosuch:model", "--yes")
    err = capsys.readouterr().err
    assert code == 2
    assert err == f"error: no model nosuch:model on {demo.url}\n"
    assert writes(demo) == []


def test_rebuilding_an_untracked_model_names_the_command_to_adopt_it(
    demo: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(demo, tmp_path / "db", "rebuild", "my-gguf:latest", "--yes")
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: my-gguf:latest has no recipe to rebuild from (untracked)")
    assert "ollama-lineage track my-gguf:latest --from BASE" in err
    assert " with t" not in err
    assert writes(demo) == []


def test_status_names_commands_not_keys(
    demo: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "db"
    assert run(demo, db, "status", "--check-upstream", "--registry", demo.registry_url) == 1
    out = capsys.readouterr().out
    assert "ollama-lineage pull qwq:latest" in out  # update available upstream
    assert "ollama-lineage track my-gguf:latest --from BASE" in out
    assert "press " not in out and "(t, " not in out
    _, models = status(demo, db, capsys)
    assert all("press " not in m["reason"] for m in models.values())


class NotOllama(BaseHTTPRequestHandler):
    """Some other web server on the port: an HTML page for every path."""

    def do_GET(self) -> None:
        page = b"<html><head><title>404 Not Found</title></head>\n<body>nginx</body></html>\n"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def web_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), NotOllama)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_web_server_that_is_not_ollama_is_named_in_one_line(
    web_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["status", "--host", web_server, "--db", str(tmp_path / "db")])
    err = capsys.readouterr().err
    assert code == 2
    assert err == (
        f"error: {web_server} does not look like an Ollama server (HTTP 404); "
        "check --host or OLLAMA_HOST\n"
    )


def test_a_wrong_path_on_the_stand_in_is_not_ollama_either(
    demo: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host = f"{demo.url}/not-here"
    code = main(["rebuild", "--all-stale", "--yes", "--host", host, "--db", str(tmp_path / "db")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"error: {host} does not look like an Ollama server (HTTP 404)")
    assert "page not found" not in err


def test_history_without_a_name_shows_recent_activity_across_models(
    demo: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "db"
    demo.pull("qwq:latest")
    assert run(demo, db, "pull", "llama3.2:latest") == 0
    assert run(demo, db, "rebuild", "qwq:latest_20K", "--yes") == 0
    capsys.readouterr()
    assert run(demo, db, "history") == 0  # the last 24 hours by default
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert " qwq:latest_20K " in lines[0] and " build " in lines[0] and "success" in lines[0]
    assert " llama3.2:latest " in lines[1] and " pull " in lines[1]

    assert run(demo, db, "history", "--since", "1h", "--json") == 0
    events = json.loads(capsys.readouterr().out)
    assert [(e["name"], e["kind"]) for e in events] == [
        ("qwq:latest_20K", "build"),
        ("llama3.2:latest", "pull"),
    ]
    tomorrow = (datetime.now() + timedelta(days=1)).date().isoformat()
    assert run(demo, db, "history", "--since", tomorrow) == 0
    assert capsys.readouterr().out == (f"no history for any model on {demo.url} since {tomorrow}\n")


def test_history_refuses_a_since_it_cannot_read(
    demo: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    demo.clear_requests()
    assert run(demo, tmp_path / "db", "history", "--since", "last tuesday") == 2
    assert "invalid --since value 'last tuesday': use e.g. 30m, 24h, 7d" in capsys.readouterr().err


def test_rebuild_is_one_line_per_model_unless_verbose(
    demo: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "db"
    demo.pull("qwq:latest")
    capsys.readouterr()
    assert run(demo, db, "rebuild", "qwq:latest_20K", "--yes") == 0
    out = capsys.readouterr().out
    (line,) = out.splitlines()
    assert line.startswith("qwq:latest_20K: rebuilt from qwq:latest (")
    assert "backup qwq:latest_20K.bak-" in line
    assert "{" not in out and "success" not in out

    demo.publish("qwq:latest")
    demo.pull("qwq:latest")
    assert run(demo, db, "rebuild", "qwq:latest_20K", "--yes", "-v") == 0
    out = capsys.readouterr().out
    assert '"from": "qwq:latest"' in out and '"num_ctx": 20000' in out
    assert "  success" in out  # streamed progress
    assert out.splitlines()[-1].startswith("qwq:latest_20K: rebuilt from qwq:latest (")


def test_a_bad_parameter_value_names_the_parameter_and_the_value(
    demo: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    modelfile = tmp_path / "Modelfile"
    modelfile.write_text("FROM qwq:latest\nPARAMETER num_ctx ;\n")
    demo.clear_requests()
    args = ["track", "qwq:latest_20K", "--from", "qwq:latest", "-f", str(modelfile)]
    code = run(demo, tmp_path / "db", *args)
    assert code == 2
    assert capsys.readouterr().err == (
        f'error: {modelfile}: line 2: PARAMETER num_ctx: ";" is not an integer'
        " (invalid int value)\n"
    )
    assert demo.requests == []


def test_a_failed_rebuild_makes_status_exit_1(
    demo: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "db"
    assert run(demo, db, "status") == 1  # the demo's stale and orphaned models
    assert run(demo, db, "rebuild", "llama3.2:latest-mario", "--yes") == 0
    demo.delete("mistral:7b-long")  # leave nothing else to act on
    assert run(demo, db, "status") == 0
    demo.pull("qwq:latest")
    demo.fail("/api/create", status=500, error="no space left on device")
    assert run(demo, db, "rebuild", "qwq:latest_20K", "--yes") == 1
    capsys.readouterr()
    assert run(demo, db, "status") == 1
    assert "failed" in capsys.readouterr().out


def test_a_recipe_tracked_explicitly_is_no_longer_called_guessed(
    demo: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Seen on a real Ollama: `rebuild -v` right after `track` said "recipe guessed"."""
    db = tmp_path / "db"
    demo.pull("qwq:latest")  # first sight after its base moved: a guessed recipe, kept out of R
    modelfile = tmp_path / "Modelfile"
    modelfile.write_text("FROM qwq:latest\nPARAMETER num_ctx 20000\nPARAMETER num_thread 16\n")
    # The version of qwq it was made from was never seen here: adopting it takes --force.
    track = ("track", "qwq:latest_20K", "--from", "qwq:latest", "-f", str(modelfile))
    assert run(demo, db, *track, "--force") == 0
    capsys.readouterr()
    assert run(demo, db, "rebuild", "qwq:latest_20K", "--yes", "-v") == 0
    assert "guessed" not in capsys.readouterr().out


def test_a_bulk_rebuild_holds_back_what_is_built_on_a_guess(
    demo: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """qwq:latest moved before first sight, so qwq:latest_20K's lineage is a guess, and with
    the registry out of reach nothing settles it: its child is not rebuilt on it either."""
    db = tmp_path / "db"
    demo.publish("qwq:latest")
    demo.pull("qwq:latest")
    no_registry = ["--host", demo.host, "--db", str(db), "--registry", "http://127.0.0.1:9"]
    demo.clear_requests()
    assert main(["rebuild", "--all-stale", "--yes", *no_registry]) == 1
    guess = "its lineage is a guess the registry could not settle; read its plan and rebuild"
    assert capsys.readouterr().out.splitlines() == [
        f"llama3.2:latest-mario: held back, {guess} it alone",
        f"qwq:latest_20K: held back, {guess} it alone",
        "qwq:latest_20K-coder: held back, built on qwq:latest_20K, which is held back",
        "nothing to rebuild; 3 held back",
    ]
    assert writes(demo) == []  # no backup, no create
    assert main(["status", "--json", *no_registry]) == 1
    models = {m["name"]: m for m in json.loads(capsys.readouterr().out)["models"]}
    assert (models["qwq:latest_20K"]["guessed"], models["qwq:latest_20K"]["unconfirmed"]) == (
        True,
        False,
    )
    assert models["qwq:latest_20K"]["held"].startswith("its lineage is a guess")
    coder = models["qwq:latest_20K-coder"]  # known from parent_model only, its recipe not guessed
    assert (coder["guessed"], coder["unconfirmed"]) == (False, True)
    assert models["qwq:latest_20K-coder"]["held"] == ("built on qwq:latest_20K, which is held back")
    assert models["qwq:latest"]["held"] is None


def test_a_pulled_model_with_its_publishers_from_is_never_rebuilt(
    demo: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Pushed by someone who built it from llama3.2:latest: a pull keeps the `from`, so Ollama
    says parent_model. The registry settles it: the same digest there, so a pulled model."""
    db = tmp_path / "db"
    pirate = "someuser/llama-pirate:latest"
    demo.publish(pirate, publisher_from="llama3.2:latest", weights_of="llama3.2:latest")
    demo.pull(pirate)
    _, models = status(demo, db, capsys)  # first sight
    assert models[pirate]["state"] != "stale"
    demo.publish("llama3.2:latest")
    demo.pull("llama3.2:latest")
    demo.clear_requests()
    run(demo, db, "rebuild", "--all-stale", "--yes")
    assert pirate not in [r.body["model"] for r in writes(demo) if r.path == "/api/create"]
    _, models = status(demo, db, capsys)
    assert models[pirate]["kind"] == "base" and models[pirate]["state"] == "current"
    asked = [r for r in demo.requests if "llama-pirate" in r.path and r.path.startswith("/v2/")]
    assert len({r.path for r in asked}) == 1


def test_a_model_known_only_from_parent_model_is_held_back_as_unconfirmed_not_guessed(
    demo: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Seen on a real Ollama: a derivative first seen on the very base version it was built
    from read `"guessed": true` only because the registry was out of reach, and a script could
    not tell that doubt from a guessed recipe. Its recipe is exact; what is unknown is whether
    it is a pulled model carrying its publisher's FROM."""
    db = tmp_path / "db"
    pirate = "someuser/llama-pirate:latest"
    demo.publish(pirate, publisher_from="llama3.2:latest", weights_of="llama3.2:latest")
    demo.pull(pirate)
    no_registry = ["--host", demo.host, "--db", str(db), "--registry", "http://127.0.0.1:9"]
    assert main(["status", "--json", *no_registry]) in (0, 1)  # first sight, nothing settled
    capsys.readouterr()
    demo.publish("llama3.2:latest")
    demo.pull("llama3.2:latest")
    demo.clear_requests()
    assert main(["rebuild", "--all-stale", "--yes", *no_registry]) == 1
    why = (
        "its base is known only from Ollama's parent_model, which the registry could not"
        " confirm (a pulled model keeps its publisher's); read its plan and rebuild it alone"
    )
    assert f"{pirate}: held back, {why}" in capsys.readouterr().out.splitlines()
    assert pirate not in [r.body["model"] for r in writes(demo) if r.path == "/api/create"]
    assert main(["status", "--json", *no_registry]) == 1
    models = {m["name"]: m for m in json.loads(capsys.readouterr().out)["models"]}
    assert models[pirate]["state"] == "stale"
    assert (models[pirate]["guessed"], models[pirate]["unconfirmed"]) == (False, True)
    assert models[pirate]["held"] == why


def test_a_warm_status_whose_registry_answers_are_stored_never_loads_httpx(
    demo: FakeOllama, tmp_path: Path
) -> None:
    """The demo's guessed derivative is asked of a registry out of reach once (the answer is
    stored); the next `status` has nothing to ask, yet making the registry client imported
    httpx anyway (80 ms of a 0.4 s start at 1,000 models)."""
    args = ["status", "--host", demo.host, "--db", str(tmp_path / "db")]
    args += ["--registry", "http://127.0.0.1:9"]
    probe = (
        "import sys; from ollama_lineage.cli import main; main(sys.argv[1:]);"
        " print('httpx' in sys.modules, file=sys.stderr)"
    )
    runs = [
        subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True)
        for _ in range(2)
    ]
    first, warm = (r.stderr.strip().splitlines()[-1] for r in runs)
    assert (first, warm) == ("True", "False")  # the first run asked; the second had nothing to ask
