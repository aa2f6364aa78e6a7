"""FakeOllama: the stand-in server's lifecycle and its Python control surface."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any

from .faults import Faults
from .handler import Handler
from .scenarios import build
from .state import State, drain

DEFAULT_MODELS_DIR = "/usr/share/ollama/.ollama/models"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    body: Any
    at: float


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], fake: FakeOllama) -> None:
        self.fake = fake
        super().__init__(address, Handler)


class FakeOllama:
    """A real Ollama-compatible HTTP server on loopback, driven from tests or the demo."""

    def __init__(
        self,
        scenario: str = "demo",
        port: int = 0,
        version: str = "0.33.1",
        models_dir: str = DEFAULT_MODELS_DIR,
        host: str = "127.0.0.1",
    ) -> None:
        self.scenario = scenario
        self.version = version
        self.models_dir = models_dir
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.reset()

    # lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeOllama:
        """Listen (again) on the same port; the first start picks one when port is 0."""
        if self._server is not None:
            raise RuntimeError("FakeOllama is already running")
        self._server = _HTTPServer((self._host, self._port), self)
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            args=(0.05,),
            name=f"fake-ollama-{self._port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Go down like a killed server: kept-alive connections are cut too."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        server.server_close()
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> FakeOllama:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def track(self, connection: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def reset(self) -> None:
        """Back to the scenario's initial models, with no faults and no recorded requests."""
        state = build(self.scenario, self.version, self.models_dir)
        with self._lock:
            self.state: State = state
            self.faults = Faults()
            self.token_delay = 0.0
            self._requests: list[RecordedRequest] = []

    # addresses ---------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return f"{self._host}:{self._port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def registry_url(self) -> str:
        return self.url

    # models ------------------------------------------------------------------------------

    def publish(self, name: str) -> None:
        self.state.publish(name)

    def pull(self, name: str) -> None:
        drain(self.state.pull(name))

    def create(
        self,
        name: str,
        from_: str | None = None,
        parameters: dict[str, Any] | None = None,
        system: str | None = None,
        template: str | None = None,
        messages: list[dict[str, Any]] | None = None,
        license: str | list[str] | None = None,
    ) -> None:
        request = {
            "model": name,
            "from": from_,
            "parameters": parameters,
            "system": system,
            "template": template,
            "messages": messages,
            "license": license,
        }
        drain(self.state.create(request))

    def create_from_file(self, name: str, filename: str = "model.gguf") -> None:
        digest = self.state.stand_in_file(filename)
        drain(self.state.create({"model": name, "files": {filename: digest}}))

    def delete(self, name: str) -> None:
        self.state.delete(name)

    def copy(self, source: str, destination: str) -> None:
        self.state.copy(source, destination)

    def digest(self, name: str) -> str | None:
        local = self.state.find(name)
        return local.digest if local else None

    def model_names(self) -> list[str]:
        with self.state.lock:
            return sorted(local.name.display for local in self.state.local.values())

    # requests and faults -----------------------------------------------------------------

    def record(self, method: str, path: str, body: Any) -> None:
        with self._lock:
            self._requests.append(RecordedRequest(method, path, body, time.time()))

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def set_latency(self, seconds: float, route: str | None = None) -> None:
        self.faults.set_latency(seconds, route)

    def fail(
        self,
        route: str,
        nth: int = 1,
        status: int = 500,
        error: str = "injected failure",
        mode: str = "status",
    ) -> None:
        self.faults.fail(route, nth, status, error, mode)

    def malformed(self, route: str, kind: str = "garbage", times: int = 1) -> None:
        self.faults.malformed(route, kind, times)

    def set_token_delay(self, seconds: float) -> None:
        self.token_delay = seconds

    def set_pull_speed(self, bytes_per_second: float | None) -> None:
        self.state.pull_speed = bytes_per_second


def run_server(
    host: str = "127.0.0.1",
    port: int = 11435,
    scenario: str = "demo",
    latency: float = 0.0,
    version: str = "0.33.1",
) -> None:
    """Serve until Ctrl-C (for `ollama-lineage fake-server`)."""
    fake = FakeOllama(scenario=scenario, port=port, version=version, host=host)
    fake.set_latency(latency)
    with fake:
        print(f"fake Ollama on {fake.url} (scenario {scenario})", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
