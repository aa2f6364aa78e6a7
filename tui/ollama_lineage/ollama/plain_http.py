"""The hot requests on plain keep-alive connections, one per worker thread: the listing on
every poll, and a show per model on a cold start.

Through httpx's async stack a show cost about 2.5 ms of CPU, so on the same host (the SSH use)
the app was slower than a shell loop, and the 430 KB listing of 1,000 models took 80 ms, twice
what the standard library's http.client takes. A show's JSON is parsed into a ModelSpec in
the worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..core.spec import ModelSpec, parse_show
from .early import USER_AGENT, EarlyGet, connect

if TYPE_CHECKING:
    import http.client

# Over a 20 ms link 32 shows in flight make a cold start of 1,000 models ~0.7 s of waiting;
# on the same host more only queue for the same CPU.
CONNECTIONS = 32

Decode = Callable[[str, str], dict[str, Any]]
RaiseFor = Callable[[int, str, str], None]


class PlainHttp:
    """``get(path)`` and ``show(name)`` from any coroutine; at most ``CONNECTIONS`` in flight."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        decode: Decode,
        raise_for: RaiseFor,
        early: EarlyGet | None = None,
    ) -> None:
        self._base_url = base_url
        self._prefix = urlsplit(base_url).path.rstrip("/")
        self._timeout = timeout
        self._headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        self._decode = decode
        self._raise_for = raise_for
        self._local = threading.local()
        self._opened: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(CONNECTIONS, thread_name_prefix="plain-http")
        self._early = early

    async def get(self, path: str) -> bytes:
        """The body of a GET; an error status raises as the client's errors do."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._get, path)

    async def show(self, name: str, *, with_shape: bool = False) -> ModelSpec:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._show, name, with_shape)

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

    def _get(self, path: str) -> bytes:
        with self._lock:
            early = self._early if self._early is not None and self._early.path == path else None
            if early is not None:
                self._early = None
        if early is not None:
            status, body = early.answer()
        else:
            status, body = self._request("GET", path, None)
        if status >= 400:
            self._raise_for(status, body.decode("utf-8", "replace"), path)
        return body

    def _show(self, name: str, with_shape: bool) -> ModelSpec:
        status, body = self._request("POST", "/api/show", json.dumps({"model": name}).encode())
        text = body.decode("utf-8", "replace")
        if status >= 400:
            self._raise_for(status, text, "/api/show")
        if not with_shape:
            text = without_tensors(text)
        return parse_show(self._decode(text, "/api/show"), with_shape=with_shape)

    def _request(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        reused = getattr(self._local, "connection", None) is not None
        try:
            return self._send(self._connection(), method, path, body)
        except (ConnectionResetError, BrokenPipeError):  # http.client's RemoteDisconnected too
            if not reused:
                raise
            # The server closed an idle kept-alive connection: once more on a new one.
            return self._send(self._connection(), method, path, body)

    def _send(
        self, connection: http.client.HTTPConnection, method: str, path: str, body: bytes | None
    ) -> tuple[int, bytes]:
        import http.client  # here, not at the top: a status read from the folder never needs it

        try:
            connection.request(method, self._prefix + path, body, self._headers)
            response = connection.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            # Dropped and forgotten, so a TUI left open on a flaky link keeps no dead ones.
            connection.close()
            self._local.connection = None
            with self._lock:
                self._opened.remove(connection)
            raise


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

    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(exc, (http.client.RemoteDisconnected, http.client.IncompleteRead)):
        return "the connection dropped mid-answer"
    if isinstance(exc, (OSError, http.client.HTTPException)):
        return str(exc) or type(exc).__name__
    return None
