"""What a user sees on the main screen, and the keys that move around it."""

from __future__ import annotations

from textual.widgets import TabbedContent

from ollama_lineage.ui.screens.help import HelpScreen
from ollama_lineage.ui.widgets.diff_view import DiffView

from .conftest import AppFactory, ready, row, rows, select, wait_for


async def test_tree_shows_lineage_with_state_words(make_app: AppFactory) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        assert "fresh" in row(app, "qwq:latest_20K")
        assert "fresh" in row(app, "qwq:latest_20K-coder")
        assert "stale" in row(app, "llama3.2:latest-mario")
        assert "orphaned" in row(app, "mistral:7b-long")
        assert "untracked" in row(app, "my-gguf:latest")
        await wait_for(pilot, lambda: "update available" in row(app, "qwq:latest"))
        names = [r.split()[1] for r in rows(app)]
        assert names.index("qwq:latest") < names.index("qwq:latest_20K")
        assert names.index("qwq:latest_20K") < names.index("qwq:latest_20K-coder")


async def test_keys_move_fold_and_open_the_diff(make_app: AppFactory) -> None:
    async with make_app().run_test(size=(80, 24)) as pilot:
        app = await ready(pilot)
        await select(pilot, "qwq:latest")
        before = len(rows(app))
        await pilot.press("h")
        assert len(rows(app)) == before - 2
        await pilot.press("l")
        assert len(rows(app)) == before
        await select(pilot, "llama3.2:latest-mario")
        await pilot.press("d")
        assert app.main.detail.query_one(TabbedContent).active == "diff"
        view = app.main.detail.query_one(DiffView)
        assert view.row_count > 0
        await pilot.press("v")
        assert "changed" in view.summary or "added" in view.summary


async def test_filter_keeps_matches_and_their_bases(make_app: AppFactory) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        await pilot.press("slash", "m", "a", "r", "i", "o", "enter")
        names = [r.split()[1] for r in rows(app)]
        assert names == ["llama3.2:latest", "llama3.2:latest-mario"]
        await pilot.press("slash", "escape")
        assert len(rows(app)) > 2


async def test_help_lists_every_binding_and_escape_closes(make_app: AppFactory) -> None:
    async with make_app().run_test(size=(80, 24)) as pilot:
        app = await ready(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_command_palette_offers_every_action(make_app: AppFactory) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"all stale")
        await pilot.pause(0.3)
        from textual.command import CommandPalette

        palette = app.screen
        assert isinstance(palette, CommandPalette)
        await pilot.press("enter")
        await pilot.pause(0.2)
        from ollama_lineage.ui.screens.rebuild import RebuildScreen

        assert isinstance(app.screen, RebuildScreen)
        assert app.screen.names == ["llama3.2:latest-mario"]
