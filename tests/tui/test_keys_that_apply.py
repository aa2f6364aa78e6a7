"""A key that does not apply to the row under the cursor is greyed out in the footer."""

from __future__ import annotations

from textual.widgets._footer import FooterKey

from ollama_lineage.ui.app import LineageApp
from ollama_lineage.ui.screens.main import MainScreen

from .conftest import AppFactory, ready, select, wait_for


def rebuild_key(app: LineageApp) -> FooterKey:
    [key] = [k for k in app.main.query(FooterKey) if k.key == "r"]
    return key


async def test_rebuild_is_greyed_out_on_a_base_and_offered_on_a_derivative(
    make_app: AppFactory,
) -> None:
    async with make_app().run_test(size=(120, 30)) as pilot:
        app = await ready(pilot)
        await select(pilot, "llama3.2:latest")
        await wait_for(pilot, lambda: rebuild_key(app).has_class("-disabled"))
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert not app._notifications  # nothing to read: the footer said it already
        await select(pilot, "llama3.2:latest-mario")
        await wait_for(pilot, lambda: not rebuild_key(app).has_class("-disabled"))


async def test_moving_between_rows_of_one_kind_leaves_the_footer_as_it_is(
    make_app: AppFactory,
) -> None:
    """Rebuilding the footer's keys cost more than the cursor move itself (a j took 50 ms
    of CPU at 1,000 models); between two derivatives nothing in it changes."""
    async with make_app().run_test(size=(120, 30)) as pilot:
        app = await ready(pilot)
        await select(pilot, "qwq:latest_20K")
        await wait_for(pilot, lambda: not rebuild_key(app).has_class("-disabled"))
        before = rebuild_key(app)
        await select(pilot, "qwq:latest_20K-coder")
        await pilot.pause()
        assert rebuild_key(app) is before
        await select(pilot, "qwq:latest")
        await wait_for(pilot, lambda: rebuild_key(app).has_class("-disabled"))
