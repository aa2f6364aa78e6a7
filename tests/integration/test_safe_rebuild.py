"""Upstream check, pull, A/B compare: the article's workflow, one subcommand each."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ollama_lineage.cli import main
from ollama_lineage.config import Settings
from ollama_lineage.fake_ollama import FakeOllama
from ollama_lineage.ollama.client import Progress
from ollama_lineage.services.rebuild import RebuildError
from ollama_lineage.services.session import open_session


def cli(fake: FakeOllama, tmp_path: Path, *args: str, registry: str | None = None) -> int:
    extra = ["--registry", registry or fake.registry_url]
    return main([*args, "--host", fake.host, "--db", str(tmp_path / "db"), *extra])


def states(capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    return {m["name"]: m["state"] for m in json.loads(capsys.readouterr().out)["models"]}


def test_upstream_update_is_seen_without_pulling(
    fake: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.clear_requests()
    cli(fake, tmp_path, "status", "--json", "--check-upstream")
    found = states(capsys)
    assert found["qwq:latest"] == "update available"
    assert found["phi4:latest"] == "current"
    assert not [r for r in fake.requests if r.path == "/api/pull"]
    heads = [r for r in fake.requests if r.method == "HEAD" and r.path.startswith("/v2/")]
    assert "/v2/library/qwq/manifests/latest" in {r.path for r in heads}
    # A derivative known only from parent_model is asked once (it may be a pulled model
    # its publisher built); the registry's "no such model" is stored, so never again.
    assert sorted(r.path for r in heads if "20K" in r.path) == [
        "/v2/library/qwq/manifests/latest_20K",
        "/v2/library/qwq/manifests/latest_20K-coder",
    ]
    fake.clear_requests()
    cli(fake, tmp_path, "status", "--json", "--check-upstream")
    assert not [r for r in fake.requests if "20K" in r.path]


def test_unreachable_registry_reads_not_checked_and_nothing_fails(
    fake: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli(fake, tmp_path, "status", "--check-upstream", registry="http://127.0.0.1:9")
    out = capsys.readouterr().out
    assert code == 1  # the demo's stale and orphaned models, not an error
    line = next(x for x in out.splitlines() if " qwq:latest " in x)
    assert "current" in line and "not checked" in line


@pytest.fixture
def hangs_up() -> Iterator[tuple[str, list[int]]]:
    """A registry address that takes each connection and closes it unanswered, counting them:
    a registry behind a proxy that is down, say."""
    listener = socket.create_server(("127.0.0.1", 0))
    taken: list[int] = []

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            taken.append(1)
            connection.close()

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", taken
    listener.close()


def test_a_registry_that_cannot_be_reached_is_tried_once_per_run(
    fake: FakeOllama,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    hangs_up: tuple[str, list[int]],
) -> None:
    """On a server with no way out every check failed on its own: 15 s of a cold `status` at
    1,000 models. The first failure now answers the rest of the run."""
    registry, taken = hangs_up
    assert cli(fake, tmp_path, "status", "--json", "--check-upstream", registry=registry) == 1
    models = {m["name"]: m for m in json.loads(capsys.readouterr().out)["models"]}
    asked = [m["reason"] for m in models.values() if "upstream" in m["reason"]]
    assert len(asked) >= 3
    assert all(r.startswith("upstream not checked: registry unreachable (") for r in asked)
    assert len(taken) == 1


def test_pull_turns_derivatives_stale_and_is_recorded(
    fake: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = fake.digest("qwq:latest")
    assert cli(fake, tmp_path, "pull", "qwq:latest") == 0
    out = capsys.readouterr().out
    assert "now out of date: qwq:latest_20K, qwq:latest_20K-coder" in out
    assert "%" in out  # progress lines with totals
    assert fake.digest("qwq:latest") != before
    cli(fake, tmp_path, "history", "qwq:latest", "--json")
    (event,) = json.loads(capsys.readouterr().out)
    assert (event["kind"], event["status"]) == ("pull", "success")
    assert event["digest_before"] == before
    assert event["digest_after"] == fake.digest("qwq:latest")


def test_compare_sends_the_same_prompt_and_seed_to_old_and_new(
    fake: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.pull("qwq:latest")
    assert cli(fake, tmp_path, "rebuild", "qwq:latest_20K", "--yes") == 0
    fake.clear_requests()
    capsys.readouterr()
    assert cli(fake, tmp_path, "compare", "qwq:latest_20K", "--prompt", "Why is the sky blue?") == 0
    out = capsys.readouterr().out
    generates = [r.body for r in fake.requests if r.path == "/api/generate"]
    assert len(generates) == 2
    assert {g["prompt"] for g in generates} == {"Why is the sky blue?"}
    assert all(
        g["options"] == {"seed": 42, "temperature": 0, "num_predict": 256} for g in generates
    )
    models = {g["model"] for g in generates}
    assert "qwq:latest_20K" in models
    assert any(m.startswith("qwq:latest_20K.bak-") for m in models)
    headers = [x for x in out.splitlines() if x.startswith("== ")]
    assert len(headers) == 2 and all("tok/s" in h for h in headers)
    sections = out.split("== ")[1:]
    assert sections[0].split("\n", 1)[1] != sections[1].split("\n", 1)[1]


def test_compare_runs_old_then_new_and_says_when_an_answer_ended_early(
    fake: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each side loaded alone (the old one unloaded after it answers); an answer Ollama ends
    without its done line (seen on a real 0.33) is said to have ended early, not 0 tok/s."""
    fake.pull("qwq:latest")
    assert cli(fake, tmp_path, "rebuild", "qwq:latest_20K", "--yes") == 0
    (backup,) = [n for n in fake.model_names() if n.startswith("qwq:latest_20K.bak-")]
    fake.cut_generate(backup)
    fake.clear_requests()
    capsys.readouterr()
    assert cli(fake, tmp_path, "compare", "qwq:latest_20K", "--prompt", "hi") == 0
    generates = [r.body for r in fake.requests if r.path == "/api/generate"]
    assert [g["model"] for g in generates] == [backup, "qwq:latest_20K"]
    assert generates[0]["keep_alive"] == 0 and "keep_alive" not in generates[1]
    headers = [x for x in capsys.readouterr().out.splitlines() if x.startswith("== ")]
    assert "ended early" in headers[0] and "tok/s" in headers[1]


