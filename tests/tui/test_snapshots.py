"""Pictures of what a user sees, at 120×40 and 80×24, each reached by pressing keys.

The stand-in listens on a fixed port and the app's clock is frozen, so the host, the ages,
the backup names and the poll's age repeat to the pixel (see ``fixed_app``). Every picture
was looked at before it was accepted: the names say what each one must show.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot

from ollama_lineage.config import Settings
from ollama_lineage.fake_ollama import FakeOllama
from ollama_lineage.services import checks as checks_module
from ollama_lineage.ui.app import LineageApp
from ollama_lineage.ui.screens.checks import ChecksScreen
from ollama_lineage.ui.screens.disk import DiskScreen
from ollama_lineage.ui.screens.help import HelpScreen
from ollama_lineage.ui.screens.rebuild import RebuildScreen
from ollama_lineage.ui.widgets.diff_view import DiffView
from tests.checks_samples import sentence_check, zebra_check

from .conftest import (
    AppFactory,
    fixed_clock,
    names,
    press_for,
    ready,
    row,
    select,
    start_fixed,
    wait_for,
)

SIZES = [(120, 40), (80, 24)]
SNAPSHOT_CHECKS = sentence_check("qwq:latest_20K") + "\n" + zebra_check("qwq:latest_20K")
Before = Callable[[Pilot[None]], Awaitable[None]]
# pytest-textual-snapshot's fixture: (app, terminal_size=..., run_before=...) -> matched?
SnapCompare = Callable[..., bool]


async def settled(pilot: Pilot[None]) -> LineageApp:
    app = await ready(pilot)
    await wait_for(pilot, lambda: "update available" in row(app, "qwq:latest"))
    await wait_for(pilot, lambda: app.main.polled_at is not None)
    return app


async def quiet(pilot: Pilot[None]) -> None:
    """Let the last redraws land (no fixed sleep decides what the test sees)."""
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause(0.1)


def stale_20k(fake: FakeOllama, *keys: str) -> Before:
    """qwq:latest pulled from outside, so qwq:latest_20K has a rebuild to show."""

    async def before(pilot: Pilot[None]) -> None:
        app = await settled(pilot)
        fake.pull("qwq:latest")
        await wait_for(pilot, lambda: "stale" in row(app, "qwq:latest_20K"))
        await select(pilot, "qwq:latest_20K")
        await wait_for(pilot, lambda: app.main.detail.detail.plan is not None)  # type: ignore[union-attr]
        await pilot.press(*keys)
        await quiet(pilot)

    return before


@pytest.mark.parametrize("size", SIZES)
def test_main_screen_with_status_line(
    snap_compare: SnapCompare, fixed_app: AppFactory, size: tuple[int, int]
) -> None:
    async def before(pilot: Pilot[None]) -> None:
        await settled(pilot)
        await quiet(pilot)

    assert snap_compare(fixed_app(), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_diff_hunks_with_changed_words_highlighted(
    snap_compare: SnapCompare, fixed_app: AppFactory, fixed_fake: FakeOllama, size: tuple[int, int]
) -> None:
    assert snap_compare(fixed_app(), terminal_size=size, run_before=stale_20k(fixed_fake, "d"))


@pytest.mark.parametrize("size", SIZES)
def test_diff_against_base_at_its_second_change(
    snap_compare: SnapCompare, fixed_app: AppFactory, size: tuple[int, int]
) -> None:
    async def before(pilot: Pilot[None]) -> None:
        app = await settled(pilot)
        await select(pilot, "llama3.2:latest-mario")
        await pilot.press("d", "v", "n", "n")
        view = app.main.detail.query_one(DiffView)
        await wait_for(pilot, lambda: view.current == 1)
        await quiet(pilot)

    assert snap_compare(fixed_app(), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_zoomed_diff_takes_the_screen(
    snap_compare: SnapCompare, fixed_app: AppFactory, fixed_fake: FakeOllama, size: tuple[int, int]
) -> None:
    assert snap_compare(fixed_app(), terminal_size=size, run_before=stale_20k(fixed_fake, "d", "z"))


@pytest.mark.parametrize("size", SIZES)
def test_parameter_table_headers_whole(
    snap_compare: SnapCompare, fixed_app: AppFactory, fixed_fake: FakeOllama, size: tuple[int, int]
) -> None:
    assert snap_compare(fixed_app(), terminal_size=size, run_before=stale_20k(fixed_fake, "a"))


@pytest.mark.parametrize("size", SIZES)
def test_rebuild_plan_with_indented_request(
    snap_compare: SnapCompare, fixed_app: AppFactory, fixed_fake: FakeOllama, size: tuple[int, int]
) -> None:
    async def before(pilot: Pilot[None]) -> None:
        await stale_20k(fixed_fake, "r")(pilot)
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, RebuildScreen))
        await quiet(pilot)

    assert snap_compare(fixed_app(), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_rebuild_done_offers_keep_all(
    snap_compare: SnapCompare, fixed_app: AppFactory, fixed_fake: FakeOllama, size: tuple[int, int]
) -> None:
    async def before(pilot: Pilot[None]) -> None:
        await stale_20k(fixed_fake, "r")(pilot)
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, RebuildScreen))
        modal = pilot.app.screen
        assert isinstance(modal, RebuildScreen)
        await pilot.press("enter")
        await wait_for(pilot, lambda: modal.finished)
        await quiet(pilot)

    assert snap_compare(fixed_app(), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_rebuild_all_lists_warnings_with_tick_boxes(
    snap_compare: SnapCompare, fixed_app: AppFactory, fixed_fake: FakeOllama, size: tuple[int, int]
) -> None:
    async def before(pilot: Pilot[None]) -> None:
        app = await settled(pilot)
        fixed_fake.pull("qwq:latest")
        await wait_for(pilot, lambda: "stale upstream" in row(app, "qwq:latest_20K-coder"))
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, RebuildScreen))
        await pilot.press("space")  # untick the first one
        await quiet(pilot)

    assert snap_compare(fixed_app(), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_filter_by_state_word(
    snap_compare: SnapCompare, fixed_app: AppFactory, size: tuple[int, int]
) -> None:
    async def before(pilot: Pilot[None]) -> None:
        await settled(pilot)
        await pilot.press("slash", *"stale", "enter")
        await quiet(pilot)

    assert snap_compare(fixed_app(), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_filter_with_no_match_says_so(
    snap_compare: SnapCompare, fixed_app: AppFactory, size: tuple[int, int]
) -> None:
    async def before(pilot: Pilot[None]) -> None:
        await settled(pilot)
        await pilot.press("slash", *"nosuch", "enter")
        await quiet(pilot)

    assert snap_compare(fixed_app(), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_empty_server_says_so(
    snap_compare: SnapCompare, tmp_path: Path, size: tuple[int, int]
) -> None:
    fake = start_fixed("empty")
    try:
        settings = Settings(
            host=fake.url,
            db_path=tmp_path / "empty.sqlite3",
            registry=fake.registry_url,
            poll_seconds=0.2,
        )
        app = LineageApp(settings, clock=fixed_clock)

        async def before(pilot: Pilot[None]) -> None:
            await wait_for(pilot, lambda: app.main.polled_at is not None)
            await wait_for(pilot, lambda: not app.main.lineage.loading)
            await quiet(pilot)

        assert snap_compare(app, terminal_size=size, run_before=before)
    finally:
        fake.stop()


@pytest.mark.parametrize("size", SIZES)
def test_help_screen(
    snap_compare: SnapCompare, fixed_app: AppFactory, size: tuple[int, int]
) -> None:
    async def before(pilot: Pilot[None]) -> None:
        await settled(pilot)
        await pilot.press("question_mark")
        assert isinstance(pilot.app.screen, HelpScreen)
        await quiet(pilot)

    assert snap_compare(fixed_app(), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_disk_view_lists_what_each_model_holds(
    snap_compare: SnapCompare, fixed_app: AppFactory, size: tuple[int, int]
) -> None:
    """From the listing (no folder here): sizes said to be approximate, orphans unknown."""

    async def before(pilot: Pilot[None]) -> None:
        await settled(pilot)
        screen = await press_for(pilot, "D", DiskScreen)
        await wait_for(pilot, lambda: screen.report is not None)
        await quiet(pilot)

    assert snap_compare(fixed_app(), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_command_palette_offers_only_our_actions(
    snap_compare: SnapCompare, fixed_app: AppFactory, size: tuple[int, int]
) -> None:
    async def before(pilot: Pilot[None]) -> None:
        await settled(pilot)
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, CommandPalette))
        await pilot.press(*"stale")
        found = pilot.app.screen.query_one(CommandList)
        await wait_for(
            pilot, lambda: found.option_count and "stale" in str(found.options[0].prompt)
        )
        await quiet(pilot)

    assert snap_compare(fixed_app(), terminal_size=size, run_before=before)


def test_checks_dialog_old_and_new_side_by_side_at_80x24(
    snap_compare: SnapCompare,
    fixed_app: AppFactory,
    fixed_fake: FakeOllama,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """C after a rebuild: each check on the backup (old), then on the model (new); one passes,
    one fails with its reason under it; generation apart from load. The checks file is named
    as given (relative here) and every check takes 0.41 s, so the picture repeats."""
    (tmp_path / "checks.toml").write_text(SNAPSHOT_CHECKS, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OLLAMA_LINEAGE_CHECKS", "checks.toml")
    ticks = iter(range(1_000_000))
    monkeypatch.setattr(
        checks_module, "time", SimpleNamespace(monotonic=lambda: next(ticks) * 0.41)
    )

    async def before(pilot: Pilot[None]) -> None:
        await stale_20k(fixed_fake, "r")(pilot)
        app = pilot.app
        modal = app.screen
        assert isinstance(modal, RebuildScreen)
        await pilot.press("enter")
        await wait_for(pilot, lambda: modal.finished)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, RebuildScreen))
        checks = await press_for(pilot, "C", ChecksScreen)
        await wait_for(pilot, lambda: not checks.running)
        await quiet(pilot)

    assert snap_compare(fixed_app(), terminal_size=(80, 24), run_before=before)


def test_rebuild_plan_scrolled_to_its_end_at_80x24(
    snap_compare: SnapCompare, fixed_app: AppFactory, fixed_fake: FakeOllama
) -> None:
    """The request's last lines (template, system) are reachable: End scrolls there."""

    async def before(pilot: Pilot[None]) -> None:
        await stale_20k(fixed_fake, "r")(pilot)
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, RebuildScreen))
        await pilot.press("end")
        await quiet(pilot)

    assert snap_compare(fixed_app(), terminal_size=(80, 24), run_before=before)


