"""Keys that arrive in one burst (a fast typist, one SSH packet) are handled in order."""

from __future__ import annotations

from textual import events
from textual.widgets import Input

from .conftest import AppFactory, ready, rows, wait_for


async def test_slash_stale_in_one_burst_filters_like_typed_slowly(make_app: AppFactory) -> None:
    async with make_app().run_test(size=(80, 24)) as pilot:
        app = await ready(pilot)
        for key in ["slash", "s", "t", "a", "l", "e"]:  # all queued before any is handled
            char = "/" if key == "slash" else key
            app.post_message(events.Key(key, char))
        field = app.main.query_one("#filter", Input)
        await wait_for(pilot, lambda: field.value == "stale")
        await wait_for(pilot, lambda: len(rows(app)) < 8)
        assert any("stale" in r for r in rows(app))
        assert "stale" in str(app.main.query_one("#status").render())
        await pilot.press("slash")  # in the field, / is a character (user/model names)
        await wait_for(pilot, lambda: field.value == "stale/")
