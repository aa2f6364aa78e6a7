"""Pictures of the screens at 100×30 and 80×24 (pytest-textual-snapshot).

Ages come from the stand-in's model times relative to now and digests from content, so the
pictures repeat; the rebuild modal gets a plan made at a fixed time and a fixed progress.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import pytest
from textual.pilot import Pilot

from ollama_lineage.fake_ollama import FakeOllama
from ollama_lineage.ollama.client import Progress
from ollama_lineage.ui.screens.help import HelpScreen
from ollama_lineage.ui.screens.rebuild import RebuildScreen

from .conftest import AppFactory, ready, row, select, wait_for

SIZES = [(100, 30), (80, 24)]
Before = Callable[[Pilot[None]], Awaitable[None]]


async def settled(pilot: Pilot[None]) -> None:
    app = await ready(pilot)
    await wait_for(pilot, lambda: "update available" in row(app, "qwq:latest"))


def stale_20k(fake: FakeOllama, *keys: str) -> Before:
    """qwq:latest pulled from outside, so qwq:latest_20K has a rebuild to show."""

    async def before(pilot: Pilot[None]) -> None:
        await settled(pilot)
        fake.pull("qwq:latest")
        await wait_for(pilot, lambda: "stale" in row(pilot.app, "qwq:latest_20K"))  # type: ignore[arg-type]
        await select(pilot, "qwq:latest_20K")
        await pilot.press(*keys)
        await pilot.pause(0.2)

    return before


@pytest.mark.parametrize("size", SIZES)
def test_main_screen(snap_compare, make_app: AppFactory, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=settled)


@pytest.mark.parametrize("size", SIZES)
def test_modelfile_diff(
    snap_compare, make_app: AppFactory, fake: FakeOllama, size: tuple[int, int]
) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=stale_20k(fake, "d"))


@pytest.mark.parametrize("size", SIZES)
def test_parameter_table(
    snap_compare, make_app: AppFactory, fake: FakeOllama, size: tuple[int, int]
) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=stale_20k(fake, "a"))


@pytest.mark.parametrize("size", SIZES)
def test_rebuild_modal_mid_progress(
    snap_compare, make_app: AppFactory, fake: FakeOllama, size: tuple[int, int]
) -> None:
    async def before(pilot: Pilot[None]) -> None:
        await stale_20k(fake)(pilot)
        app = pilot.app
        plan = await app.session.rebuilder.plan(  # type: ignore[attr-defined]
            "qwq:latest_20K", now=datetime(2025, 1, 1, 12, 0, 0)
        )
        modal = RebuildScreen(["qwq:latest_20K"], plan)
        await app.push_screen(modal)
        modal.show_running()
        modal.start(0, "qwq:latest_20K")
        modal.progress(Progress("backed up as " + plan.backup))
        modal.progress(Progress("using existing layer sha256:5ce467c93ae6"))
        modal.progress(Progress("pulling template", "sha256:ab12", total=200, completed=80))
        await pilot.pause(0.2)

    assert snap_compare(make_app(), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_help_screen(snap_compare, make_app: AppFactory, size: tuple[int, int]) -> None:
    async def before(pilot: Pilot[None]) -> None:
        await settled(pilot)
        await pilot.press("question_mark")
        assert isinstance(pilot.app.screen, HelpScreen)
        await pilot.pause(0.2)

    assert snap_compare(make_app(), terminal_size=size, run_before=before)