def test_rebuild_all_tick_boxes_without_colour_at_80x24(
    snap_compare: SnapCompare,
    fixed_app: AppFactory,
    fixed_fake: FakeOllama,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """NO_COLOR: ticked and unticked read apart ([x] / [ ]), one box per model."""
    monkeypatch.setenv("NO_COLOR", "1")

    async def before(pilot: Pilot[None]) -> None:
        app = await settled(pilot)
        fixed_fake.pull("qwq:latest")
        await wait_for(pilot, lambda: "stale upstream" in row(app, "qwq:latest_20K-coder"))
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, RebuildScreen))
        await pilot.press("space")  # untick the first one
        await quiet(pilot)

    assert snap_compare(fixed_app(), terminal_size=(80, 24), run_before=before)


def test_nested_backup_cuts_its_name_not_every_rows_facts_at_80x24(
    snap_compare: SnapCompare, fixed_app: AppFactory, fixed_fake: FakeOllama
) -> None:
    """After qwq:latest_20K-coder is rebuilt its backup sits three deep: that one name is cut
    with an ellipsis and every row keeps its size and age."""

    async def before(pilot: Pilot[None]) -> None:
        app = await settled(pilot)
        fixed_fake.pull("qwq:latest")
        await wait_for(pilot, lambda: "stale" in row(app, "qwq:latest_20K-coder"))
        # Its parent first: on an unchanged parent the rebuild would change nothing, keep no
        # backup.
        for name in ("qwq:latest_20K", "qwq:latest_20K-coder"):
            await select(pilot, name)
            await wait_for(pilot, lambda: app.main.detail.detail.plan is not None)  # type: ignore[union-attr]
            modal = await press_for(pilot, "r", RebuildScreen)
            await pilot.press("enter")
            await wait_for(pilot, lambda m=modal: m.finished)  # type: ignore[misc]
            await pilot.press("escape")
            backup = f"{name}.bak-"
            await wait_for(pilot, lambda b=backup: any(b in n for n in names(app)))  # type: ignore[misc]
        await select(pilot, names(app)[-1])  # the backup, scrolled into view
        await quiet(pilot)

    assert snap_compare(fixed_app(), terminal_size=(80, 24), run_before=before)
