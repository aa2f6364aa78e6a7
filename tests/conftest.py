"""Shared fixtures: a running stand-in Ollama per test (fresh state each time)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ollama_lineage.core.names import parse_model_name
from ollama_lineage.fake_ollama import FakeOllama
from tests.stand_in_http import Server


@pytest.fixture(autouse=True)
def _names_parsed_afresh() -> None:
    """Each test parses names itself: an answer cached by an earlier test (or by collection,
    before mutmut forks) would hide a change to the parser."""
    parse_model_name.cache_clear()


@pytest.fixture(autouse=True)
def _no_hosts_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hosts file in the user's config dir must not change what a test talks to."""
    monkeypatch.setenv("OLLAMA_LINEAGE_HOSTS", str(tmp_path / "no-hosts.toml"))


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    """The demo scenario, with instant pulls (the demo's visible pull speed slows tests)."""
    with FakeOllama(scenario="demo") as server:
        server.set_pull_speed(None)
        yield server


@pytest.fixture
def fake_empty() -> Iterator[FakeOllama]:
    """Nothing local; upstream knows qwq:latest and llama3.2:latest."""
    with FakeOllama(scenario="empty") as server:
        yield server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """An empty stand-in of Ollama 0.33, to which tests upload real GGUF bytes and create."""
    with FakeOllama(scenario="empty", version="0.33.0-rc2") as fake:
        yield Server(fake, tmp_path)