def test_compare_without_a_backup_says_what_to_do(
    fake: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(fake, tmp_path, "compare", "qwq:latest_20K", "--prompt", "hi") == 2
    assert "no backup to compare with; rebuild it first" in capsys.readouterr().err


async def test_a_cancelled_pull_is_recorded_and_keeps_the_old_version(
    fake: FakeOllama, tmp_path: Path
) -> None:
    fake.set_pull_speed(2_000_000_000)  # qwq takes ~10 s: time to cancel it
    before = fake.digest("qwq:latest")
    settings = Settings(host=fake.url, db_path=tmp_path / "db", registry=fake.url)
    async with open_session(settings) as session:
        await session.syncer.poll()
        started = asyncio.Event()
        seen: list[str] = []

        def progress(p: Progress) -> None:
            if not seen or seen[-1] != p.status:
                seen.append(p.status)
            started.set()

        pull = asyncio.create_task(session.rebuilder.pull("qwq:latest", progress))
        await asyncio.wait_for(started.wait(), 5)
        pull.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pull
        (event,) = await session.store.history(settings.host_key, "qwq:latest")
    assert (event.kind, event.status) == ("pull", "cancelled")
    assert (event.log or "").splitlines() == seen  # what it had done, one status a line
    assert event.finished_at is not None
    assert fake.digest("qwq:latest") == before


def test_compare_caps_each_side_by_tokens_and_time_and_says_which_cut_it(
    fake: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Seen on a real Ollama: a model with num_thread 16 on a 2-core host took 403 s to
    answer "abc"; nothing capped it."""
    fake.pull("qwq:latest")
    assert cli(fake, tmp_path, "rebuild", "qwq:latest_20K", "--yes") == 0
    fake.clear_requests()
    capsys.readouterr()
    args = ("compare", "qwq:latest_20K", "--prompt", "abc", "--num-predict", "8")
    assert cli(fake, tmp_path, *args) == 0
    generates = [r.body for r in fake.requests if r.path == "/api/generate"]
    assert [g["options"]["num_predict"] for g in generates] == [8, 8]
    headers = [x for x in capsys.readouterr().out.splitlines() if x.startswith("== ")]
    assert all("tok/s" in h and "cut at the 8-token cap" in h for h in headers)

    fake.set_token_delay(0.2)  # 256 tokens would take 51 s a side
    assert (
        cli(fake, tmp_path, "compare", "qwq:latest_20K", "--prompt", "abc", "--max-seconds", "0.5")
        == 0
    )
    headers = [x for x in capsys.readouterr().out.splitlines() if x.startswith("== ")]
    assert len(headers) == 2 and all("cut at the 0.5 s time cap" in h for h in headers)


async def test_plans_for_a_batch_say_why_a_model_has_none_and_ask_no_show_twice(
    fake: FakeOllama, tmp_path: Path
) -> None:
    """R's dialog: one plan per model that has a recipe, a reason for one that has none, and
    the shows come from the cache (the first poll stored them): no request to the server."""
    settings = Settings(host=fake.url, db_path=tmp_path / "db", registry=fake.url)
    async with open_session(settings) as session:
        await session.syncer.poll()
        fake.clear_requests()
        names = ["llama3.2:latest-mario", "my-gguf:latest", "qwq:latest_20K-coder"]
        plans = await session.rebuilder.plans(names)
    assert list(plans) == names
    mario, gguf, coder = (plans[n] for n in names)
    assert not isinstance(mario, Exception) and mario.base == "llama3.2:latest"
    assert not isinstance(coder, Exception) and coder.base == "qwq:latest_20K"
    assert isinstance(gguf, RebuildError) and "has no recipe to rebuild from" in str(gguf)
    assert not [r for r in fake.requests if r.path == "/api/show"]


async def test_history_reads_a_page_newest_first(fake: FakeOllama, tmp_path: Path) -> None:
    settings = Settings(host=fake.url, db_path=tmp_path / "db", registry=fake.url)
    async with open_session(settings) as session:
        store, host = session.store, settings.host_key
        for kind in ("pull", "build", "rollback"):
            await store.finish_event(await store.start_event(host, "qwq:latest", kind), "success")
        page = await store.history(host, "qwq:latest", limit=2)
        everything = await store.history(host, "qwq:latest")
    assert [e.kind for e in page] == ["rollback", "build"]
    assert [e.kind for e in everything] == ["rollback", "build", "pull"]
