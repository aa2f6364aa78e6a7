"""The rebuild dialog at 80×24: the whole plan can be read, and only working keys are offered."""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.widgets._footer import FooterKey

from ollama_lineage.ui.screens.rebuild import RebuildScreen

from .conftest import AppFactory, press_for, ready, select, wait_for


async def test_the_plan_scrolls_to_its_end_and_back_by_keys(make_app: AppFactory) -> None:
    async with make_app().run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await select(pilot, "llama3.2:latest-mario")
        modal = await press_for(pilot, "r", RebuildScreen)
        plan = modal.query_one("#rebuild-plan", VerticalScroll)
        await wait_for(pilot, lambda: plan.max_scroll_y > 0)  # more plan than room
        await pilot.press("pagedown")
        await wait_for(pilot, lambda: plan.scroll_y > 0)
        await pilot.press("end")
        await wait_for(pilot, lambda: plan.scroll_y == plan.max_scroll_y)
        await pilot.press("home")
        await wait_for(pilot, lambda: plan.scroll_y == 0)
        await pilot.press("j", "j")
        await wait_for(pilot, lambda: plan.scroll_y == 2)
        await pilot.press("G")
        await wait_for(pilot, lambda: plan.scroll_y == plan.max_scroll_y)
        keys = {k.key for k in modal.query(FooterKey)}
        assert {"enter", "escape", "pagedown"} <= keys  # the dialog's own keys, in its footer
        assert not {"d", "c", "K"} & keys
