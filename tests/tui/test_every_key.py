"""Every key of the main screen on every kind of row, with and without colour, at 80×24.

A user on a plain SSH terminal presses whatever the footer and help offer; none of it may
take the app down, and escape always brings the tree back.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ollama_lineage.config import Settings
from ollama_lineage.fake_ollama import FakeOllama
from ollama_lineage.services.store import Store
from ollama_lineage.ui.actions import ACTIONS
from ollama_lineage.ui.app import LineageApp
from ollama_lineage.ui.screens.main import MainScreen

from .conftest import AppFactory, cursor, ready, row, rows, select, wait_for

BACKUP = "llama3.2:latest-mario.bak-20250101-120000"
FAILED = "qwq:latest_20K"
ROWS = {  # one row of each kind the tree has
    "base": "llama3.2:latest",
    "derivative": "llama3.2:latest-mario",
    "second level": "qwq:latest_20K-coder",
    "backup": BACKUP,
    "untracked": "my-gguf:latest",
    "failed": FAILED,
}
# Each binding once. Keys whose outcome does not depend on the row (moves, help, palette,
# filter, R) are pressed on the last row only, moves last, so no row is chosen after them.
MOVES = {"cursor_down", "cursor_up", "collapse", "expand", "select_cursor", "scroll_home"}
MOVES |= {"scroll_end", "page_up", "page_down", "next_attention", "fold_all", "unfold_all"}
ANY_ROW = MOVES | {"help", "command_palette", "filter", "clear_filter", "rebuild_all"}
ORDERED = sorted((a for a in ACTIONS if a.id != "quit"), key=lambda a: a.id in MOVES)
PER_ROW = [a.keys.split(",")[0] for a in ORDERED if a.id not in ANY_ROW]
ONCE = [a.keys.split(",")[0] for a in ORDERED if a.id in ANY_ROW]
MOVING = {a.keys.split(",")[0] for a in ACTIONS if a.id in MOVES}
BUSY = {"plan", "change", "pin"}  # workers that open a dialog or change a model


async def seed_failed_build(settings: Settings) -> None:
    """A build of FAILED that failed earlier, as the store remembers it."""
    store = await Store.open(settings.db_path)
    try:
        event = await store.start_event(settings.host_key, FAILED, "build")
        await store.finish_event(event, "failed", error="no space left on device")
    finally:
        await store.close()


@pytest.mark.slow
@pytest.mark.parametrize("colour", ["NO_COLOR", "colour"])
async def test_every_key_on_every_row_leaves_the_tree_standing(
    make_app: AppFactory,
    fake: FakeOllama,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    colour: str,
) -> None:
    if colour == "NO_COLOR":
        monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("EDITOR", "true")  # e: the recipe comes back as it was
    monkeypatch.delenv("VISUAL", raising=False)
    fake.copy("llama3.2:latest-mario", BACKUP)
    app = make_app(poll_seconds=60.0)  # one poll at start: the keys, not polls, are tested
    await seed_failed_build(app.settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: "failed" in row(app, FAILED) and row(app, BACKUP))
        for index, (kind, name) in enumerate(ROWS.items()):
            for key in PER_ROW + (ONCE if index == len(ROWS) - 1 else []):
                if key not in MOVING and (not app.main.lineage.selected or cursor(app) != name):
                    await select(pilot, name)
                await pilot.press(key)
                await wait_for(pilot, lambda: not busy(app))
                while not isinstance(app.screen, MainScreen):
                    await pilot.press("escape")
                    await wait_for(pilot, lambda: not busy(app))
                if app.main.has_class("-zoomed") or not app.main.lineage.has_focus:
                    await pilot.press("escape")  # the filter or zoom the key opened
                assert app.is_running and app._exception is None, (kind, key)
                assert isinstance(app.screen, MainScreen), (kind, key)
                tree = app.main.lineage
                assert rows(app) and tree.display and tree.has_focus, (kind, key)
                assert not app.main.has_class("-zoomed"), (kind, key)


def busy(app: LineageApp) -> bool:
    return any(w.is_running and w.group in BUSY for w in app.workers)
