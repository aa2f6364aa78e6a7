"""Several servers in one tree: a row per host, its models beneath it, keys acting on the
host of the row under the cursor, and a host that is down costing only its own row."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from ollama_lineage.config import Settings
from ollama_lineage.fake_ollama import FakeOllama
from ollama_lineage.ui.app import LineageApp
from ollama_lineage.ui.host_rows import key
from ollama_lineage.ui.screens.matrix import MatrixScreen
from ollama_lineage.ui.screens.rebuild import RebuildScreen
from ollama_lineage.ui.widgets.status_line import StatusLine

from .conftest import names, press_for, row, rows, select, wait_for

MARIO = "llama3.2:latest-mario"
HOSTS = ("gpu", "laptop")


@pytest.fixture
def laptop() -> Iterator[FakeOllama]:
    with FakeOllama(scenario="demo") as fake:
        yield fake


async def ready(
    pilot: Pilot[None], model: str = MARIO, hosts: tuple[str, ...] = HOSTS
) -> LineageApp:
    """The ``hosts``' trees hold ``model``; the cursor starts on the first host's row, which
    has no detail."""
    app = pilot.app
    assert isinstance(app, LineageApp)
    await wait_for(pilot, lambda: app._sessions and not app.main.lineage.loading and rows(app))
    await wait_for(pilot, lambda: {key(h, model) for h in hosts} <= set(names(app)))
    return app


def two_hosts(gpu: FakeOllama, laptop: FakeOllama, tmp_path: Path) -> LineageApp:
    common = {"db_path": tmp_path / "lineage.sqlite3", "poll_seconds": 0.2}
    first = Settings(host=gpu.url, registry=gpu.registry_url, name="gpu", **common)  # type: ignore[arg-type]
    second = Settings(host=laptop.url, registry=gpu.registry_url, name="laptop", **common)  # type: ignore[arg-type]
    return LineageApp(first, others=[second])


async def test_each_host_has_its_row_and_its_models_beneath_it(
    fake: FakeOllama, laptop: FakeOllama, tmp_path: Path
) -> None:
    laptop.delete("qwq:latest_20K-coder")
    async with two_hosts(fake, laptop, tmp_path).run_test(size=(120, 40)) as pilot:
        app = await ready(pilot, "qwq:latest_20K")
        shown = names(app)
        assert shown[0] == "gpu" and "laptop" in shown
        gpu_rows, laptop_rows = shown[1 : shown.index("laptop")], shown[shown.index("laptop") + 1 :]
        assert key("gpu", "qwq:latest_20K-coder") in gpu_rows
        assert key("laptop", "qwq:latest_20K-coder") not in laptop_rows
        assert all(n.startswith("laptop\t") for n in laptop_rows)
        # a model reads by its own name, under its host's row, which counts its models
        assert row(app, key("laptop", "qwq:latest_20K")).split()[:3] == [
            "✓",
            "qwq:latest_20K",
            "fresh",
        ]
        gpu, laptop_row = row(app, "gpu"), row(app, "laptop")
        assert gpu.startswith(f"● gpu  {fake.url} · ") and " models · " in gpu
        assert laptop_row.startswith(f"● laptop  {laptop.url} · ")
        status = app.main.query_one(StatusLine)
        await wait_for(pilot, lambda: " │ laptop 7 models, " in str(status.render()))
        assert str(status.render()).startswith("gpu 8 models, ")


async def test_keys_act_on_the_host_of_the_row_under_the_cursor(
    fake: FakeOllama, laptop: FakeOllama, tmp_path: Path
) -> None:
    async with two_hosts(fake, laptop, tmp_path).run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        fake.clear_requests()
        laptop.clear_requests()
        await select(pilot, key("laptop", MARIO))
        modal = await press_for(pilot, "r", RebuildScreen)
        await pilot.press("enter")
        await wait_for(pilot, lambda: modal.finished)
        writes = [r.path for r in laptop.requests if r.path in ("/api/copy", "/api/create")]
        assert writes == ["/api/copy", "/api/create"]
        assert [r.path for r in fake.requests if r.path in ("/api/copy", "/api/create")] == []


async def test_a_host_that_is_down_says_why_on_its_row_and_the_other_goes_on(
    fake: FakeOllama, tmp_path: Path
) -> None:
    gone = FakeOllama(scenario="demo")
    gone.start()
    url = gone.url
    gone.stop()  # nothing listens there now
    common = {"db_path": tmp_path / "lineage.sqlite3", "poll_seconds": 0.2}
    first = Settings(host=fake.url, registry=fake.registry_url, name="gpu", **common)  # type: ignore[arg-type]
    second = Settings(host=url, registry=fake.registry_url, name="ci", **common)  # type: ignore[arg-type]
    async with LineageApp(first, others=[second]).run_test(size=(120, 40)) as pilot:
        app = await ready(pilot, hosts=("gpu",))
        await wait_for(pilot, lambda: "cannot reach" in row(app, "ci"))
        assert row(app, "ci").startswith(f"⚠ ci  {url} · cannot reach")
        assert "ci ⚠ unreadable" in str(app.main.query_one(StatusLine).render())
        assert not [n for n in names(app) if n.startswith("ci\t")]


async def test_h_folds_a_host_and_l_unfolds_it(
    fake: FakeOllama, laptop: FakeOllama, tmp_path: Path
) -> None:
    async with two_hosts(fake, laptop, tmp_path).run_test(size=(120, 40)) as pilot:
        app = await ready(pilot)
        assert app.main.lineage.cursor_line == 0  # on the first host's row
        await pilot.press("h")
        await wait_for(pilot, lambda: names(app)[:2] == ["gpu", "laptop"])
        await pilot.press("l")
        await wait_for(pilot, lambda: names(app)[1].startswith("gpu\t"))
        assert rows(app)


async def test_m_shows_each_derivative_on_each_server(
    fake: FakeOllama, laptop: FakeOllama, tmp_path: Path
) -> None:
    laptop.delete("qwq:latest_20K-coder")
    async with two_hosts(fake, laptop, tmp_path).run_test(size=(120, 40)) as pilot:
        app = await ready(pilot, "qwq:latest_20K")
        screen = await press_for(pilot, "m", MatrixScreen)
        await wait_for(pilot, lambda: screen.rows)
        coder = next(r for r in screen.rows if r[0] == "qwq:latest_20K-coder")
        assert coder[1].startswith("✓ fresh ") and coder[2] == "∅ missing"
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, MatrixScreen))
