"""No lock across I/O: slow pulls, rebuilds and registry checks never hold up the tree."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from ollama_lineage.fake_ollama import FakeOllama
from ollama_lineage.ui.screens.rebuild import RebuildScreen

from .conftest import AppFactory, ready, row, select, wait_for


@pytest.fixture
def hanging_registry() -> Iterator[str]:
    """A registry that accepts connections and never answers them."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def tags_polls(fake: FakeOllama) -> int:
    return sum(1 for r in fake.requests if r.path == "/api/tags")


async def test_an_outside_change_shows_within_one_poll_while_everything_else_hangs(
    make_app: AppFactory, fake: FakeOllama, hanging_registry: str
) -> None:
    app = make_app(registry=hanging_registry, upstream_every=0.1)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        # A rebuild whose create does not answer (its dialog stays open over the tree), a
        # pull that takes minutes (the service call `p` makes), and the upstream loop stuck
        # on a registry that never answers: all at once.
        fake.set_latency(60.0, "/api/create")
        await select(pilot, "llama3.2:latest-mario")
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, RebuildScreen))
        await pilot.press("enter")
        await wait_for(pilot, lambda: "building" in row(app, "llama3.2:latest-mario"))
        fake.set_pull_speed(1e6)
        app.run_worker(app.session.rebuilder.pull("phi4:latest"), group="pull")
        await wait_for(pilot, lambda: any(r.path == "/api/pull" for r in fake.requests))

        assert "fresh" in row(app, "qwq:latest_20K")
        fake.copy("phi4:latest", "qwq:latest")  # qwq:latest changed behind the app's back
        polls_before = tags_polls(fake)
        await wait_for(pilot, lambda: " stale " in row(app, "qwq:latest_20K") + " ", 30)
        assert tags_polls(fake) - polls_before <= 2  # the poll under way, then one more
        assert "building" in row(app, "llama3.2:latest-mario")


async def test_a_flow_that_fails_in_a_way_nobody_foresaw_never_takes_the_app_down(
    make_app: AppFactory, fake: FakeOllama
) -> None:
    """The database gone mid-session: the rollback says so; the app, its keys and its
    polls go on."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await select(pilot, "qwq:latest_20K")
        await app.session.store.close()
        await pilot.press("b")
        await wait_for(pilot, lambda: any(n.severity == "error" for n in app._notifications))
        polls = tags_polls(fake)
        await wait_for(pilot, lambda: tags_polls(fake) > polls + 1)
        assert app.is_running
        await pilot.press("j", "k")  # and the keys still move the cursor
        selected = app.selected()
        assert selected is not None and selected.name == "qwq:latest_20K"
