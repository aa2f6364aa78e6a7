"""The first request, sent while the app is still starting.

The entry point imports this module and little else before it asks for the listing, so the
server works on it while Python imports asyncio, the store and the rest (or Textual).

Over plain HTTP (Ollama's own) the GET is written on a bare socket: http.client brings the
email package with it, ~8 ms of every start, and a `status` that reads the models folder
sends no other request. The answer is read as http.client would: Content-Length, chunked (Ollama,
being Go, chunks every answer over 2 KB) or until the server closes.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import urlsplit

from .. import __version__

if TYPE_CHECKING:
    import http.client

USER_AGENT = f"ollama-lineage/{__version__}"
_LINE = 65536  # no status line, header or chunk size is longer; a longer one is not HTTP


class DroppedAnswer(ConnectionError):
    """The server closed the connection before its answer was whole."""

    def __init__(self) -> None:
        super().__init__("the connection dropped mid-answer")


class NotHttp(ConnectionError):
    """Something answered on that port, but not in HTTP."""


class EarlyGet:
    """A GET sent while the app is still starting, on a connection of its own; the first
    request for that path takes its answer, or its failure, instead of asking again."""

    def __init__(self, base_url: str, path: str, timeout: float) -> None:
        self.path = path
        self._answer: tuple[int, bytes] | None = None
        self._failure: Exception | None = None
        self._thread = threading.Thread(
            target=self._fetch, args=(base_url, timeout), name="early-get", daemon=True
        )
        self._thread.start()

    def answer(self) -> tuple[int, bytes]:
        self._thread.join()
        if self._failure is not None:
            raise self._failure
        assert self._answer is not None
        return self._answer

    def _fetch(self, base_url: str, timeout: float) -> None:
        try:
            parts = urlsplit(base_url)
            path = parts.path.rstrip("/") + self.path
            if parts.scheme == "https":
                self._answer = _get_tls(base_url, path, timeout)
            else:
                host = parts.netloc.rpartition("@")[2]
                address = (parts.hostname or "127.0.0.1", parts.port or 80)
                self._answer = get(address, host, path, timeout)
        except Exception as exc:  # handed to whoever asks: the app reports it as it would
            self._failure = exc


def get(address: tuple[str, int], host: str, path: str, timeout: float) -> tuple[int, bytes]:
    """One GET on a connection of its own: the status and the whole body."""
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {USER_AGENT}\r\n"
        "Accept-Encoding: identity\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(address, timeout) as sock:
        sock.sendall(request.encode("ascii"))
        with sock.makefile("rb") as answer:
            return read_answer(answer)


def read_answer(answer: BinaryIO) -> tuple[int, bytes]:
    """An HTTP/1.1 answer's status and body, read from a stream that ends where it ends."""
    first = _line(answer)
    version, _, rest = first.partition(b" ")
    code = rest[:3]
    if not version.startswith(b"HTTP/") or not code.isdigit():
        raise NotHttp(f"the server did not answer in HTTP: {first[:80]!r}")
    headers: dict[str, str] = {}
    while (line := _line(answer)) not in (b"\r\n", b"\n"):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return int(code), _chunks(answer)
    with contextlib.suppress(KeyError, ValueError):  # none, or not a number: as http.client
        length = int(headers["content-length"])
        if length >= 0:
            return int(code), _exactly(answer, length)
    return int(code), answer.read()  # Connection: close, so the end of the body is the end


def _chunks(answer: BinaryIO) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = _line(answer)
        try:
            size = int(size_line.split(b";", 1)[0], 16)
        except ValueError:
            raise NotHttp(f"a chunk of the answer has no size: {size_line[:80]!r}") from None
        if size == 0:
            return b"".join(parts)
        parts.append(_exactly(answer, size))
        _exactly(answer, 2)  # the CRLF after each chunk


def _line(answer: BinaryIO) -> bytes:
    line = answer.readline(_LINE)
    if line.endswith(b"\n"):
        return line
    if len(line) < _LINE:
        raise DroppedAnswer
    raise NotHttp(f"a line of the answer is over {_LINE} bytes: {line[:80]!r}…")


def _exactly(answer: BinaryIO, size: int) -> bytes:
    data = answer.read(size)
    if len(data) < size:
        raise DroppedAnswer
    return data


def _get_tls(base_url: str, path: str, timeout: float) -> tuple[int, bytes]:
    connection = connect(base_url, timeout)
    try:
        connection.request("GET", path, headers={"User-Agent": USER_AGENT})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def connect(base_url: str, timeout: float) -> http.client.HTTPConnection:
    """A kept-alive connection for the requests after the first (imports http.client)."""
    import http.client

    parts = urlsplit(base_url)
    https = parts.scheme == "https"
    kind = http.client.HTTPSConnection if https else http.client.HTTPConnection
    port = parts.port or (443 if https else 80)
    return kind(parts.hostname or "127.0.0.1", port, timeout=timeout)
