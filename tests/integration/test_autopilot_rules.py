"""Autopilot's rules as a user meets them: the plan it shows, the lines cron mails, the JSON
report, the History rows and the requests the server gets.

The stand-in's generate is deterministic (seeded by the model's digest, the prompt and the
options) and never says "zebra", so a check that wants a zebra always fails.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from ollama_lineage.cli import main
from ollama_lineage.fake_ollama import FakeOllama
from tests.checks_samples import sentence_check, zebra_check
from tests.integration.test_autopilot import autopilot, checks_file, created, paths

CODER_SYSTEM = "You are a careful coding assistant."
MARIO_SYSTEM = "You are Mario from Super Mario Bros."


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "lineage.sqlite3"


def run(fake: FakeOllama, db: Path, *args: str, registry: str | None = None) -> int:
    where = ["--host", fake.host, "--db", str(db), "--registry", registry or fake.registry_url]
    return main([*args, *where])


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in report["models"]}


def history(
    fake: FakeOllama, db: Path, capsys: pytest.CaptureFixture[str], name: str
) -> list[dict[str, Any]]:
    capsys.readouterr()
    run(fake, db, "history", name, "--json")
    events: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return [e for e in events if e["name"] == name]


def non_tty(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --yes on a non-interactive input, autopilot shows its plan and stops."""
    monkeypatch.setattr(sys, "stdin", open(os.devnull))  # noqa: SIM115


def test_the_plan_names_each_pull_and_why_each_model_is_rebuilt(
    fake: FakeOllama,
    db: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The confirm prompt is all a user reads before saying yes: each line must say which
    digest is coming and why each model is on the list, and a held model must not hide the
    models planned after it."""
    non_tty(monkeypatch)
    checks = checks_file(tmp_path, "")
    have = fake.digest("qwq:latest")
    assert have is not None
    assert autopilot(fake, db, checks) == 2
    planned = capsys.readouterr().out.splitlines()

    # mario, first in the tree, is pinned: the rest is still planned, mario last as a note.
    assert run(fake, db, "pin", "llama3.2:latest-mario") == 0
    capsys.readouterr()
    assert autopilot(fake, db, checks) == 2
    held = capsys.readouterr().out.splitlines()

    fake.pull("qwq:latest")  # what the registry offered
    coming = fake.digest("qwq:latest")
    assert coming is not None and coming != have
    assert planned[:4] == [
        f"pull     qwq:latest             registry has {coming[:12]}, you have {have[:12]}",
        "rebuild  llama3.2:latest-mario  stale: llama3.2:latest has new weights since this"
        " was built",
        "rebuild  qwq:latest_20K         after qwq:latest is pulled",
        "rebuild  qwq:latest_20K-coder   after qwq:latest_20K is rebuilt",
    ]
    assert held[:4] == [
        f"pull     qwq:latest            registry has {coming[:12]}, you have {have[:12]}",
        "rebuild  qwq:latest_20K        after qwq:latest is pulled",
        "rebuild  qwq:latest_20K-coder  after qwq:latest_20K is rebuilt",
        "llama3.2:latest-mario: held (pinned): ollama-lineage unpin llama3.2:latest-mario",
    ]


def test_each_pinned_model_is_listed_once_and_a_pinned_base_as_a_base(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pinned base with derivatives is named as not asked and not pulled, even when another
    pin is listed before it; a pinned base nothing is built on, never asked anyway, gets no
    line. The report counts them as held bases and derivatives, not as failures."""
    for name in ("qwq:latest", "llama3.2:latest-mario", "phi4:latest"):
        assert run(fake, db, "pin", name) == 0
    capsys.readouterr()
    fake.clear_requests()
    assert autopilot(fake, db, checks_file(tmp_path, ""), "--yes", "--json") == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "llama3.2:latest-mario: held (pinned): ollama-lineage unpin llama3.2:latest-mario",
        "qwq:latest: held (pinned): not checked upstream, not pulled",
        "autopilot: 0 pulled, 0 rebuilt and kept, 0 rolled back, 0 failed, 2 held, 2 already fresh",
    ]
    report = json.loads(captured.out)
    assert [(m["name"], m["kind"], m["outcome"]) for m in report["models"]] == [
        ("llama3.2:latest-mario", "derivative", "held"),
        ("qwq:latest", "base", "held"),
    ]
    assert not paths(fake, "/api/pull", "/api/create")


