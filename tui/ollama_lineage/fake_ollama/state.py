"""In-memory Ollama: content-addressed blobs, local manifests and an upstream registry.

Every model is a manifest of layers whose digests are sha256 of their bytes, so a digest
changes exactly when content changes. Pull and create are generators of the progress
objects Ollama streams; they raise ApiError for the `{"error": ...}` cases.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any

from . import catalog
from .gofmt import go_encode, go_json, rfc3339
from .media import (
    ADAPTER,
    CONFIG,
    LICENSE,
    MANIFEST,
    MESSAGES,
    MODEL,
    PARAMS,
    SYSTEM,
    TEMPLATE,
)
from .names import Name, parse_name
from .show import (
    ModelView,
    capabilities,
    details,
    model_info,
    modelfile,
    parameters,
    read_model,
)

_DIGEST = re.compile(r"sha256[:-][0-9a-fA-F]{64}")
_PROGRESS_TICK = 0.1  # seconds between pull progress lines when a pull speed is set
_KEEP_LOADED_NS = 5 * 60 * 1_000_000_000


class ApiError(Exception):
    """An Ollama error: HTTP status plus the message of its `{"error": ...}` body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Local:
    name: Name
    raw: bytes
    manifest: dict[str, Any]
    modified_ns: int

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()


@dataclass
class Upstream:
    name: Name
    raw: bytes
    version: int
    pushed: float


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def normalize_digest(digest: str) -> str:
    """Accept `sha256:<hex>` and `sha256-<hex>` like Ollama; anything else is a 400."""
    if not _DIGEST.fullmatch(digest):
        raise ApiError(400, "invalid digest format")
    return "sha256:" + digest[7:].lower()


def _require_name(raw: str) -> Name:
    name = parse_name(raw)
    if name is None:
        raise ApiError(400, "invalid model name")
    return name


