"""Build the app against the stand-in server with a throwaway database and quick polls."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import pytest
from textual.pilot import Pilot
from textual.screen import Screen

from ollama_lineage.config import Settings
from ollama_lineage.fake_ollama import FakeOllama
from ollama_lineage.ui.app import LineageApp
from ollama_lineage.ui.host_rows import shown

AppFactory = Callable[..., LineageApp]
ScreenT = TypeVar("ScreenT", bound=Screen[Any])


@pytest.fixture(autouse=True)
def no_user_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The checks file the app reads is the test's, never the user's: none unless written."""
    path = tmp_path / "checks.toml"
    monkeypatch.setenv("OLLAMA_LINEAGE_CHECKS", str(path))
    return path


@pytest.fixture
def make_app(fake: FakeOllama, tmp_path: Path) -> AppFactory:
    def build(*, clock: Callable[[], datetime] | None = None, **overrides: object) -> LineageApp:
        options: dict[str, object] = {
            "host": fake.url,
            "db_path": tmp_path / "lineage.sqlite3",
            "registry": fake.registry_url,
            "poll_seconds": 0.2,
            "upstream_every": 3600.0,
        }
        options.update(overrides)
        settings = Settings(**options)  # type: ignore[arg-type]
        return LineageApp(settings, clock=clock) if clock else LineageApp(settings)

    return build


# Snapshots must repeat to the pixel: the host (so its port) and "now" (ages, backup names,
# the poll's age) are fixed. Models' times are moved so their ages stay those of the scenario.
SNAPSHOT_PORT = 11473
FIXED_NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=timezone.utc)


def fixed_clock() -> datetime:
    return FIXED_NOW


def start_fixed(scenario: str) -> FakeOllama:
    """The stand-in on SNAPSHOT_PORT, waiting while another test run holds the port."""
    deadline = time.monotonic() + 180
    while True:
        server = FakeOllama(scenario=scenario, port=SNAPSHOT_PORT)
        try:
            server.start()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.25)
            continue
        break
    server.set_pull_speed(None)
    now_ns, fixed_ns = time.time_ns(), int(FIXED_NOW.timestamp() * 1e9)
    with server.state.lock:
        for local in server.state.local.values():
            local.modified_ns = fixed_ns - (now_ns - local.modified_ns)
    return server


@pytest.fixture
def fixed_fake() -> Iterator[FakeOllama]:
    server = start_fixed("demo")
    yield server
    server.stop()


@pytest.fixture
def fixed_app(fixed_fake: FakeOllama, tmp_path: Path) -> AppFactory:
    """An app on the fixed-port demo with a frozen clock, for snapshots."""

    def build(fake: FakeOllama = fixed_fake) -> LineageApp:
        settings = Settings(
            host=fake.url,
            db_path=tmp_path / f"{fake.scenario}.sqlite3",
            registry=fake.registry_url,
            poll_seconds=0.2,
            upstream_every=3600.0,
        )
        return LineageApp(settings, clock=fixed_clock)

    return build


async def wait_for(pilot: Pilot[None], check: Callable[[], object], timeout: float = 30.0) -> None:
    """Let workers run until ``check()`` holds; fail with the condition if it never does.
    The bound only ends a test that is failing anyway: on a loaded 2-core machine a step that
    takes 0.3 s alone took over 5 s, so it is generous."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.05)


def rows(app: LineageApp) -> list[str]:
    """The tree's visible rows as a user reads them (depth-first, only expanded branches)."""
    return app.main.lineage.row_texts()


def names(app: LineageApp) -> list[str]:
    """The models of the tree's visible rows, in order (whole, though a row may cut one)."""
    return app.main.lineage.row_names()


def cursor(app: LineageApp) -> str:
    """The name of the model under the tree's cursor (the test fails if it is on none)."""
    node = app.main.lineage.selected
    assert node is not None, "the cursor is on no model"
    return node.name


def row(app: LineageApp, name: str) -> str:
    """The row of ``name`` ("" while it is not in the tree)."""
    found = [text for shown, text in zip(names(app), rows(app), strict=True) if shown == name]
    return found[0] if found else ""


async def press_for(pilot: Pilot[None], key: str, kind: type[ScreenT]) -> ScreenT:
    """Press ``key`` and wait for the dialog of ``kind`` it opens; that dialog."""
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, kind))
    screen = pilot.app.screen
    assert isinstance(screen, kind)
    return screen


async def ready(pilot: Pilot[None]) -> LineageApp:
    app = pilot.app
    assert isinstance(app, LineageApp)
    await wait_for(pilot, lambda: app._sessions and not app.main.lineage.loading and rows(app))
    await wait_for(pilot, lambda: app.main.detail.detail is not None)
    return app


async def select(pilot: Pilot[None], name: str) -> None:
    """Move the cursor with j/k like a user, until it rests on ``name``."""
    app = pilot.app
    assert isinstance(app, LineageApp)
    here = app.main.lineage.cursor_line
    target = names(app).index(name)
    for _ in range(abs(target - here)):
        await pilot.press("j" if target > here else "k")
    await wait_for(
        pilot,
        lambda: (
            app.main.detail.detail is not None and app.main.detail.detail.node.name == shown(name)
        ),
    )
