"""The first GET, written on a bare socket: read as http.client would, against real servers.

The stand-in frames its answers as Ollama (Go's net/http) does: over 2 KB chunked, else a
Content-Length; and, listening on loopback, it refuses a Host that does not name the machine.
"""

from __future__ import annotations

import http.client
import io
import itertools
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ollama_lineage.cli import main
from ollama_lineage.fake_ollama import FakeOllama
from ollama_lineage.ollama.early import DroppedAnswer, EarlyGet, NotHttp, read_answer


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
    with pytest.raises(DroppedAnswer, match="the connection dropped mid-answer"):
        EarlyGet(fake.url, "/api/tags", 5.0).answer()


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
    with pytest.raises(NotHttp, match="did not answer in HTTP"):
        EarlyGet(host, "/api/tags", 5.0).answer()
    code = main(["status", "--host", host, "--db", str(tmp_path / "db"), "--models-dir", "none"])
    assert code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: ") and "did not answer in HTTP: b'SSH-2.0-OpenSSH_9.6" in line


def encoded(status: int, body: bytes, cuts: list[int]) -> bytes:
    """An answer chunked where ``cuts`` say, with a chunk extension on the first chunk."""
    edges = sorted({0, len(body), *(c % (len(body) + 1) for c in cuts)})
    chunks = [body[a:b] for a, b in itertools.pairwise(edges)]
    framed = b"".join(
        b"%x%s\r\n%s\r\n" % (len(c), b";ext=1" if i == 0 else b"", c) for i, c in enumerate(chunks)
    )
    head = b"HTTP/1.1 %d OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    return head % status + framed + b"0\r\n\r\n"


@given(st.binary(max_size=3000), st.lists(st.integers(min_value=0), max_size=6))
def test_chunked_answers_read_whole_however_they_are_cut(body: bytes, cuts: list[int]) -> None:
    assert read_answer(io.BytesIO(encoded(200, body, cuts))) == (200, body)


@given(
    st.binary(min_size=1, max_size=500), st.lists(st.integers(min_value=0), max_size=3), st.data()
)
def test_an_answer_cut_short_is_dropped_never_taken_for_whole(
    body: bytes, cuts: list[int], data: st.DataObject
) -> None:
    whole = encoded(200, body, cuts)
    end = len(whole) - len(b"\r\n")  # the last CRLF is not needed: the zero chunk said it all
    cut = data.draw(st.integers(min_value=0, max_value=end - 1))
    with pytest.raises(DroppedAnswer):
        read_answer(io.BytesIO(whole[:cut]))


def test_content_length_and_read_to_close_answers() -> None:
    sized = b"HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\nhello, and more"
    assert read_answer(io.BytesIO(sized)) == (404, b"hello")
    with pytest.raises(DroppedAnswer):
        read_answer(io.BytesIO(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort"))
    to_close = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nOllama is running"
    assert read_answer(io.BytesIO(to_close)) == (200, b"Ollama is running")
    garbled = b"HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\nOllama is running"
    assert read_answer(io.BytesIO(garbled)) == (200, b"Ollama is running")
