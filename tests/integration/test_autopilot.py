"""Autopilot against the stand-in: pull, rebuild, check, keep or roll back, as cron sees it.

The stand-in's generate answers with words from a fixed vocabulary, the first capitalised:
a reply always matches '^[A-Z]' and never contains "zebra", which makes a check that holds
and one that does not.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from ollama_lineage.cli import main
from ollama_lineage.config import Settings
from ollama_lineage.fake_ollama import FakeOllama, RecordedRequest
from ollama_lineage.services.autopilot import check_against_backup, model_checks
from ollama_lineage.services.checks import load_checks
from ollama_lineage.services.pins import bulk_selection
from ollama_lineage.services.session import open_session
from tests.checks_samples import sentence_check, zebra_check

PASSING = sentence_check("qwq:latest_20K", max_seconds=30)
FAILING = zebra_check("qwq:latest_20K")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "lineage.sqlite3"


def checks_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "checks.toml"
    path.write_text(text, encoding="utf-8")
    return path


def run(fake: FakeOllama, db: Path, *args: str) -> int:
    return main([*args, "--host", fake.host, "--db", str(db), "--registry", fake.registry_url])


def autopilot(fake: FakeOllama, db: Path, checks: Path, *extra: str) -> int:
    return run(fake, db, "autopilot", "--checks", str(checks), *extra)


def paths(fake: FakeOllama, *wanted: str) -> list[RecordedRequest]:
    return [r for r in fake.requests if r.path in wanted]


def created(fake: FakeOllama) -> list[str]:
    return [r.body["model"] for r in paths(fake, "/api/create")]


def history(
    fake: FakeOllama, db: Path, capsys: pytest.CaptureFixture[str], name: str | None = None
) -> list[dict[str, Any]]:
    capsys.readouterr()
    run(fake, db, "history", *([name] if name else ["--since", "1h"]), "--json")
    events: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return events


def test_an_update_that_passes_is_pulled_rebuilt_and_kept(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old_base, old_child = fake.digest("qwq:latest"), fake.digest("qwq:latest_20K")
    fake.clear_requests()
    assert autopilot(fake, db, checks_file(tmp_path, PASSING), "--yes") == 0
    out = capsys.readouterr().out.splitlines()

    assert fake.digest("qwq:latest") != old_base
    assert [r.body["model"] for r in paths(fake, "/api/pull")] == ["qwq:latest"]
    rebuilt = created(fake)
    assert rebuilt.index("qwq:latest_20K") < rebuilt.index("qwq:latest_20K-coder")
    assert fake.digest("qwq:latest_20K") != old_child
    # The check went to the rebuilt model with its options; the last check unloads it.
    checks = [r.body for r in paths(fake, "/api/generate") if r.body["model"] == "qwq:latest_20K"]
    assert [c["prompt"] for c in checks] == ["Say something about context windows."]
    assert checks[0]["options"] == {"temperature": 0, "seed": 1}
    assert checks[0]["keep_alive"] == 0
    # No copy back: the backup stays as the rebuild left it.
    copies = [r.body for r in paths(fake, "/api/copy")]
    assert all(c["source"] == c["destination"].split(".bak-")[0] for c in copies)

    # One line per model, then the summary: what cron mails.
    # The demo has qwq:latest, so digest() gives a str here, never None.
    assert out[0] == f"qwq:latest: pulled ({old_base[:12]} → {fake.digest('qwq:latest')[:12]})"  # type: ignore[index]
    line = next(x for x in out if x.startswith("qwq:latest_20K: "))
    assert "rebuilt from qwq:latest" in line
    assert "kept: 1 check passed" in line and "backup qwq:latest_20K.bak-" in line
    assert any(x.startswith("qwq:latest_20K-coder: ") and "smoke check passed" in x for x in out)
    assert out[-1].startswith("autopilot: 1 pulled, 3 rebuilt and kept, 0 rolled back, 0 failed")

    events = history(fake, db, capsys, "qwq:latest_20K")
    kinds = [(e["kind"], e["status"]) for e in events if e["name"] == "qwq:latest_20K"]
    assert kinds == [("check", "passed"), ("build", "success")]
    assert events[0]["error"].startswith('check "starts a sentence" passed')

    # Everything ended fresh: a second night has nothing to do.
    fake.clear_requests()
    assert autopilot(fake, db, checks_file(tmp_path, PASSING), "--yes") == 0
    assert not paths(fake, "/api/pull", "/api/create", "/api/copy", "/api/generate")
    assert capsys.readouterr().out.strip().endswith("0 failed, 3 already fresh")


def test_a_failing_check_rolls_back_to_the_old_digest(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old_child = fake.digest("qwq:latest_20K")
    old_coder = fake.digest("qwq:latest_20K-coder")
    fake.clear_requests()
    assert autopilot(fake, db, checks_file(tmp_path, FAILING), "--yes") == 1
    out = capsys.readouterr().out.splitlines()

    # Rebuilt, checked, then copied back from its backup: the old digest is live again.
    assert "qwq:latest_20K" in created(fake)
    backup = next(
        r.body["destination"]
        for r in paths(fake, "/api/copy")
        if r.body["source"] == "qwq:latest_20K"
    )
    assert {"source": backup, "destination": "qwq:latest_20K"} in [
        r.body for r in paths(fake, "/api/copy")
    ]
    assert fake.digest("qwq:latest_20K") == old_child
    # Its child is not rebuilt on top of a version that was thrown away.
    assert "qwq:latest_20K-coder" not in created(fake)
    assert fake.digest("qwq:latest_20K-coder") == old_coder

    line = next(x for x in out if x.startswith("qwq:latest_20K: "))
    # The demo has qwq:latest_20K, so digest() gave a str, never None.
    assert line.startswith(f"qwq:latest_20K: rolled back to {old_child[:12]}: ")  # type: ignore[index]
    assert 'check "knows zebras" failed' in line and "does not contain 'zebra'" in line
    assert "reply '" in line
    assert (
        "qwq:latest_20K-coder: not rebuilt: qwq:latest_20K was rolled back in this run;"
        " left as it was"
    ) in out
    assert "1 rolled back" in out[-1]

    # History names the failed check, with the reply the model gave.
    events = history(fake, db, capsys, "qwq:latest_20K")
    mine = [e for e in events if e["name"] == "qwq:latest_20K"]
    assert [(e["kind"], e["status"]) for e in mine] == [
        ("rollback", "success"),
        ("check", "failed"),
        ("build", "success"),
    ]
    failed = mine[1]
    assert failed["error"] == "check \"knows zebras\" failed: reply does not contain 'zebra'"
    reply = next(
        r for r in paths(fake, "/api/generate") if r.body["prompt"] == "Name a striped animal."
    )
    assert reply.body["model"] == "qwq:latest_20K"
    assert failed["log"] and failed["log"][0].isupper()
    assert mine[0]["digest_after"] == old_child

    # The tree tells the truth: the model is the old one, still behind its base.
    capsys.readouterr()
    run(fake, db, "status", "--json")
    states = {m["name"]: m["state"] for m in json.loads(capsys.readouterr().out)["models"]}
    assert states["qwq:latest_20K"] == "stale"
    assert states["qwq:latest_20K-coder"] == "stale upstream"

    # The last result is in the database, for the TUI's Overview.
    with sqlite3.connect(db) as raw:
        rows = raw.execute(
            "SELECT label, passed, failures FROM check_results WHERE model = 'qwq:latest_20K'"
        ).fetchall()
    assert rows == [('"knows zebras"', 0, "[\"reply does not contain 'zebra'\"]")]


def test_a_failed_rebuild_keeps_the_old_model_and_leaves_its_children(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.pull("qwq:latest")
    old_child = fake.digest("qwq:latest_20K")
    fake.clear_requests()
    fake.fail("/api/create", nth=2, error="out of disk space")  # mario first, then qwq 20K
    assert autopilot(fake, db, checks_file(tmp_path, PASSING), "--yes") == 1
    out = capsys.readouterr().out.splitlines()
    assert fake.digest("qwq:latest_20K") == old_child
    assert "qwq:latest_20K-coder" not in created(fake)
    line = next(x for x in out if x.startswith("qwq:latest_20K: "))
    assert "failed, old model kept" in line and "out of disk space" in line
    assert any(
        "qwq:latest_20K-coder: not rebuilt: qwq:latest_20K failed to rebuild" in x for x in out
    )


def test_a_check_that_takes_too_long_fails_and_rolls_back(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old_child = fake.digest("qwq:latest_20K")
    fake.set_token_delay(0.05)  # a reply of 24+ words takes more than a second
    slow = PASSING.replace("max_seconds = 30", "max_seconds = 0.2")
    assert autopilot(fake, db, checks_file(tmp_path, slow), "--yes") == 1
    out = capsys.readouterr().out
    assert "no complete reply within 0.2 s" in out
    assert fake.digest("qwq:latest_20K") == old_child


def test_json_report_and_notify_command(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    got = tmp_path / "report.json"
    notify = (
        f"{sys.executable} -c \"import sys; open(sys.argv[1], 'w').write(sys.stdin.read())\" {got}"
    )
    assert (
        autopilot(fake, db, checks_file(tmp_path, FAILING), "--yes", "--json", "--notify", notify)
        == 1
    )
    captured = capsys.readouterr()
    report = json.loads(captured.out)  # stdout is the report alone; the lines went to stderr
    assert "qwq:latest_20K: rolled back" in captured.err
    assert json.loads(got.read_text()) == report
    assert report["exit_code"] == 1
    by_name = {m["name"]: m for m in report["models"]}
    assert by_name["qwq:latest"]["outcome"] == "pulled"
    rolled = by_name["qwq:latest_20K"]
    assert rolled["outcome"] == "rolled back"
    assert rolled["digest_after"] == rolled["digest_before"] == fake.digest("qwq:latest_20K")
    (check,) = rolled["checks"]
    assert check["check"] == '"knows zebras"' and check["passed"] is False
    assert check["failures"] == ["reply does not contain 'zebra'"] and check["reply"]
    assert by_name["qwq:latest_20K-coder"]["outcome"] == "skipped"


def test_a_notify_command_that_fails_is_said_and_makes_the_run_exit_1(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.delete("qwq:latest_20K-coder")
    fake.delete("qwq:latest_20K")  # nothing of qwq's to rebuild; mario passes its smoke check
    assert autopilot(fake, db, checks_file(tmp_path, ""), "--yes", "--notify", "exit 3") == 1
    assert "warning: --notify command exited 3: exit 3" in capsys.readouterr().err


def test_an_unreachable_server_exits_2_and_is_notified(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    got = tmp_path / "report.json"
    notify = f"cat > {got}"
    code = main(
        [
            "autopilot",
            "--yes",
            "--host",
            "127.0.0.1:9",
            "--db",
            str(db),
            "--checks",
            str(checks_file(tmp_path, PASSING)),
            "--notify",
            notify,
        ]
    )
    assert code == 2
    assert capsys.readouterr().err.startswith("error: cannot reach Ollama at http://127.0.0.1:9")
    report = json.loads(got.read_text())
    assert report["exit_code"] == 2 and "cannot reach Ollama" in report["error"]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[[check]\nmodel = 1", "checks.toml:1:8: not valid TOML"),
        (
            '[[check]]\nmodel = "qwq:latest_20K"\nprompt = "hi"\ncontain = "x"\n',
            "checks.toml:4: check 1: unknown key 'contain'; did you mean 'contains'?",
        ),
        (
            '[[check]]\nmodel = "qwq:latest_20K"\nprompt = "hi"\nregex = "("\n',
            "checks.toml:4: check 1: regex '(' does not compile",
        ),
        (
            '[[check]]\nmodel = "qwq:latest_20K"\nprompt = "hi"\nmax_seconds = "soon"\n',
            "checks.toml:4: check 1: max_seconds must be a number of seconds",
        ),
    ],
)
def test_a_bad_checks_file_is_refused_before_any_request(
    fake: FakeOllama,
    db: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    says: str,
) -> None:
    fake.clear_requests()
    assert autopilot(fake, db, checks_file(tmp_path, text), "--yes") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path / says}")
    assert fake.requests == []


def test_a_check_for_a_model_the_server_lacks_is_refused_before_any_pull(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = PASSING + '\n[[check]]\nmodel = "nosuch:model"\nprompt = "hi"\n'
    fake.clear_requests()
    assert autopilot(fake, db, checks_file(tmp_path, text), "--yes") == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'checks.toml'}:10: check 2: no model nosuch:model on" in err
    assert not paths(fake, "/api/pull", "/api/create", "/api/copy", "/api/generate")
    assert not [r for r in fake.requests if r.method == "HEAD"]


def test_a_missing_checks_file_given_by_name_is_refused(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert autopilot(fake, db, tmp_path / "nope.toml", "--yes") == 2
    assert "nope.toml: no such checks file" in capsys.readouterr().err


def test_without_yes_it_shows_the_plan_and_refuses_a_non_tty(
    fake: FakeOllama,
    db: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "stdin", open(os.devnull))  # noqa: SIM115
    fake.clear_requests()
    assert autopilot(fake, db, checks_file(tmp_path, PASSING)) == 2
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].split()[:2] == ["pull", "qwq:latest"]
    assert "registry has" in lines[0]
    assert any(x.split()[:2] == ["rebuild", "qwq:latest_20K-coder"] for x in lines)
    assert "after qwq:latest_20K is rebuilt" in captured.out
    assert "error: not asking on a non-interactive input: pass --yes" in captured.err
    assert not paths(fake, "/api/pull", "/api/create", "/api/copy", "/api/generate")


def test_pins_hold_a_model_and_what_is_built_on_it(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old_child = fake.digest("qwq:latest_20K")
    assert run(fake, db, "pin", "QWQ:latest_20K") == 0
    assert capsys.readouterr().out.startswith(
        "qwq:latest_20K pinned: autopilot and rebuild --all-stale leave it and what is built"
        " on it (qwq:latest_20K-coder) alone"
    )
    run(fake, db, "status")
    line = next(x for x in capsys.readouterr().out.splitlines() if " qwq:latest_20K " in x)
    assert "qwq:latest_20K ⚑" in line and "pinned (⚑)" in line
    run(fake, db, "status", "--json")
    pinned = {m["name"] for m in json.loads(capsys.readouterr().out)["models"] if m["pinned"]}
    assert pinned == {"qwq:latest_20K"}

    fake.clear_requests()
    assert autopilot(fake, db, checks_file(tmp_path, PASSING), "--yes") == 0
    out: list[str] | str = capsys.readouterr().out.splitlines()
    assert [r.body["model"] for r in paths(fake, "/api/pull")] == ["qwq:latest"]
    assert created(fake) == ["llama3.2:latest-mario"]
    assert fake.digest("qwq:latest_20K") == old_child
    assert "qwq:latest_20K: held (pinned): ollama-lineage unpin qwq:latest_20K" in out
    assert "qwq:latest_20K-coder: held (built on qwq:latest_20K, which is pinned)" in out

    # rebuild --all-stale leaves them too, and says so.
    fake.clear_requests()
    assert run(fake, db, "rebuild", "--all-stale", "--yes") == 1  # stale models are left
    assert capsys.readouterr().out.splitlines() == [
        "qwq:latest_20K: held back, pinned (ollama-lineage unpin qwq:latest_20K to rebuild it)",
        "qwq:latest_20K-coder: held back, built on qwq:latest_20K, which is pinned",
        "nothing to rebuild; 2 held back",
    ]
    assert created(fake) == []

    assert run(fake, db, "unpin", "qwq:latest_20K") == 0
    assert "qwq:latest_20K unpinned" in capsys.readouterr().out
    assert autopilot(fake, db, checks_file(tmp_path, PASSING), "--yes") == 0
    assert created(fake) == ["qwq:latest_20K", "qwq:latest_20K-coder"]


def test_a_pinned_base_is_neither_asked_about_nor_pulled(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old_base = fake.digest("qwq:latest")
    assert run(fake, db, "pin", "qwq:latest") == 0
    fake.clear_requests()
    assert autopilot(fake, db, checks_file(tmp_path, PASSING), "--yes") == 0
    out = capsys.readouterr().out
    assert "qwq:latest: held (pinned): not checked upstream, not pulled" in out
    assert fake.digest("qwq:latest") == old_base
    assert "/v2/library/qwq/manifests/latest" not in {r.path for r in fake.requests}
    assert run(fake, db, "pin", "qwq:latest.bak-20260101-000000") == 2  # no such model


def test_two_runs_at_once_never_rebuild_a_model_twice(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checks = checks_file(tmp_path, PASSING)
    run(fake, db, "status")
    fake.clear_requests()
    fake.set_latency(2.0, "/api/generate")  # the first run sits in its first check
    codes: list[int] = []
    first = threading.Thread(target=lambda: codes.append(autopilot(fake, db, checks, "--yes")))
    first.start()
    deadline = time.monotonic() + 30
    while not paths(fake, "/api/generate") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert paths(fake, "/api/generate"), "the first run never reached its checks"
    assert autopilot(fake, db, checks, "--yes") == 2
    fake.set_latency(0.0, "/api/generate")
    first.join(timeout=60)
    assert codes == [0]
    names = created(fake)
    assert sorted(names) == sorted(set(names))
    assert len([r for r in paths(fake, "/api/pull")]) == 1


def test_checks_command_lists_last_results_and_runs_them(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checks = checks_file(tmp_path, PASSING + "\n" + FAILING)
    assert run(fake, db, "checks", "--checks", str(checks)) == 0
    assert capsys.readouterr().out.splitlines() == [
        "qwq:latest_20K",
        '  "starts a sentence"  never run',
        '  "knows zebras"  never run',
    ]
    fake.clear_requests()
    assert run(fake, db, "checks", "--checks", str(checks), "--run") == 1
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith('  "starts a sentence": passed (')
    assert out[2].startswith("  \"knows zebras\": FAILED: reply does not contain 'zebra' (")
    assert [r.body.get("keep_alive") for r in paths(fake, "/api/generate")] == [None, 0]
    assert run(fake, db, "checks", "--checks", str(checks), "phi4") == 0
    assert capsys.readouterr().out.splitlines() == ["phi4:latest", "  smoke  never run"]
    run(fake, db, "checks", "--checks", str(checks))
    listed = capsys.readouterr().out.splitlines()
    assert listed[1].startswith('  "starts a sentence"  passed (')
    assert listed[2].startswith("  \"knows zebras\"  failed: reply does not contain 'zebra' (")


async def test_what_the_tui_calls_checks_side_by_side_and_bulk_rebuilds(
    fake: FakeOllama, tmp_path: Path
) -> None:
    settings = Settings(host=fake.url, db_path=tmp_path / "db", registry=fake.registry_url)
    checks = load_checks(checks_file(tmp_path, PASSING + "\n" + FAILING))
    fake.pull("qwq:latest")
    async with open_session(settings) as session:
        await session.syncer.poll()
        await session.upstream.settle_guesses()
        snapshot = session.syncer.snapshot
        everything = snapshot.stale_in_order()
        assert bulk_selection(snapshot, set()).todo == everything
        assert bulk_selection(snapshot, {"qwq:latest_20K"}).todo == ["llama3.2:latest-mario"]
        assert bulk_selection(snapshot, {"qwq:latest"}).todo == ["llama3.2:latest-mario"]

        plan = await session.rebuilder.plan("qwq:latest_20K")
        await session.rebuilder.run(plan)
        statuses = await model_checks(session, checks, "qwq:latest_20K")
        assert [(s.check.label, s.last) for s in statuses] == [
            ('"starts a sentence"', None),
            ('"knows zebras"', None),
        ]
        fake.clear_requests()
        seen: list[tuple[int, str]] = []
        pairs = await check_against_backup(
            session,
            checks,
            "qwq:latest_20K",
            on_result=lambda side, r: seen.append((side, r.model)),
        )
        # The backup first, all its checks, unloaded after the last; then the model.
        generated = [
            (r.body["model"], r.body.get("keep_alive")) for r in paths(fake, "/api/generate")
        ]
        assert generated == [
            (plan.backup, None),
            (plan.backup, 0),
            ("qwq:latest_20K", None),
            ("qwq:latest_20K", 0),
        ]
        assert [side for side, _ in seen] == [0, 0, 1, 1]
        assert [(p.old.passed, p.new.passed) for p in pairs] == [(True, True), (False, False)]
        assert pairs[0].old.reply != pairs[0].new.reply  # two versions, two answers
        statuses = await model_checks(session, checks, "qwq:latest_20K")
        assert [s.last.passed if s.last else None for s in statuses] == [True, False]
        assert statuses[1].last is not None and statuses[1].last.failures == [
            "reply does not contain 'zebra'"
        ]


def test_an_unreachable_registry_is_said_and_the_rest_goes_on(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checks = ["autopilot", "--checks", str(checks_file(tmp_path, PASSING)), "--yes"]
    code = main([*checks, "--host", fake.host, "--db", str(db), "--registry", "http://127.0.0.1:9"])
    assert code == 1
    out = capsys.readouterr().out.splitlines()
    assert any(x.startswith("qwq:latest: not checked upstream: ") for x in out)
    assert not paths(fake, "/api/pull")
    # mario's lineage is a first-sight guess only the registry can settle: left alone.
    assert any(x.startswith("llama3.2:latest-mario: skipped; its lineage is a guess") for x in out)
    assert created(fake) == []
    assert out[-1].endswith("1 skipped, 2 not checked, 2 already fresh")


def test_a_server_that_goes_away_mid_run_stops_it_with_exit_2(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.clear_requests()
    fake.fail("/api/copy", nth=2, mode="drop")  # the second backup: the server vanishes
    assert autopilot(fake, db, checks_file(tmp_path, PASSING), "--yes") == 2
    out = capsys.readouterr().out.splitlines()
    assert out[-2].startswith("error: cannot reach Ollama at ")
    assert out[-1].startswith("autopilot stopped: 1 pulled, 1 rebuilt and kept")
    assert len(created(fake)) == 1  # nothing after the failure was attempted


def test_autopilot_holds_back_what_is_built_on_a_guess(
    fake: FakeOllama, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """qwq:latest moved before first sight and no registry answers: qwq:latest_20K is a guess,
    so its child is not rebuilt on it (no backup, no create: the same model again)."""
    fake.publish("qwq:latest")
    fake.pull("qwq:latest")
    fake.clear_requests()
    checks = checks_file(tmp_path, PASSING)
    where = ["--host", fake.host, "--db", str(db), "--registry", "http://127.0.0.1:9"]
    assert main(["autopilot", "--checks", str(checks), "--yes", *where]) == 1
    out = capsys.readouterr().out.splitlines()
    assert "qwq:latest_20K-coder: held (built on qwq:latest_20K, which is held back)" in out
    assert any(x.startswith("qwq:latest_20K: skipped; its lineage is a guess") for x in out)
    assert paths(fake, "/api/create", "/api/copy") == []
