"""FakeOllama: the stand-in server's lifecycle and its Python control surface."""

from __future__ import annotations

import contextlib
import shutil
import socket
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from .faults import Faults, Reshape
from .handler import Handler
from .scenarios import build
from .state import State, drain

DEFAULT_MODELS_DIR = "/usr/share/ollama/.ollama/models"
REGISTRY_HEAD_MODES = ("ok", "405", "no-digest")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    body: Any
    at: float


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 drops connections when a client opens many at
    # once (each drop costs the client a 1 s retry); Ollama's Go listener takes SOMAXCONN.
    request_queue_size = socket.SOMAXCONN

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
        models_dir: str | None = None,
        host: str = "127.0.0.1",
        manifests_on_disk: bool = False,
    ) -> None:
        """`manifests_on_disk` keeps `<models_dir>/manifests/...` (and config blobs) on disk
        the way Ollama lays them out, for readers of the folder; models_dir then defaults
        to a temporary folder removed with this object."""
        self.scenario = scenario
        self.version = version
        self.manifests_on_disk = manifests_on_disk
        if models_dir is None and manifests_on_disk:
            models_dir = tempfile.mkdtemp(prefix="fake-ollama-models-")
            weakref.finalize(self, shutil.rmtree, models_dir, True)
        self.models_dir = models_dir or DEFAULT_MODELS_DIR
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
        if self.manifests_on_disk:
            for folder in ("manifests", "blobs"):
                shutil.rmtree(Path(self.models_dir) / folder, ignore_errors=True)
            state.lay_out_on_disk()
        with self._lock:
            self.state: State = state
            self.faults = Faults()
            self.token_delay = 0.0
            self.load_seconds = 0.0
            self.registry_head = "ok"
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

    def publish(
        self,
        name: str,
        *,
        publisher_from: str = "",
        chat_template: str = "",
        weights_of: str = "",
    ) -> None:
        """A new upstream version of `name`. `publisher_from`: the `from` its publisher's
        build left on the layers (a pull keeps it as parent_model); `chat_template`: a
        Jinja template in the weights, which show then returns as `template`; `weights_of`:
        a local model whose weights it ships, as a publisher's build of that base does."""
        self.state.publish(
            name,
            publisher_from=publisher_from,
            chat_template=chat_template,
            weights_of=weights_of,
        )

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
        **more: Any,
    ) -> None:
        """POST /api/create's fields; `more` takes the rest (adapters, quantize, renderer,
        parser, requires, files)."""
        request = {
            "model": name,
            "from": from_,
            "parameters": parameters,
            "system": system,
            "template": template,
            "messages": messages,
            "license": license,
            **more,
        }
        drain(self.state.create(request))

    def create_from_file(
        self, name: str, filename: str = "model.gguf", *, vision: bool = False
    ) -> None:
        """Create from an uploaded GGUF; a text-only one is rewritten by the create (no
        parent_model), a `vision` one keeps the file name as parent_model."""
        digest = self.state.stand_in_file(filename, vision=vision)
        drain(self.state.create({"model": name, "files": {filename: digest}}))

    def upload_adapter(self, filename: str = "lora.gguf") -> str:
        """A LoRA GGUF uploaded as a blob; returns its digest for `adapters`."""
        return self.state.stand_in_file(filename, adapter=True)

    def add_cloud_model(
        self, name: str, remote_model: str, remote_host: str = "https://ollama.com:443"
    ) -> None:
        """A `-cloud` stub: listed by tags with remote_model/remote_host; its show fails
        (502 while offline, 403 once `set_cloud_disabled`)."""
        self.state.add_cloud(name, remote_model, remote_host)

    def set_cloud_disabled(self, disabled: bool = True) -> None:
        self.state.cloud_status = 403 if disabled else 502

    def damage_blob(
        self,
        name: str,
        media_type: str = "application/vnd.ollama.image.model",
        how: str = "missing",
    ) -> str:
        """Damage one of `name`'s blobs: its show then fails while tags still lists it
        (`missing`: 404 "model not found", as measured; `corrupt`/`truncated`: 500)."""
        return self.state.damage_blob(name, media_type, how)

    def set_offline(self, offline: bool = True) -> None:
        """registry.ollama.ai unreachable: pulls (and creates from missing bases) fail."""
        self.state.offline = offline

    def set_registry_head(self, mode: str) -> None:
        """How the registry route answers HEAD: "ok", "405", or "no-digest" (no
        ollama-content-digest header on HEAD or GET)."""
        if mode not in REGISTRY_HEAD_MODES:
            raise ValueError(f"mode must be one of {REGISTRY_HEAD_MODES}")
        self.registry_head = mode

    def set_silences(self, *, verify_seconds: float = 0.0, load_seconds: float = 0.0) -> None:
        """Stream phases that say nothing: a pull's `verifying sha256 digest` and a
        generate's model load."""
        self.state.verify_seconds = verify_seconds
        self.load_seconds = load_seconds

    def manifest_path(self, name: str) -> Path:
        """Where Ollama keeps `name`'s manifest under models_dir."""
        local = self.state.find(name)
        if local is None:
            raise KeyError(name)
        return self.state.manifest_path(local.name)

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

    def reshape(self, rewrite: Reshape | None) -> None:
        """Send every JSON object (each line of a stream too) through ``rewrite`` first:
        fields a newer server adds, types an odd one sends."""
        self.faults.reshape = rewrite

    def set_token_delay(self, seconds: float) -> None:
        self.token_delay = seconds

    def cut_generate(self, name: str) -> None:
        """Answers of `name` end without their `done` line, as a real 0.33 was seen doing."""
        local = self.state.find(name)
        assert local is not None, name
        self.state.cut_generate.add(local.name.key)

    def set_disk_free(self, num_bytes: int | None, *, on_create: bool = False) -> None:
        """The models folder's filesystem takes only ``num_bytes`` more (None: no limit):
        a pull, create or copy that needs more fails with "no space left on device".
        ``on_create``: from the start of the next create (another writer filled the disk
        meanwhile). A manifest that does not fit is lost, as Ollama truncates it first."""
        if on_create:
            self.state.disk_free_on_create = num_bytes
        else:
            self.state.disk_free = num_bytes

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