def test_a_base_the_registry_could_not_answer_for_is_reported_with_its_error(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Cron's JSON says which base went unchecked and why, as a base, so a script can tell
    an offline registry from a model that failed."""
    checks = ["autopilot", "--checks", str(checks_file(tmp_path, "")), "--yes", "--json"]
    assert run(fake, db, *checks, registry="http://127.0.0.1:9") == 1
    report = by_name(json.loads(capsys.readouterr().out))
    for base in ("llama3.2:latest", "qwq:latest"):
        entry = report[base]
        assert (entry["kind"], entry["outcome"]) == ("base", "not checked")
        assert entry["error"]
        assert entry["line"] == f"{base}: not checked upstream: {entry['error']}"


def cannot_generate(path: str, data: dict[str, Any]) -> dict[str, Any]:
    """The show of mario and the coder says what an embedding model's says: no completion."""
    if path == "/api/show" and data.get("system") in (CODER_SYSTEM, MARIO_SYSTEM):
        return {**data, "capabilities": ["embedding", "tools"]}
    return data


def test_a_model_that_cannot_generate_text_skips_its_smoke_check_and_fails_any_other(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Asking an embedding model for text says nothing about it: its smoke check is skipped
    (kept, and History says skipped), a check the file names for it fails and rolls it back,
    and neither is sent a generate. Each result carries the digest it was run on."""
    fake.reshape(cannot_generate)
    text = sentence_check("qwq:latest_20K") + "\n" + zebra_check("llama3.2:latest-mario")
    checks = checks_file(tmp_path, text)
    mario_before = fake.digest("llama3.2:latest-mario")
    assert mario_before is not None
    fake.clear_requests()
    assert autopilot(fake, db, checks, "--yes", "--json") == 1
    captured = capsys.readouterr()
    report = by_name(json.loads(captured.out))
    generated = {r.body["model"] for r in paths(fake, "/api/generate")}
    assert generated == {"qwq:latest_20K"}

    why = "cannot generate text (it can: embedding, tools)"
    coder = report["qwq:latest_20K-coder"]
    assert coder["outcome"] == "kept"
    assert f"kept: checks skipped (qwq:latest_20K-coder {why}); backup " in coder["line"]
    (smoke,) = coder["checks"]
    assert smoke["model"] == "qwq:latest_20K-coder"
    assert smoke["digest"] == coder["digest_after"] == fake.digest("qwq:latest_20K-coder")
    assert (smoke["check"], smoke["passed"]) == ("smoke", True)
    assert smoke["skipped"] == f"qwq:latest_20K-coder {why}"

    mario = report["llama3.2:latest-mario"]
    assert mario["outcome"] == "rolled back"
    (zebra,) = mario["checks"]
    assert zebra["failures"] == [f"llama3.2:latest-mario {why}"]
    assert (zebra["passed"], zebra["skipped"], zebra["reply"]) == (False, None, "")
    assert zebra["digest"] not in (None, mario_before)
    assert mario["line"] == (
        f"llama3.2:latest-mario: rolled back to {mario_before[:12]}: check"
        f' "knows zebras" failed on {zebra["digest"][:12]}: llama3.2:latest-mario {why};'
        " reply ''"
    )

    # A model that could answer is checked on the digest it was rebuilt to.
    qwq = report["qwq:latest_20K"]
    assert [c["digest"] for c in qwq["checks"]] == [qwq["digest_after"]]

    events = history(fake, db, capsys, "qwq:latest_20K-coder")
    check = next(e for e in events if e["kind"] == "check")
    assert check["status"] == "skipped"
    assert check["error"] == f"check smoke skipped: qwq:latest_20K-coder {why}"
    assert check["digest_before"] == check["digest_after"] == coder["digest_after"]

    # The last results, as `checks` lists them, name the digest each ran on.
    capsys.readouterr()
    assert run(fake, db, "checks", "--checks", str(checks)) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0] == "qwq:latest_20K"
    assert listed[1].startswith('  "starts a sentence"  passed (')
    assert listed[1].endswith(f" s on {qwq['digest_after'][:12]})")
    assert listed[3].endswith(f" s on {zebra['digest'][:12]})")


def test_checks_against_a_backup_that_is_gone_or_was_never_made(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With no backup the user is told to rebuild first; a backup deleted behind the app's
    back fails its side of the comparison (no digest, Ollama's error) and the new side is
    still checked."""
    checks = str(checks_file(tmp_path, sentence_check("qwq:latest_20K")))
    against = ["checks", "--checks", checks, "qwq:latest_20K", "--run", "--against-backup"]
    assert run(fake, db, *against) == 2
    assert capsys.readouterr().err == (
        "error: qwq:latest_20K has no backup to check against; rebuild it first\n"
    )

    fake.pull("qwq:latest")
    assert run(fake, db, "rebuild", "qwq:latest_20K", "--yes") == 0
    (backup,) = [n for n in fake.model_names() if n.startswith("qwq:latest_20K.bak-")]
    fake.delete(backup)
    capsys.readouterr()
    assert run(fake, db, *against, "--json") == 0
    (pair,) = json.loads(capsys.readouterr().out)["qwq:latest_20K"]
    assert (pair["old"]["model"], pair["old"]["digest"], pair["old"]["passed"]) == (
        backup,
        None,
        False,
    )
    assert pair["old"]["failures"] == [f"generate failed: Ollama: model '{backup}' not found"]
    assert pair["new"]["passed"] is True
    assert pair["new"]["digest"] == fake.digest("qwq:latest_20K")


# The pulled qwq:latest answers this in exactly 80 characters: the longest reply a line
# quotes whole.
BASE_CHECK = """\
[[check]]
model = "qwq:latest"
name = "names a zebra"
prompt = "Name a striped animal."
options = { num_predict = 12, seed = 26, temperature = 0 }
contains = "zebra"
"""


def test_a_failure_leaves_what_is_built_on_it_and_each_line_names_the_nearest_cause(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A base that fails its checks after its pull and a derivative rolled back each leave
    their whole subtree as it was; each model left names the parent that stopped it, the
    run goes on to the next tree, and a failing reply is quoted whole up to 80 characters,
    cut with an ellipsis beyond."""
    fake.create("llama3.2:latest-mario-jr", "llama3.2:latest-mario", system="Mario's son.")
    fake.create("llama3.2:latest-mario-jr-jr", "llama3.2:latest-mario-jr", system="Grandson.")
    checks = checks_file(tmp_path, BASE_CHECK + "\n" + zebra_check("llama3.2:latest-mario"))
    qwq_before, mario_before = fake.digest("qwq:latest"), fake.digest("llama3.2:latest-mario")
    assert qwq_before is not None and mario_before is not None
    fake.clear_requests()
    assert autopilot(fake, db, checks, "--yes", "--json") == 1
    captured = capsys.readouterr()
    report = by_name(json.loads(captured.out))
    assert created(fake) == ["llama3.2:latest-mario"]

    qwq = report["qwq:latest"]
    (base_reply,) = [" ".join(c["reply"].split()) for c in qwq["checks"]]
    assert len(base_reply) == 80  # quoted whole
    mario = report["llama3.2:latest-mario"]
    (mario_reply,) = [" ".join(c["reply"].split()) for c in mario["checks"]]
    assert len(mario_reply) > 80  # cut to 79 characters and an ellipsis
    qwq_after, mario_new = fake.digest("qwq:latest"), mario["checks"][0]["digest"]
    assert qwq_after is not None
    assert captured.err.splitlines() == [
        f"qwq:latest: pulled ({qwq_before[:12]} → {qwq_after[:12]}) but check"
        " \"names a zebra\" failed: reply does not contain 'zebra';"
        f" reply {base_reply!r}; models built on it are left as they were",
        f'llama3.2:latest-mario: rolled back to {mario_before[:12]}: check "knows zebras"'
        f" failed on {mario_new[:12]}: reply does not contain 'zebra';"
        f" reply {mario_reply[:79] + '…'!r}",
        "llama3.2:latest-mario-jr: not rebuilt: llama3.2:latest-mario was rolled back in"
        " this run; left as it was",
        "llama3.2:latest-mario-jr-jr: not rebuilt: llama3.2:latest-mario-jr was not rebuilt"
        " in this run; left as it was",
        "qwq:latest_20K: not rebuilt: qwq:latest failed its checks in this run; left as it was",
        "qwq:latest_20K-coder: not rebuilt: qwq:latest_20K was not rebuilt in this run;"
        " left as it was",
        "autopilot: 0 pulled, 0 rebuilt and kept, 1 rolled back, 1 failed, 4 skipped,"
        " 0 already fresh",
    ]
    assert qwq["outcome"] == "checks failed"
    left = {
        "llama3.2:latest-mario-jr": "llama3.2:latest-mario",
        "llama3.2:latest-mario-jr-jr": "llama3.2:latest-mario-jr",
        "qwq:latest_20K": "qwq:latest",
        "qwq:latest_20K-coder": "qwq:latest_20K",
    }
    assert {n: (report[n]["outcome"], report[n]["base"]) for n in left} == {
        n: ("skipped", base) for n, base in left.items()
    }


def test_the_json_report_says_where_when_and_with_which_checks_file(
    fake: FakeOllama,
    db: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A notify script told about several servers and nights needs the server, the checks
    file (null when there is none: every model got the smoke check) and when the run ended."""
    checks = checks_file(tmp_path, sentence_check("qwq:latest_20K"))
    assert autopilot(fake, db, checks, "--yes", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["host"] == fake.url
    assert report["checks_file"] == str(checks)
    assert report["finished_at"] >= report["started_at"]

    monkeypatch.setenv("OLLAMA_LINEAGE_CHECKS", str(tmp_path / "none.toml"))
    assert run(fake, db, "autopilot", "--yes", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["checks_file"] is None
    assert report["summary"].endswith(", 3 already fresh")


def test_a_model_whose_lineage_the_registry_cannot_confirm_is_held_before_its_base_moves(
    fake: FakeOllama,
    db: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """qwq:latest_20K is fresh now but will be stale once qwq:latest is pulled, and the
    registry fails when asked whether it is a pulled model: the plan skips it (with how to
    rebuild it alone) and holds what is built on it, instead of rebuilding on a guess."""
    for nth in range(1, 7):
        fake.fail("/v2/library/qwq/manifests/latest_20K", nth=nth, error="registry hiccup")
    non_tty(monkeypatch)
    assert autopilot(fake, db, checks_file(tmp_path, "")) == 2
    lines = capsys.readouterr().out.splitlines()
    assert [x.split()[:2] for x in lines[:2]] == [
        ["pull", "qwq:latest"],
        ["rebuild", "llama3.2:latest-mario"],
    ]
    assert lines[2:4] == [
        "qwq:latest_20K: skipped; its base is known only from Ollama's parent_model, which"
        " the registry could not confirm (a pulled model keeps its publisher's), so read its"
        " plan and run `ollama-lineage rebuild qwq:latest_20K` alone",
        "qwq:latest_20K-coder: held (built on qwq:latest_20K, which is held back)",
    ]

    # The run counts it as skipped (it needs the user), its child as held.
    capsys.readouterr()
    assert autopilot(fake, db, checks_file(tmp_path, ""), "--yes", "--json") == 1
    report = by_name(json.loads(capsys.readouterr().out))
    assert report["qwq:latest_20K"]["outcome"] == "skipped"
    assert report["qwq:latest_20K-coder"]["outcome"] == "held"


def test_before_the_confirm_the_registry_is_asked_only_what_it_can_settle(
    fake: FakeOllama,
    db: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The registry is asked about the bases and about a derivative whose lineage it may
    settle (mario's, known only from parent_model); a lineage the user tracked is not its
    business, however stale the model is."""
    assert run(fake, db, "track", "qwq:latest_20K", "--from", "qwq:latest") == 0
    assert run(fake, db, "track", "qwq:latest_20K-coder", "--from", "qwq:latest_20K") == 0
    non_tty(monkeypatch)
    fake.clear_requests()
    assert autopilot(fake, db, checks_file(tmp_path, "")) == 2
    assert "rebuild  qwq:latest_20K-coder" in capsys.readouterr().out
    asked = {r.path for r in fake.requests if r.path.startswith("/v2/")}
    assert asked == {
        "/v2/library/llama3.2/manifests/latest",
        "/v2/library/qwq/manifests/latest",
        "/v2/library/llama3.2/manifests/latest-mario",
    }


def test_a_model_already_stale_says_why_even_when_its_base_is_pulled_too(
    fake: FakeOllama,
    db: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """mario is stale now (llama3.2 moved on since it was built) and llama3.2 has yet another
    update: the plan gives the reason it is stale today, not "after llama3.2 is pulled"."""
    fake.publish("llama3.2:latest")
    non_tty(monkeypatch)
    assert autopilot(fake, db, checks_file(tmp_path, "")) == 2
    lines = capsys.readouterr().out.splitlines()
    assert lines[2] == (
        "rebuild  llama3.2:latest-mario  stale: llama3.2:latest has new weights since this"
        " was built"
    )


def test_a_model_whose_parent_rebuilt_to_the_same_digest_is_left_and_the_run_goes_on(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """mario's last rebuild failed, so it and mario-jr read as due; the create gives mario
    the digest it already has, so mario-jr is fresh again: not rebuilt, and the models
    after it in the tree still are."""
    assert run(fake, db, "rebuild", "--all-stale", "--yes") == 0
    fake.create("llama3.2:latest-mario-jr", "llama3.2:latest-mario", system="Mario's son.")
    fake.fail("/api/create", status=500, error="out of disk")
    assert run(fake, db, "rebuild", "llama3.2:latest-mario", "--yes") == 1
    fake.publish("qwq:latest")
    capsys.readouterr()
    fake.clear_requests()
    assert autopilot(fake, db, checks_file(tmp_path, ""), "--yes") == 0
    out = capsys.readouterr().out.splitlines()
    assert created(fake) == ["llama3.2:latest-mario", "qwq:latest_20K", "qwq:latest_20K-coder"]
    assert [x.split(":", 2)[:2] for x in out[:4]] == [
        ["qwq", "latest"],
        ["llama3.2", "latest-mario"],
        ["qwq", "latest_20K"],
        ["qwq", "latest_20K-coder"],
    ]
    assert out[1].startswith("llama3.2:latest-mario: unchanged (")
    assert out[4] == (
        "autopilot: 1 pulled, 2 rebuilt and kept, 0 rolled back, 0 failed, 1 unchanged,"
        " 1 already fresh"
    )


class ConfirmAfter:
    """An interactive stdin whose user answers yes after ``meanwhile`` has run."""

    def __init__(self, meanwhile: Any) -> None:
        self.meanwhile = meanwhile

    def isatty(self) -> bool:
        return True

    def readline(self) -> str:
        self.meanwhile()
        return "y\n"


def test_a_model_made_stale_while_the_prompt_waited_is_held_and_said(
    fake: FakeOllama,
    db: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """phi4:latest-legal is pinned and fresh when the plan is made; while the user reads
    the prompt another client pulls a new phi4. The run does not rebuild it and says why,
    as it would have had the plan known."""
    fake.create("phi4:latest-legal", "phi4:latest", system="Answer as a lawyer.")
    assert run(fake, db, "pin", "phi4:latest-legal") == 0

    def another_client_pulls_phi4() -> None:
        fake.publish("phi4:latest")
        fake.pull("phi4:latest")

    monkeypatch.setattr(sys, "stdin", ConfirmAfter(another_client_pulls_phi4))
    capsys.readouterr()
    fake.clear_requests()
    assert autopilot(fake, db, checks_file(tmp_path, "")) == 0
    out = capsys.readouterr().out.splitlines()
    assert "phi4:latest-legal" not in created(fake)
    assert "phi4:latest-legal: held (pinned): ollama-lineage unpin phi4:latest-legal" in out
    assert out[-1].endswith(", 1 held, 0 already fresh")