class State:
    """All models and blobs; every mutation happens under `lock`."""

    def __init__(self, version: str, models_dir: str) -> None:
        self.version = version
        self.models_dir = models_dir
        self.lock = threading.RLock()
        self.blobs: dict[str, bytes] = {}
        self.sizes: dict[str, int] = {}
        self.local_blobs: set[str] = set()
        self.local: dict[str, Local] = {}
        self.upstream: dict[str, Upstream] = {}
        self.loaded: dict[str, int] = {}
        self.pull_speed: float | None = None

    # blobs -------------------------------------------------------------------------------

    def put_blob(self, data: bytes, size: int | None = None, *, local: bool = False) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        with self.lock:
            self.blobs[digest] = data
            self.sizes[digest] = len(data) if size is None else size
            if local:
                self.local_blobs.add(digest)
        return digest

    def has_blob(self, digest: str) -> bool:
        with self.lock:
            return normalize_digest(digest) in self.local_blobs

    def blob(self, digest: str) -> bytes:
        return self.blobs[digest]

    def _layer(self, media_type: str, data: bytes, size: int | None = None) -> dict[str, Any]:
        digest = self.put_blob(data, size)
        return {"mediaType": media_type, "digest": digest, "size": self.sizes[digest]}

    # lookups -----------------------------------------------------------------------------

    def stand_in_file(self, filename: str) -> str:
        """A GGUF file uploaded as a blob (as `ollama create` does before creating)."""
        recipe = catalog.recipe_for(filename)
        data = f"GGUF stand-in file {filename}\n".encode()
        return self.put_blob(data, recipe.weights_size, local=True)

    def find(self, raw: str) -> Local | None:
        name = parse_name(raw)
        with self.lock:
            return None if name is None else self.local.get(name.key)

    def view(self, local: Local) -> ModelView:
        return read_model(local.manifest, self.blob)

    def _write(self, name: Name, raw: bytes) -> set[str]:
        """Store a manifest (keeping an existing name's case); return digests it dropped."""
        old = self.local.get(name.key)
        kept = old.name if old else name
        self.local[name.key] = Local(kept, raw, json.loads(raw), time.time_ns())
        return _digests(old.manifest) - _digests(self.local[name.key].manifest) if old else set()

    def _prune(self, digests: set[str]) -> None:
        if not digests:
            return
        used = set().union(*(_digests(m.manifest) for m in self.local.values()))
        self.local_blobs -= digests - used

    def set_modified(self, raw: str, modified_ns: int) -> None:
        with self.lock:
            local = self.local[_require_name(raw).key]
            local.modified_ns = modified_ns

    # upstream ----------------------------------------------------------------------------

    def publish(self, raw: str) -> None:
        """Push a new version of `raw` to the registry: new weights, maybe a new template."""
        name = _require_name(raw)
        recipe = catalog.recipe_for(name.display)
        with self.lock:
            previous = self.upstream.get(name.key)
            version = previous.version + 1 if previous else 1
            weights = f"GGUF stand-in for {name.display}, build {version}\n".encode()
            layers = [
                self._layer(MODEL, weights, recipe.weights_size + 4096 * (version - 1)),
                self._layer(TEMPLATE, catalog.template_for(recipe, version).encode()),
            ]
            if recipe.license:
                layers.append(self._layer(LICENSE, recipe.license.encode()))
            layers.append(self._layer(PARAMS, go_encode(recipe.params)))
            config = catalog.config_for(recipe)
            raw_manifest = self._manifest(config, layers, trailing_newline=False)
            self.upstream[name.key] = Upstream(name, raw_manifest, version, time.time())

    def _manifest(
        self, config: dict[str, Any], layers: list[dict[str, Any]], *, trailing_newline: bool
    ) -> bytes:
        config = {
            **config,
            "rootfs": {"type": "layers", "diff_ids": [layer["digest"] for layer in layers]},
        }
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": self._layer(CONFIG, go_json(config).encode()),
            "layers": layers,
        }
        return (go_json(manifest) + ("\n" if trailing_newline else "")).encode()

    def registry_manifest(self, namespace: str, model: str, tag: str) -> Upstream | None:
        name = parse_name(f"{namespace}/{model}:{tag}")
        with self.lock:
            return None if name is None else self.upstream.get(name.key)

    # pull --------------------------------------------------------------------------------

    def pull(self, raw: str) -> Iterator[dict[str, Any]]:
        name = _require_name(raw)
        yield {"status": "pulling manifest"}
        with self.lock:
            upstream = self.upstream.get(name.key)
        if upstream is None:
            raise ApiError(500, "pull model manifest: file does not exist")
        manifest = json.loads(upstream.raw)
        for layer in [*manifest["layers"], manifest["config"]]:
            yield from self._download(layer["digest"], layer["size"])
        yield {"status": "verifying sha256 digest"}
        yield {"status": "writing manifest"}
        with self.lock:
            dropped = self._write(name, upstream.raw)
            self._prune(dropped)
        if dropped:
            yield {"status": "removing unused layers"}
        yield {"status": "success"}

    def _download(self, digest: str, size: int) -> Iterator[dict[str, Any]]:
        line = {"status": f"pulling {digest[7:19]}", "digest": digest, "total": size}
        with self.lock:
            present = digest in self.local_blobs
            speed = self.pull_speed
        if present:
            yield {**line, "completed": size}
            return
        yield line
        steps = 1 if size < 1 << 20 else 3
        if speed:
            steps = max(1, min(100, round(size / speed / _PROGRESS_TICK)))
        for step in range(1, steps + 1):
            if speed:
                time.sleep(size / speed / steps)
            yield {**line, "completed": size * step // steps}
        with self.lock:
            self.local_blobs.add(digest)

    # create ------------------------------------------------------------------------------

    def create(self, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """POST /api/create: copy the base's layers, then apply the request's overrides."""
        name = _require_name(request.get("model") or request.get("name") or "")
        source = request.get("from") or ""
        files: dict[str, str] = request.get("files") or {}
        if not source and not files:
            raise ApiError(400, "neither 'from' or 'files' was specified")
        template = request.get("template") or ""
        if template.count("{{") != template.count("}}"):
            raise ApiError(400, "template error: unbalanced action delimiters")
        if source:
            base = yield from self._base(source)
            parent = base.name.display
            layers = [{**layer, "from": parent} for layer in base.manifest["layers"]]
            config = {
                k: v
                for k, v in json.loads(self.blob(base.manifest["config"]["digest"])).items()
                if k != "rootfs"
            }
        else:
            layers = self._file_layers(files, MODEL)
            yield {"status": "parsing GGUF"}
            config = catalog.config_for(catalog.recipe_for(next(iter(files))))
        layers += self._file_layers(request.get("adapters") or {}, ADAPTER)
        statuses = [f"using existing layer {layer['digest']}" for layer in layers]

        def add(media_type: str, data: bytes, replace: bool = True) -> None:
            if replace:
                for i in reversed(range(len(layers))):
                    if layers[i]["mediaType"] == media_type:
                        del layers[i], statuses[i]
            with self.lock:
                existed = "sha256:" + hashlib.sha256(data).hexdigest() in self.local_blobs
                layer = self._layer(media_type, data)
                self.local_blobs.add(layer["digest"])
            layers.append(layer)
            statuses.append(
                f"{'using existing' if existed else 'creating new'} layer {layer['digest']}"
            )

        if template:
            add(TEMPLATE, template.encode())
        if request.get("system"):
            add(SYSTEM, request["system"].encode())
        license_ = request.get("license") or []
        for text in [license_] if isinstance(license_, str) else license_:
            add(LICENSE, text.encode(), replace=False)
        params: dict[str, Any] = {}
        for layer in layers:
            if layer["mediaType"] == PARAMS:
                params.update(json.loads(self.blob(layer["digest"])))
        params.update(request.get("parameters") or {})
        if params:
            add(PARAMS, go_encode(params))
        if messages := request.get("messages"):
            wire = [{"role": m.get("role", ""), "content": m.get("content", "")} for m in messages]
            add(MESSAGES, (go_json(wire) + "\n").encode())
        with self.lock:
            raw = self._manifest(config, layers, trailing_newline=True)
        for status in statuses:
            yield {"status": status}
        yield {"status": "writing manifest"}
        with self.lock:
            self._prune(self._write(name, raw))
        yield {"status": "success"}

    def _base(self, source: str) -> Generator[dict[str, Any], None, Local]:
        """Find `from` locally, pulling it first (inside the create stream) when missing."""
        base_name = _require_name(source)
        with self.lock:
            base = self.local.get(base_name.key)
        if base is None:
            yield from self.pull(source)
            with self.lock:
                base = self.local.get(base_name.key)
            if base is None:
                raise ApiError(500, "pull model manifest: file does not exist")
        return base

    def _file_layers(self, files: dict[str, str], media_type: str) -> list[dict[str, Any]]:
        layers = []
        for filename, digest in files.items():
            if filename.startswith("/") or ".." in filename.split("/"):
                raise ApiError(400, "file path must be relative")
            if not self.has_blob(digest):
                raise ApiError(400, f"blob {digest} not found")
            digest = normalize_digest(digest)
            layers.append(
                {
                    "mediaType": media_type,
                    "digest": digest,
                    "size": self.sizes[digest],
                    "from": filename,
                }
            )
        return layers

    # copy / delete -----------------------------------------------------------------------

    def copy(self, source: str, destination: str) -> None:
        src, dst = parse_name(source), parse_name(destination)
        if src is None:
            raise ApiError(400, f"source {json.dumps(source)} is invalid")
        if dst is None:
            raise ApiError(400, f"destination {json.dumps(destination)} is invalid")
        with self.lock:
            local = self.local.get(src.key)
            if local is None:
                raise ApiError(404, f"model {json.dumps(source)} not found")
            self._prune(self._write(dst, local.raw))

    def delete(self, raw: str) -> None:
        name = parse_name(raw)
        if name is None:
            raise ApiError(400, f"name {json.dumps(raw)} is invalid")
        with self.lock:
            local = self.local.pop(name.key, None)
            if local is None:
                raise ApiError(404, f"model '{raw}' not found")
            self.loaded.pop(name.key, None)
            self._prune(_digests(local.manifest))

    # read-only endpoints -----------------------------------------------------------------

    def tags(self) -> list[dict[str, Any]]:
        with self.lock:
            models = sorted(self.local.values(), key=lambda m: (-m.modified_ns, m.name.key))
        show_parent = version_tuple(self.version) >= (0, 30)
        return [self._entry(m, show_parent) for m in models]

    def _entry(self, local: Local, show_parent: bool) -> dict[str, Any]:
        view = self.view(local)
        return {
            "name": local.name.display,
            "model": local.name.display,
            "modified_at": rfc3339(local.modified_ns),
            "size": _size(local.manifest),
            "digest": local.digest,
            "details": details(view, view.parent if show_parent else ""),
        }

    def show(self, raw: str) -> dict[str, Any]:
        name = _require_name(raw)
        local = self.find(raw)
        if local is None:
            echoed = name.display if version_tuple(self.version) >= (0, 21) else raw
            raise ApiError(404, f"model '{echoed}' not found")
        view = self.view(local)
        response: dict[str, Any] = {
            "license": "\n".join(view.licenses),
            "modelfile": modelfile(local.name.display, view, self.models_dir),
            "parameters": parameters(view),
            "template": view.template,
            "system": view.system,
            "details": details(view, view.parent),
            "messages": view.messages,
            "model_info": model_info(view),
            "capabilities": capabilities(view),
            "modified_at": rfc3339(local.modified_ns),
        }
        return {k: v for k, v in response.items() if v or k in ("details", "model_info")}

    def load(self, local: Local) -> None:
        with self.lock:
            self.loaded[local.name.key] = time.time_ns() + _KEEP_LOADED_NS

    def ps(self) -> list[dict[str, Any]]:
        with self.lock:
            running = [
                (self.local[key], expires)
                for key, expires in self.loaded.items()
                if key in self.local
            ]
        running.sort(key=lambda item: -item[1])
        entries = []
        for local, expires in running:
            view = self.view(local)
            size = _size(local.manifest)
            entries.append(
                {
                    "name": local.name.display,
                    "model": local.name.display,
                    "size": size,
                    "digest": local.digest,
                    "details": details(view, ""),
                    "expires_at": rfc3339(expires),
                    "size_vram": size,
                    "context_length": int(view.params.get("num_ctx", 4096)),
                }
            )
        return entries


def drain(events: Iterator[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run a pull/create to completion, as `stream: false` does."""
    return list(events)


def _digests(manifest: dict[str, Any]) -> set[str]:
    return {manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])}


def _size(manifest: dict[str, Any]) -> int:
    return int(manifest["config"]["size"]) + sum(int(layer["size"]) for layer in manifest["layers"])
