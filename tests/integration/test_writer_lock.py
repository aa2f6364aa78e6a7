"""One writer per server: two real processes on one database and one stand-in server."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from ollama_lineage.fake_ollama import FakeOllama


def start(fake: FakeOllama, db: Path, *args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "ollama_lineage.cli", *args]
    command += ["--host", fake.host, "--db", str(db), "--registry", fake.registry_url]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_request(fake: FakeOllama, path: str, process: subprocess.Popen[str]) -> None:
    """Until the server got ``path`` (the first writer is inside its run), or it ended."""
    while not any(r.path == path for r in fake.requests):
        assert process.poll() is None, process.communicate()
        time.sleep(0.01)


@pytest.fixture
def moved(fake: FakeOllama, tmp_path: Path) -> Path:
    """qwq:latest moved on: its two derivatives are due a rebuild. Returns the database."""
    fake.publish("qwq:latest")
    fake.pull("qwq:latest")
    fake.set_latency(1.5, "/api/create")  # each create takes a while: the first run sits in it
    fake.clear_requests()
    return tmp_path / "db.sqlite3"


def test_a_second_writer_exits_2_naming_the_first(fake: FakeOllama, moved: Path) -> None:
    first = start(fake, moved, "rebuild", "--all-stale", "--yes")
    wait_for_request(fake, "/api/create", first)
    second = start(fake, moved, "rebuild", "qwq:latest_20K", "--yes")
    out, err = second.communicate(timeout=60)
    assert second.returncode == 2, (out, err)
    assert err.startswith(
        f"error: another ollama-lineage is changing models on {fake.host}: "
        f"'rebuild --all-stale --yes' (pid {first.pid} on "
    )
    assert err.rstrip().endswith("wait for it to finish, or pass --wait SECONDS")
    assert first.wait(timeout=60) == 0, first.communicate()
    creates = [r.body["model"] for r in fake.requests if r.path == "/api/create"]
    assert sorted(creates) == sorted(set(creates))  # no model was created twice
    assert "qwq:latest_20K" in creates


def test_a_waiting_writer_goes_ahead_once_the_first_is_done(fake: FakeOllama, moved: Path) -> None:
    first = start(fake, moved, "rebuild", "--all-stale", "--yes")
    wait_for_request(fake, "/api/create", first)
    second = start(fake, moved, "rollback", "qwq:latest_20K", "--yes", "--wait", "120")
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, (out, err)
    assert out.startswith("qwq:latest_20K rolled back to ")
    # Told once whom it waits for, so a long wait does not look like a hang.
    assert len(err.splitlines()) == 1
    assert err.startswith(f"waiting up to 120 s for 'rebuild --all-stale --yes' (pid {first.pid}")
    assert err.rstrip().endswith(f"on {fake.host}")
    assert first.wait(timeout=60) == 0, first.communicate()
    changes = [r for r in fake.requests if r.path in ("/api/create", "/api/copy")]
    assert len([r for r in changes if r.path == "/api/create"]) == 3  # the whole first run
    rollback = changes[-1]  # came after all of it
    assert rollback.path == "/api/copy" and rollback.body["destination"] == "qwq:latest_20K"


def test_a_writer_that_waited_reads_the_server_after_the_first_one(
    fake: FakeOllama, moved: Path
) -> None:
    """Not the listing it asked for at start, from before the first one's rebuilds."""
    first = start(fake, moved, "rebuild", "--all-stale", "--yes")
    wait_for_request(fake, "/api/create", first)
    second = start(fake, moved, "rebuild", "qwq:latest_20K", "--yes", "--wait", "120")
    out, err = second.communicate(timeout=120)
    first_out, _ = first.communicate(timeout=60)
    assert second.returncode == 0, err
    line = next(x for x in first_out.splitlines() if x.startswith("qwq:latest_20K: rebuilt"))
    after_first = line.split(" → ")[1][:12]
    # It planned from the model the first one made, so its create changed nothing.
    assert out.startswith(f"qwq:latest_20K: unchanged ({after_first}, fresh)")
