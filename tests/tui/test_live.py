"""The tree follows the server by itself: outside changes, and a server that goes away."""

from __future__ import annotations

from pathlib import Path

from ollama_lineage.fake_ollama import FakeOllama
from ollama_lineage.ui.app import LineageApp

from .conftest import AppFactory, cursor, ready, row, rows, select, wait_for


async def test_outside_pull_turns_derivative_stale_and_keeps_cursor(
    make_app: AppFactory, fake: FakeOllama
) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        await select(pilot, "qwq:latest_20K-coder")
        tree = app.main.lineage
        line = tree.cursor_line
        fake.pull("qwq:latest")
        await wait_for(pilot, lambda: "stale" in row(app, "qwq:latest_20K"), timeout=1.0)
        assert "stale upstream" in row(app, "qwq:latest_20K-coder")
        assert tree.cursor_line == line
        assert tree.selected is not None and tree.selected.name == "qwq:latest_20K-coder"


async def test_new_model_appears_in_place(make_app: AppFactory, fake: FakeOllama) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        await select(pilot, "phi4:latest")
        fake.create("phi4:latest-long", from_="phi4:latest", parameters={"num_ctx": 32768})
        await wait_for(pilot, lambda: "fresh" in row(app, "phi4:latest-long"))
        assert cursor(app) == "phi4:latest"


async def test_unreachable_server_shows_banner_and_last_tree(
    make_app: AppFactory, fake: FakeOllama
) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        fake.stop()
        banner = app.main.banner
        await wait_for(pilot, lambda: banner.has_class("-visible"))
        assert "showing the last known tree" in str(banner.render())
        assert "fresh" in row(app, "qwq:latest_20K")
        fake.start()
        await wait_for(pilot, lambda: not banner.has_class("-visible"))


async def test_starts_with_last_known_tree_when_server_is_down(
    make_app: AppFactory, fake: FakeOllama
) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        await ready(pilot)
    fake.stop()
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = pilot.app
        assert isinstance(app, LineageApp)
        await wait_for(pilot, lambda: app.main.banner.has_class("-visible"))
        await wait_for(pilot, lambda: "qwq:latest_20K" in " ".join(rows(app)))
        assert "fresh" in row(app, "qwq:latest_20K")


async def test_an_unusable_database_exits_with_one_line_not_a_traceback(
    make_app: AppFactory, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    app = make_app(db_path=blocker / "lineage.sqlite3")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
    assert app.return_code == 2
    assert not app._sessions  # no poll, no request: nothing can be lost
