"""What a user on a slow, colourless SSH terminal sees: sizes, resizes, registry trouble."""

from __future__ import annotations

import pytest

from ollama_lineage.fake_ollama import FakeOllama
from ollama_lineage.ui.screens.main import MainScreen

from .conftest import AppFactory, names, ready, row, rows, select, wait_for

DEMO_STATES = {
    "qwq:latest": "update available",
    "qwq:latest_20K": "fresh",
    "llama3.2:latest-mario": "stale",
    "mistral:7b-long": "orphaned",
    "my-gguf:latest": "untracked",
    "mistral:7b": "missing",
}


@pytest.mark.parametrize("size", [(80, 24), (200, 60)])
async def test_every_state_reads_as_a_word_without_colour(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    async with make_app().run_test(size=size) as pilot:
        app = await ready(pilot)
        await wait_for(pilot, lambda: "update available" in row(app, "qwq:latest"))
        for name, word in DEMO_STATES.items():
            assert word in row(app, name), (name, rows(app))


async def test_resizing_keeps_the_cursor_on_its_model(make_app: AppFactory) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        await select(pilot, "qwq:latest_20K-coder")
        for size in [(80, 24), (200, 60), (100, 30)]:
            await pilot.resize_terminal(*size)
            await pilot.pause(0.1)
            selected = app.main.lineage.selected
            assert selected is not None and selected.name == "qwq:latest_20K-coder"


async def test_update_available_is_found_without_any_pull(
    make_app: AppFactory, fake: FakeOllama
) -> None:
    fake.clear_requests()
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        await wait_for(pilot, lambda: "update available" in row(app, "qwq:latest"))
        assert not [r for r in fake.requests if r.path == "/api/pull"]
        heads = {r.path for r in fake.requests if r.method == "HEAD"}
        assert "/v2/library/qwq/manifests/latest" in heads


async def test_unreachable_registry_reads_not_checked_with_no_dialog(
    make_app: AppFactory,
) -> None:
    async with make_app(registry="http://127.0.0.1:9").run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        await select(pilot, "qwq:latest")
        state_line = app.main.detail.query_one("#overview-state")
        await wait_for(pilot, lambda: "not checked" in str(state_line.render()))
        assert "current" in row(app, "qwq:latest")
        assert isinstance(app.screen, MainScreen)
        assert not [n for n in app._notifications if n.severity == "error"]
        assert not app.main.banner.has_class("-visible")


async def test_a_resize_to_60x20_keeps_the_cursor_row_in_view(make_app: AppFactory) -> None:
    async with make_app().run_test(size=(120, 40)) as pilot:
        app = await ready(pilot)
        await select(pilot, names(app)[-1])  # the last row: the first to go
        await pilot.resize_terminal(60, 20)
        tree = app.main.lineage

        def in_view() -> bool:
            top, height = round(tree.scroll_y), tree.scrollable_content_region.height
            return 0 < height < len(rows(app)) and top <= tree.cursor_line < top + height

        await wait_for(pilot, in_view)
