"""A server that is down or is not Ollama says so in the status line and banner."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ollama_lineage.fake_ollama import FakeOllama

from .conftest import AppFactory, ready, row, wait_for


def status(app: object) -> str:
    return str(app.main.query_one("#status").render())  # type: ignore[attr-defined]


@pytest.fixture
def not_ollama() -> Iterator[str]:
    """A plain web server: every Ollama route is its 404 HTML page."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_a_host_that_is_down_never_reads_as_healthy(make_app: AppFactory) -> None:
    app = make_app(host="http://127.0.0.1:9")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.main.banner.has_class("-visible"))
        await wait_for(pilot, lambda: "cannot reach" in status(app))
        assert "cannot reach 127.0.0.1:9 (connection refused)" in status(app)
        assert "all up to date" not in status(app)
        assert "cannot reach 127.0.0.1:9 (connection refused)" in str(app.main.banner.render())


async def test_a_port_that_is_not_ollama_is_named_and_its_page_is_not_shown(
    make_app: AppFactory, not_ollama: str
) -> None:
    app = make_app(host=f"http://{not_ollama}")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.main.banner.has_class("-visible"))
        said = f"{not_ollama} is not an Ollama server (HTTP 404)"
        await wait_for(pilot, lambda: said in status(app))
        banner = str(app.main.banner.render())
        assert said in banner and "<" not in banner
        assert "all up to date" not in status(app)


async def test_the_last_known_tree_stays_and_is_marked(
    make_app: AppFactory, fake: FakeOllama
) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        fake.stop()
        await wait_for(pilot, lambda: "cannot reach" in status(app))
        assert "last known: 8 models" in status(app)
        assert "fresh" in row(app, "qwq:latest_20K")
        fake.start()
        await wait_for(pilot, lambda: "cannot reach" not in status(app))
        assert "last known" not in status(app)
