"""Several servers, one run: stand-ins on their own ports, one database."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from ollama_lineage.cli import main
from ollama_lineage.fake_ollama import FakeOllama


@pytest.fixture
def other() -> Iterator[FakeOllama]:
    """A second server: the demo too, so the same names live on both."""
    with FakeOllama(scenario="demo") as server:
        server.set_pull_speed(None)
        yield server


@pytest.fixture
def down() -> str:
    """An address where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def hosts_file(tmp_path: Path, *hosts: tuple[str, str]) -> Path:
    path = tmp_path / "hosts.toml"
    path.write_text("".join(f'[[host]]\nname = "{n}"\nurl = "{u}"\n\n' for n, u in hosts))
    return path


def run(db: Path, *args: str, registry: FakeOllama) -> int:
    return main([*args, "--db", str(db), "--registry", registry.registry_url])


def test_status_over_three_hosts_prints_each_and_exits_2_when_one_is_down(
    fake: FakeOllama,
    other: FakeOllama,
    down: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = hosts_file(tmp_path, ("gpu", fake.host), ("laptop", other.host), ("ci", down))
    db = tmp_path / "db"
    assert run(db, "status", "--hosts", str(path), registry=fake) == 2
    out = capsys.readouterr().out
    sections = out.split("\n\n")
    assert [s.splitlines()[0] for s in sections] == [
        f"== gpu ({fake.url})",
        f"== laptop ({other.url})",
        f"== ci (http://{down})",
    ]
    assert "qwq:latest_20K" in sections[0] and "qwq:latest_20K" in sections[1]
    assert sections[2].splitlines()[1].startswith(f"error: cannot reach {down} (")

    assert run(db, "status", "--json", "--hosts", str(path), registry=fake) == 2
    hosts = json.loads(capsys.readouterr().out)["hosts"]
    assert [(h["name"], h["host"]) for h in hosts] == [
        ("gpu", fake.url),
        ("laptop", other.url),
        ("ci", f"http://{down}"),
    ]
    assert hosts[0]["error"] is None and hosts[2]["error"].startswith("cannot reach")
    assert hosts[2]["models"] == []
    states = {m["name"]: m["state"] for m in hosts[1]["models"]}
    assert states["llama3.2:latest-mario"] == "stale"


def test_hosts_are_asked_at_once_not_one_after_another(
    fake: FakeOllama, other: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.set_latency(1.0, "/api/tags")
    code = run(tmp_path / "db", "status", "--host", fake.host, "--host", other.host, registry=fake)
    assert code == 1  # both reachable; the demo has a stale model
    (slow,) = [r.at for r in fake.requests if r.path == "/api/tags"]
    (quick,) = [r.at for r in other.requests if r.path == "/api/tags"]
    assert quick < slow + 1.0  # asked while the slow host still held its answer


def test_a_change_goes_host_by_host_each_under_its_name(
    fake: FakeOllama, other: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = hosts_file(tmp_path, ("gpu", fake.host), ("laptop", other.host))
    db = tmp_path / "db"
    assert run(db, "rebuild", "--all-stale", "--yes", "--hosts", str(path), registry=fake) == 0
    out = capsys.readouterr().out
    gpu, laptop = out.split("\n\n")
    assert gpu.startswith(f"== gpu ({fake.url})") and laptop.startswith(f"== laptop ({other.url})")
    for server in (fake, other):
        creates = [r.body["model"] for r in server.requests if r.path == "/api/create"]
        assert creates == ["llama3.2:latest-mario"]
    assert run(db, "status", "--hosts", str(path), registry=fake) == 0


def test_one_host_keeps_todays_json_shape(
    fake: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = hosts_file(tmp_path, ("gpu", fake.host))
    run(tmp_path / "db", "status", "--json", "--hosts", str(path), registry=fake)
    listing = json.loads(capsys.readouterr().out)
    assert listing["host"] == fake.url and "hosts" not in listing


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("history", "--since", "1h", "--json"), "history --json reads one server"),
        (("status", "--models-dir", "/tmp"), "--models-dir is one server's folder"),
    ],
)
def test_what_does_not_take_several_hosts_says_so_before_any_request(
    fake: FakeOllama,
    other: FakeOllama,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: tuple[str, ...],
    message: str,
) -> None:
    path = hosts_file(tmp_path, ("gpu", fake.host), ("laptop", other.host))
    fake.clear_requests()
    assert main([*extra, "--hosts", str(path), "--db", str(tmp_path / "db")]) == 2
    assert message in capsys.readouterr().err
    assert fake.requests == [] and other.requests == []


def test_prometheus_gauges_per_host_for_the_textfile_collector(
    fake: FakeOllama,
    other: FakeOllama,
    down: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = hosts_file(tmp_path, ("gpu", fake.host), ("ci", down))
    other.publish("qwq:latest")
    args = ["status", "--format", "prometheus", "--check-upstream"]
    assert run(tmp_path / "db", *args, "--hosts", str(path), registry=other) == 2
    out = capsys.readouterr().out
    samples = dict(line.rsplit(" ", 1) for line in out.splitlines() if not line.startswith("#"))
    gpu, ci = f'host="gpu",url="{fake.url}"', f'host="ci",url="http://{down}"'
    assert samples[f"ollama_lineage_up{{{gpu}}}"] == "1"
    assert samples[f"ollama_lineage_up{{{ci}}}"] == "0"
    assert samples[f'ollama_lineage_models{{{gpu},state="stale"}}'] == "1"
    assert samples[f'ollama_lineage_models{{{gpu},state="drifted"}}'] == "0"
    assert samples[f"ollama_lineage_base_updates{{{gpu}}}"] == "1"  # qwq:latest moved upstream
    assert samples[f"ollama_lineage_derivatives_stale{{{gpu}}}"] == "1"
    assert float(samples[f"ollama_lineage_last_poll_timestamp_seconds{{{gpu}}}"]) > 1.7e9
    assert not any(ci in key for key in samples if "_up{" not in key)  # a down host: only up
    assert "# TYPE ollama_lineage_models gauge" in out
