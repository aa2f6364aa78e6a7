"""The HTTP side: Ollama's routes, status codes and streaming, plus the /_fake/ controls."""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import re
import socket
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .errors import ApiError
from .faults import Failure
from .generate import generate
from .gofmt import go_json
from .media import MANIFEST
from .state import normalize_digest

if TYPE_CHECKING:
    from .server import FakeOllama

JSON = "application/json; charset=utf-8"
STREAM_JSON = "application/json"  # streamResponse/waitForStream set it without a charset
NDJSON = "application/x-ndjson"
STREAM_ROUTES = ("/api/pull", "/api/create", "/api/generate")
_BLOBS = re.compile(r"/api/blobs/([^/]+)")
_REGISTRY = re.compile(r"/v2/([^/]+)/([^/]+)/manifests/([^/]+)")
_LINES_BEFORE_TROUBLE = 2
GO_BUFFER = 2048  # net/http's bufferBeforeChunkingSize


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else each kept-alive request waits ~40 ms (delayed ACK)

    fake: FakeOllama
    _body: bytes
    _failure: Failure | None
    _malformed: str | None

    def setup(self) -> None:
        super().setup()
        self.fake = self.server.fake  # type: ignore[attr-defined]
        self.fake.track(self.connection, add=True)

    def finish(self) -> None:
        self.fake.track(self.connection, add=False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and the demo do not want an access log on stderr."""

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_GET(self) -> None:
        self._dispatch()

    do_HEAD = do_POST = do_DELETE = do_PUT = do_PATCH = do_GET

    # dispatch ----------------------------------------------------------------------------

    def _dispatch(self) -> None:
        path = urlsplit(self.path).path
        raw = self._read_body()
        self._failure, self._malformed = None, None
        if path.startswith("/_fake/"):
            self._control(path, raw)
            return
        self.fake.record(self.command, path, _parse(raw))
        if not path.startswith("/v2/") and not allowed_host(self.headers.get("Host", "")):
            self._send(403, b"", None)  # the registry's routes are another server's
            return
        route = self._route(path)
        if route is None:
            self._send(404, b"404 page not found", "text/plain")
            return
        methods, action = route
        if self.command not in methods:
            self._send(405, b"405 method not allowed", "text/plain")
            return
        if delay := self.fake.faults.latency(path):
            time.sleep(delay)
        failure = self.fake.faults.take_failure(path)
        if failure and failure.mode == "drop" and not self._streaming(path, raw):
            self._drop()
            return
        if failure and (failure.mode == "status" or path not in STREAM_ROUTES):
            self._error(failure.status, failure.error)
            return
        self._failure = failure
        self._malformed = self.fake.faults.take_malformed(path)
        try:
            action()
        except ApiError as err:
            self._error(err.status, err.message)

    def _route(self, path: str) -> tuple[tuple[str, ...], Callable[[], None]] | None:
        fixed: dict[str, tuple[tuple[str, ...], Callable[[], None]]] = {
            "/": (
                ("GET", "HEAD"),
                lambda: self._send(200, b"Ollama is running", "text/plain; charset=utf-8"),
            ),
            "/api/version": (
                ("GET", "HEAD"),
                lambda: self._json(200, {"version": self.fake.version}),
            ),
            "/api/tags": (
                ("GET", "HEAD"),
                lambda: self._json(200, {"models": self.fake.state.tags()}),
            ),
            "/api/ps": (("GET",), lambda: self._json(200, {"models": self.fake.state.ps()})),
            "/api/show": (("POST",), self._show),
            "/api/create": (("POST",), self._create),
            "/api/copy": (("POST",), self._copy),
            "/api/delete": (("DELETE",), self._delete),
            "/api/pull": (("POST",), self._pull),
            "/api/generate": (("POST",), self._generate),
        }
        if path in fixed:
            return fixed[path]
        if match := _BLOBS.fullmatch(path):
            return ("HEAD", "POST"), lambda: self._blob(match.group(1))
        if match := _REGISTRY.fullmatch(path):
            return ("GET", "HEAD"), lambda: self._registry(*match.groups())
        return None

    def _streaming(self, path: str, raw: bytes) -> bool:
        body = _parse(raw)
        return path in STREAM_ROUTES and not (
            isinstance(body, dict) and body.get("stream") is False
        )

    # Ollama routes -----------------------------------------------------------------------

    def _request(self) -> dict[str, Any]:
        if not self._body:
            raise ApiError(400, "missing request body")
        try:
            body = json.loads(self._body)
        except ValueError as err:
            raise ApiError(400, f"invalid character in request body: {err}") from None
        if not isinstance(body, dict):
            raise ApiError(400, "json: cannot unmarshal request body into an object")
        return body

    def _model(self, body: dict[str, Any]) -> str:
        """`model`, or its deprecated alias `name`."""
        raw = body.get("model") or body.get("name") or ""
        if not raw:
            raise ApiError(400, "model is required")
        return str(raw)

    def _show(self) -> None:
        body = self._request()
        shown = self.fake.state.show_body(self._model(body), bool(body.get("verbose")))
        self._send(200, shown, JSON)

    def _create(self) -> None:
        body = self._request()
        self._events(self.fake.state.create(body), body.get("stream") is not False)

    def _pull(self) -> None:
        body = self._request()
        self._events(self.fake.state.pull(self._model(body)), body.get("stream") is not False)

    def _copy(self) -> None:
        body = self._request()
        self.fake.state.copy(str(body.get("source") or ""), str(body.get("destination") or ""))
        self._send(200, b"", None)

    def _delete(self) -> None:
        self.fake.state.delete(self._model(self._request()))
        self._send(200, b"", None)

    def _generate(self) -> None:
        body = self._request()
        events = generate(self.fake.state, body, self.fake.token_delay, self.fake.load_seconds)
        if body.get("stream") is not False:
            self._events(events, True)
            return
        parts = list(self._with_failure(events))
        final = {**parts[-1], "response": "".join(p["response"] for p in parts)}
        self._json(200, final)

    def _blob(self, digest: str) -> None:
        state = self.fake.state
        if self.command == "HEAD":
            if not state.has_blob(digest):
                raise ApiError(404, f"blob {json.dumps(digest)} not found")
            self._send(200, b"", None)
            return
        expected = normalize_digest(digest)
        if state.has_blob(expected):
            self._send(200, b"", None)
            return
        actual = "sha256:" + hashlib.sha256(self._body).hexdigest()
        if actual != expected:
            raise ApiError(400, f"digest mismatch, expected {expected!r}, got {actual!r}")
        state.upload(self._body)
        self._send(201, b"", None)

    def _registry(self, namespace: str, model: str, tag: str) -> None:
        upstream = self.fake.state.registry_manifest(namespace, model, tag)
        if upstream is None:
            body = {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}
            self._send(404, go_json(body).encode(), JSON)
            return
        mode = self.fake.registry_head
        if self.command == "HEAD" and mode == "405":
            self._send(405, b"405 method not allowed", "text/plain")
            return
        digest = hashlib.sha256(upstream.raw).hexdigest()
        headers = {
            "ollama-content-digest": digest,
            "docker-content-digest": f"sha256:{digest}",
            "ollama-push-time": str(int(upstream.pushed)),
        }
        if mode == "no-digest":
            del headers["ollama-content-digest"]
        self._send(200, upstream.raw, MANIFEST, headers)

    # test controls -----------------------------------------------------------------------

    def _control(self, path: str, raw: bytes) -> None:
        fake = self.fake
        body = _parse(raw) or {}
        try:
            if path == "/_fake/requests" and self.command == "GET":
                self._json(200, {"requests": [vars(r) for r in fake.requests]})
                return
            if self.command != "POST":
                self._send(405, b"405 method not allowed", "text/plain")
                return
            if path == "/_fake/publish":
                fake.publish(body["model"])
            elif path == "/_fake/latency":
                fake.set_latency(float(body["seconds"]), body.get("route"))
            elif path == "/_fake/fail":
                fake.fail(
                    body["route"],
                    int(body.get("nth", 1)),
                    int(body.get("status", 500)),
                    body.get("error", "injected failure"),
                    body.get("mode", "status"),
                )
            elif path == "/_fake/malformed":
                fake.malformed(
                    body["route"], body.get("kind", "garbage"), int(body.get("times", 1))
                )
            elif path == "/_fake/reset":
                fake.reset()
            else:
                self._send(404, b"404 page not found", "text/plain")
                return
        except (KeyError, TypeError, ValueError) as err:
            self._json(400, {"error": f"bad control request: {err!r}"})
            return
        self._json(200, {"status": "success"})

    # output ------------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailer lines
            self._body = b"".join(chunks)
        else:
            length = int(self.headers.get("Content-Length") or 0)
            self._body = self.rfile.read(length) if length else b""
        return self._body

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if self.fake.faults.reshape and content_type in (JSON, STREAM_JSON) and body:
            body = go_json(self._reshaped(json.loads(body))).encode()
        if self._malformed and content_type == JSON:
            body = _mangle(body, self._malformed)
            status = 200 if self._malformed == "garbage" else status
        # Go's net/http buffers 2 KB of an answer; a longer one without a Content-Length (gin
        # sets none) goes out chunked, in one chunk when written at once, as Ollama's are.
        chunked = (
            len(body) > GO_BUFFER and content_type in (JSON, STREAM_JSON) and self.command != "HEAD"
        )
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        if chunked:
            self._chunk(body)
            self._chunk(b"")
        else:
            self.wfile.write(body)

    def _reshaped(self, value: dict[str, Any]) -> dict[str, Any]:
        reshape = self.fake.faults.reshape
        return reshape(urlsplit(self.path).path, value) if reshape else value

    def _json(self, status: int, value: Any) -> None:
        self._send(status, go_json(value).encode(), JSON)

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _drop(self) -> None:
        """Vanish like a crashed server: no response (or no end of the stream)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _with_failure(self, events: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Apply an injected `midstream` failure: a few lines, then an error."""
        failure = self._failure
        for count, event in enumerate(events):
            if failure and failure.mode == "midstream" and count >= _LINES_BEFORE_TROUBLE:
                raise ApiError(failure.status, failure.error)
            yield event
        if failure and failure.mode == "midstream":
            raise ApiError(failure.status, failure.error)

    def _events(self, events: Iterator[dict[str, Any]], stream: bool) -> None:
        """streamResponse / waitForStream: errors before output become plain JSON errors."""
        events = self._with_failure(events)
        if not stream:
            last: Any = None
            try:
                for event in events:
                    last = event
            except ApiError as err:
                self._send(err.status, go_json({"error": err.message}).encode(), STREAM_JSON)
                return
            self._send(200, go_json(last).encode(), STREAM_JSON)
            return
        written = 0
        try:
            for event in events:
                if not written:
                    self.send_response(200)
                    self.send_header("Content-Type", NDJSON)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                line = (go_json(self._reshaped(event)) + "\n").encode()
                if self._malformed:
                    self._chunk(_mangle(line, self._malformed))
                    break
                self._chunk(line)
                written += 1
                if (
                    self._failure
                    and self._failure.mode == "drop"
                    and (written >= _LINES_BEFORE_TROUBLE)
                ):
                    self._drop()
                    return
        except ApiError as err:
            if not written:
                self._send(err.status, go_json({"error": err.message}).encode(), STREAM_JSON)
                return
            self._chunk((go_json({"error": err.message}) + "\n").encode())
        self._chunk(b"")

    def _chunk(self, data: bytes) -> None:
        """One chunk of a chunked answer; an empty one ends it."""
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")


def allowed_host(header: str) -> bool:
    """allowedHostsMiddleware and allowedHost (server/routes.go): listening on loopback, as
    the stand-in does, Ollama answers 403 to a Host that does not name this machine."""
    host = header
    if header.startswith("[") and "]:" in header:
        host = header[1 : header.index("]:")]
    elif header.count(":") == 1:
        host = header.partition(":")[0]
    with contextlib.suppress(ValueError):
        address = ipaddress.ip_address(host)
        if address.is_loopback or address.is_private or address.is_unspecified:
            return True
    host = host.lower()
    return host in ("", "localhost", socket.gethostname().lower()) or host.endswith(
        (".localhost", ".local", ".internal")
    )


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _mangle(body: bytes, kind: str) -> bytes:
    if kind == "garbage":
        return b"<html><body>this is not JSON</body></html>\n"
    return body[: len(body) // 2]
