"""Every request/answer call to Ollama, on the standard library's http.client: one kept-alive
connection per worker thread, at most ``CONNECTIONS`` in flight. The listing on every poll,
a show per model on a cold start, version, copy and delete; and the first listing, sent while
the app is still importing (``EarlyGet``). Streams (create, pull, generate) and the registry
go through httpx. Why this stack, and what it was measured to cost: tests/benchmarks/README.md.

The entry point imports this module before the rest of the app, so it imports little itself:
asyncio, json and the spec parser are already loaded by the time a request is made.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from .. import __version__

if TYPE_CHECKING:
    import http.client

    from ..core.spec import ModelSpec

USER_AGENT = f"ollama-lineage/{__version__}"
CONNECTIONS = 32  # shows in flight on a cold start (the README's benchmark says why 32)

T = TypeVar("T")
READS = {("GET", "/api/tags"), ("GET", "/api/version"), ("POST", "/api/show")}  # safe twice
Decode = Callable[[str, str], dict[str, Any]]
RaiseFor = Callable[[int, str, str], None]


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
        connection = connect(base_url, timeout)
        try:
            self._answer = send(connection, "GET", prefix(base_url) + self.path, None, {})
        except Exception as exc:  # handed to whoever asks: the app reports it as it would
            self._failure = exc
        finally:
            connection.close()


class PlainHttp:
    """``request`` and ``show`` from any coroutine; at most ``CONNECTIONS`` in flight."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        decode: Decode,
        raise_for: RaiseFor,
        early: EarlyGet | None = None,
    ) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._base_url = base_url
        self._prefix = prefix(base_url)
        self._timeout = timeout
        self._headers = {"Content-Type": "application/json"}
        self._decode = decode
        self._raise_for = raise_for
        self._local = threading.local()
        self._opened: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(CONNECTIONS, thread_name_prefix="plain-http")
        self._early = early

    async def request(self, method: str, path: str, body: bytes | None = None) -> bytes:
        """The answer's body; an error status raises as the client's errors do."""
        return await self._in_thread(self._answer, method, path, body)

    async def show(self, name: str, *, with_shape: bool = False) -> ModelSpec:
        """Parsed into a ModelSpec in the worker thread, off the event loop."""
        return await self._in_thread(self._show, name, with_shape)

    async def _in_thread(self, call: Callable[..., T], *args: Any) -> T:
        import asyncio

        return await asyncio.get_running_loop().run_in_executor(self._executor, call, *args)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            for connection in self._opened:
                connection.close()
            self._opened.clear()

    def _connection(self) -> http.client.HTTPConnection:
        """This thread's kept-alive connection, opened on first use."""
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = connect(self._base_url, self._timeout)
            self._local.connection = connection
            with self._lock:
                self._opened.append(connection)
        return connection

    def _answer(self, method: str, path: str, body: bytes | None) -> bytes:
        with self._lock:
            early = self._early
            if early is None or (method, path) != ("GET", early.path):
                early = None
            self._early = self._early if early is None else None
        status, answer = early.answer() if early else self._request(method, path, body)
        if status >= 400:
            self._raise_for(status, answer.decode("utf-8", "replace"), path)
        return answer

    def _show(self, name: str, with_shape: bool) -> ModelSpec:
        import json

        from ..core.spec import parse_show

        text = self._answer("POST", "/api/show", json.dumps({"model": name}).encode()).decode(
            "utf-8", "replace"
        )
        if not with_shape:
            text = without_tensors(text)
        return parse_show(self._decode(text, "/api/show"), with_shape=with_shape)

    def _request(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        reused = getattr(self._local, "connection", None) is not None
        try:
            return self._send(method, path, body)
        except (ConnectionResetError, BrokenPipeError):  # http.client's RemoteDisconnected too
            if not reused or (method, path) not in READS:
                raise  # a copy or delete may have happened: never sent twice
            # The server closed an idle kept-alive connection: once more on a new one.
            return self._send(method, path, body)

    def _send(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        connection = self._connection()
        try:
            return send(connection, method, self._prefix + path, body, self._headers)
        except Exception:
            # Dropped and forgotten, so a TUI left open on a flaky link keeps no dead ones.
            connection.close()
            self._local.connection = None
            with self._lock:
                self._opened.remove(connection)
            raise


def prefix(base_url: str) -> str:
    """The path a host URL carries (Ollama behind a proxy at /ollama), without its slash."""
    return urlsplit(base_url).path.rstrip("/")


def connect(base_url: str, timeout: float) -> http.client.HTTPConnection:
    import http.client

    parts = urlsplit(base_url)
    https = parts.scheme == "https"
    kind = http.client.HTTPSConnection if https else http.client.HTTPConnection
    port = parts.port or (443 if https else 80)
    return kind(parts.hostname or "127.0.0.1", port, timeout=timeout)


def send(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
) -> tuple[int, bytes]:
    """One request on ``connection``: the status and the whole body."""
    connection.request(method, path, body, {**headers, "User-Agent": USER_AGENT})
    response = connection.getresponse()
    return response.status, response.read()


def without_tensors(text: str) -> str:
    """The show with its tensor list cut out before parsing: the list is most of the bytes
    and of the parse time, and unused. Its objects hold no nested objects, so the list ends
    at the first ``}]`` after it begins; anything unexpected leaves the text as it was."""
    start = text.find('"tensors":[{')
    end = text.find("}]", start)
    if start < 0 or end < 0:
        return text
    return text[:start] + '"tensors":[]' + text[end + 2 :]


def transport_problem(exc: BaseException) -> str | None:
    """What a user reads for a failure below HTTP, or None when it is not one."""
    import http.client
    import socket

    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(exc, (http.client.RemoteDisconnected, http.client.IncompleteRead)):
        return "the connection dropped mid-answer"
    if isinstance(exc, http.client.BadStatusLine):
        line = str(exc.args[0]) if exc.args else ""
        return f"the server did not answer in HTTP: {line[:80]!r}"
    if isinstance(exc, (OSError, http.client.HTTPException)):
        return str(exc) or type(exc).__name__
    return None
