"""The first GET, sent while the app starts, against real servers: the same answer as any
later GET, and the same one-line errors.

The stand-in frames its answers as Ollama (Go's net/http) does: over 2 KB chunked, else a
Content-Length; and, listening on loopback, it refuses a Host that does not name the machine.
"""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ollama_lineage.cli import main
from ollama_lineage.fake_ollama import FakeOllama
from ollama_lineage.ollama.plain_http import EarlyGet, transport_problem


def framing(url: str, path: str) -> str | None:
    """How the server framed its answer: the Transfer-Encoding it sent, if any."""
    parts = httpx.URL(url)
    connection = http.client.HTTPConnection(parts.host, parts.port)
    connection.request("GET", path)
    encoding = connection.getresponse().getheader("Transfer-Encoding")
    connection.close()
    return encoding


@pytest.mark.parametrize(("path", "chunked"), [("/api/tags", True), ("/api/version", False)])
def test_the_early_answer_is_the_body_a_plain_get_gives(
    fake: FakeOllama, path: str, chunked: bool
) -> None:
    assert (framing(fake.url, path) == "chunked") is chunked
    plain = httpx.get(fake.url + path)
    assert EarlyGet(fake.url, path, 5.0).answer() == (200, plain.content)


def test_the_early_get_names_the_host_as_ollama_wants_it(fake: FakeOllama) -> None:
    # A wrong Host header would be a 403 from a real Ollama on loopback, as from the stand-in.
    localhost = fake.url.replace("127.0.0.1", "localhost")
    assert EarlyGet(localhost, "/api/version", 5.0).answer()[0] == 200
    assert httpx.get(fake.url + "/api/version", headers={"Host": "example.com"}).status_code == 403


def test_a_server_that_drops_the_connection_reads_as_dropped(fake: FakeOllama) -> None:
    fake.fail("/api/tags", mode="drop")
    with pytest.raises(Exception) as caught:
        EarlyGet(fake.url, "/api/tags", 5.0).answer()
    assert transport_problem(caught.value) == "the connection dropped mid-answer"


@pytest.fixture
def ssh_port() -> Iterator[int]:
    """What answers when OLLAMA_HOST names the SSH port by mistake."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with client:
                client.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1]
    listener.close()


def test_a_server_that_does_not_speak_http_is_one_clear_line(
    ssh_port: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host = f"http://127.0.0.1:{ssh_port}"
    with pytest.raises(http.client.BadStatusLine):
        EarlyGet(host, "/api/tags", 5.0).answer()
    code = main(["status", "--host", host, "--db", str(tmp_path / "db"), "--models-dir", "none"])
    assert code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: ") and "did not answer in HTTP: 'SSH-2.0-OpenSSH_9.6" in line
