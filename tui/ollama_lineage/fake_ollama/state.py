"""In-memory Ollama: content-addressed blobs, local manifests and an upstream registry.

Every model is a manifest of layers whose digests are sha256 of their bytes, so a digest
changes exactly when content changes. Pull and create return iterators of the progress
objects Ollama streams; they raise ApiError for the `{"error": ...}` cases: before the
iterator exists for what Ollama rejects before streaming, from inside it otherwise.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from . import catalog, gguf
from .errors import ApiError
from .gofmt import go_encode, go_json, rfc3339
from .gotemplate import check_template
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
from .names import DEFAULT_HOST, Name, parse_name
from .show import (
    ModelView,
    capabilities,
    details,
    listed_details,
    modelfile,
    native_chat_template,
    parameters,
    read_model,
)

_DIGEST = re.compile(r"sha256[:-][0-9a-fA-F]{64}")
_PROGRESS_TICK = 0.1  # seconds between pull progress lines when a pull speed is set
_PROGRESS_MIN = 1 << 20  # bytes: smaller layers are rewritten without progress lines
_KEEP_LOADED_NS = 5 * 60 * 1_000_000_000
RESOLVER = "127.0.0.53:53"  # what an offline Linux box names in its DNS errors
_CLOUD_TAG = re.compile(r"(.*-)?cloud")
# What a full disk makes llama-quantize's failure say: quantizing, or validating an import.
_QUANTIZE_FAILED = {
    False: "llama-quantize failed: exit status 1",
    True: "failed to validate GGUF with llama-quantize without compatibility patches:"
    " llama-quantize failed: exit status 1",
}
_DAMAGE = {"missing": "", "corrupt": "invalid file magic", "truncated": "EOF"}  # ggml.Decode


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


_FIELDS_SINCE = {"renderer": (0, 12), "parser": (0, 12), "requires": (0, 14)}


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


def _valid_path(path: str) -> bool:
    """io/fs.ValidPath: relative, slash-separated, no empty, "." or ".." elements."""
    return path == "." or all(part not in ("", ".", "..") for part in path.split("/"))


def is_cloud(name: Name) -> bool:
    """`-cloud` / `:cloud` tags name models that live on ollama.com (internal/modelref)."""
    return _CLOUD_TAG.fullmatch(name.tag.lower()) is not None


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
        self.headers: dict[str, gguf.GGUF | None] = {}
        self.damaged: dict[str, str] = {}  # weights digest -> what decoding it says
        self.pull_speed: float | None = None
        self.cut_generate: set[Any] = set()  # name keys whose answers end without `done`
        self.verify_seconds = 0.0
        self.offline = False
        self.cloud_status = 502
        self.disk: Path | None = None
        self.disk_free: int | None = None  # bytes the models folder can still take (None: ∞)
        self.disk_free_on_create: int | None = None  # disk_free from the next create's start
        self.emptied: set[Any] = set()  # name keys whose manifest a full disk left empty

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

    def header(self, digest: str) -> gguf.GGUF | None:
        """The blob's GGUF header, parsed once (None when the blob is not a GGUF)."""
        with self.lock:
            if digest not in self.headers:
                try:
                    self.headers[digest] = gguf.read(self.blobs[digest])
                except (gguf.GGUFError, KeyError):
                    self.headers[digest] = None
            return self.headers[digest]

    def _layer(self, media_type: str, data: bytes, size: int | None = None) -> dict[str, Any]:
        digest = self.put_blob(data, size)
        return {"mediaType": media_type, "digest": digest, "size": self.sizes[digest]}

    def _weights(self, data: bytes, size: int, header: gguf.GGUF) -> dict[str, Any]:
        layer = self._layer(MODEL, data, size)
        with self.lock:
            self.headers[layer["digest"]] = header
        return layer

    def _fits(self, size: int) -> bool:
        return self.disk_free is None or size <= self.disk_free

    def _use_disk(self, size: int, path: str, error: str = "") -> None:
        """Take ``size`` bytes of the folder's free space, or fail as a full disk does (as
        recorded on a real 0.33 whose models folder was a full tmpfs): ``error`` is what
        Ollama says then, by default the write of the file in progress."""
        with self.lock:
            if self.disk_free is None:
                return
            if size > self.disk_free:
                raise ApiError(500, error or f"write {path}: no space left on device")
            self.disk_free -= size

    def upload(self, data: bytes) -> None:
        """POST /api/blobs: the body is written to a temporary file first, so on a full disk
        the upload fails and nothing is kept (as recorded on a real 0.33)."""
        self._use_disk(len(data), f"{self.models_dir}/blobs/sha256-{zlib.crc32(data)}")
        self.put_blob(data, local=True)

    def _path(self, digest: str) -> str:
        return f"{self.models_dir}/blobs/{digest.replace(':', '-')}"

    # lookups -----------------------------------------------------------------------------

    def stand_in_file(self, filename: str, *, adapter: bool = False, vision: bool = False) -> str:
        """A GGUF file (header only) uploaded as a blob, as `ollama create` does first.

        A `vision` file carries its vision encoder's tensors: Ollama 0.33 then keeps the
        file as it is (and its name as parent_model) instead of rewriting it."""
        recipe = catalog.recipe_for(filename)
        header = catalog.adapter_header(recipe) if adapter else catalog.header_for(recipe)
        kv = {"general.name": filename, **header.kv}
        tensors = header.tensors
        if vision:
            kv[f"{recipe.family}.vision.block_count"] = 1
            tensors = [*tensors, *catalog.VISION_TENSORS]
        data = gguf.write(kv, tensors)
        size = len(data) if adapter else recipe.weights_size
        digest = self.put_blob(data, size, local=True)
        with self.lock:
            self.headers[digest] = gguf.GGUF(kv, tensors)
        return digest

    def find(self, raw: str) -> Local | None:
        """Lookups canonicalise the case of each name part first (getExistingName)."""
        name = parse_name(raw)
        with self.lock:
            return None if name is None else self.local.get(self._existing(name).key)

    def _existing(self, name: Name) -> Name:
        """getExistingName: each part takes the case of an existing manifest's part."""
        exact = self.local.get(name.key)
        if exact is not None and exact.name == name:
            return name  # the common case, without a scan of every model (10,000 in a fleet)
        parts = {}
        for field in ("host", "namespace", "model", "tag"):
            want = getattr(name, field)
            parts[field] = next(
                (
                    getattr(local.name, field)
                    for local in self.local.values()
                    if getattr(local.name, field).lower() == want.lower()
                ),
                want,
            )
        return Name(**parts)

    def _exact(self, name: Name) -> Local | None:
        """A manifest file looked up on a case-sensitive (Linux) filesystem."""
        local = self.local.get(name.key)
        return local if local is not None and local.name == name else None

    def view(self, local: Local) -> ModelView:
        return read_model(local.manifest, self.blob, self.header)

    def _write(self, name: Name, raw: bytes, how: str = "") -> set[str]:
        """Store a manifest (keeping an existing name's case); return digests it dropped.

        The file is created (truncated) before it is written, as WriteManifest and copy do:
        on a full disk the name is left with an empty manifest, which tags skip and show and
        delete answer "EOF" to. ``how``: the failing call, as Ollama names it."""
        old = self.local.get(name.key)
        kept = old.name if old else name
        if old is not None and self.disk_free is not None:
            self.disk_free += len(old.raw)  # truncated first: its bytes are free again
        if not self._fits(len(raw)):
            self.local.pop(name.key, None)
            self.emptied.add(name.key)
            if self.disk is not None:
                path = self.manifest_path(kept)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(b"")
        path_text = str(self.manifest_path(kept))
        self._use_disk(len(raw), path_text, f"write {path_text}: {how}no space left on device")
        self.emptied.discard(name.key)
        local = Local(kept, raw, json.loads(raw), time.time_ns())
        self.local[name.key] = local
        self._sync_disk(local)
        return _digests(old.manifest) - _digests(local.manifest) if old else set()

    def _prune(self, digests: set[str]) -> None:
        if not digests:
            return
        used = set().union(*(_digests(m.manifest) for m in self.local.values()))
        self.local_blobs -= digests - used
        if self.disk is not None:  # Ollama deletes the blobs no manifest names any more
            for digest in digests - used:
                (self.disk / "blobs" / digest.replace(":", "-")).unlink(missing_ok=True)

    def set_modified(self, raw: str, modified_ns: int) -> None:
        with self.lock:
            local = self.local[_require_name(raw).key]
            local.modified_ns = modified_ns
            self._sync_disk(local)

    # manifests on disk -------------------------------------------------------------------

    def lay_out_on_disk(self) -> None:
        """From now on keep `<models_dir>/manifests/...` and the small blobs as Ollama does."""
        with self.lock:
            self.disk = Path(self.models_dir)
            for local in self.local.values():
                self._sync_disk(local)

    def manifest_path(self, name: Name) -> Path:
        return Path(self.models_dir, "manifests", name.host, name.namespace, name.model, name.tag)

    def _sync_disk(self, local: Local) -> None:
        if self.disk is None:
            return
        path = self.manifest_path(local.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(local.raw)
        os.utime(path, ns=(local.modified_ns, local.modified_ns))
        # The config and every small layer (template, params, license, …) as they are, and
        # weights whose bytes are all here (an uploaded GGUF); stand-in weights as sparse
        # files of their listed size: a reader of the folder never needs their bytes, and
        # they can be gigabytes.
        for layer in [local.manifest["config"], *local.manifest["layers"]]:
            digest = layer["digest"]
            blob = self.disk / "blobs" / digest.replace(":", "-")
            if blob.exists() or digest not in self.blobs:
                continue
            blob.parent.mkdir(parents=True, exist_ok=True)
            if self.sizes[digest] != len(self.blobs[digest]):
                with blob.open("wb") as file:
                    file.truncate(self.sizes[digest])
            else:
                blob.write_bytes(self.blobs[digest])

    def _remove_from_disk(self, name: Name) -> None:
        if self.disk is None:
            return
        path = self.manifest_path(name)
        path.unlink(missing_ok=True)
        root = self.disk / "manifests"
        for parent in path.parents:
            if parent == root or any(parent.iterdir()):
                break
            parent.rmdir()  # PruneDirectory: no empty folders left behind

    # upstream ----------------------------------------------------------------------------

    def publish(
        self,
        raw: str,
        *,
        publisher_from: str = "",
        chat_template: str = "",
        size: int = 0,
        weights_of: str = "",
    ) -> None:
        """Push a new version of `raw` to the registry: new weights, maybe a new template.

        `publisher_from` is the `from` a publisher's own build left on the layers (pull
        keeps it, so it becomes the pulled model's parent_model); `chat_template` puts a
        Jinja template in the weights' GGUF header; `weights_of` names a local model whose
        weights blob it ships (a publisher's build of that base keeps its weights)."""
        name = _require_name(raw)
        recipe = catalog.recipe_for(name.display)
        header = catalog.header_for(recipe)
        if chat_template:
            header = replace(header, kv={**header.kv, "tokenizer.chat_template": chat_template})
        with self.lock:
            previous = self.upstream.get(name.key)
            version = previous.version + 1 if previous else 1
            weights = f"GGUF stand-in for {name.display}, build {version}\n".encode()
            source = self.find(weights_of) if weights_of else None
            if source is not None:
                layer = next(x for x in source.manifest["layers"] if x["mediaType"] == MODEL)
                model = {k: v for k, v in layer.items() if k != "from"}
            else:
                model = self._weights(
                    weights, size or recipe.weights_size + 4096 * (version - 1), header
                )
            if publisher_from:
                model["from"] = publisher_from
            layers = [model, self._layer(TEMPLATE, catalog.template_for(recipe, version).encode())]
            if recipe.license:
                layers.append(self._layer(LICENSE, recipe.license.encode()))
            layers.append(self._layer(PARAMS, go_encode(recipe.params)))
            config = {
                **catalog.config_for(recipe),
                "rootfs": {"type": "layers", "diff_ids": [layer["digest"] for layer in layers]},
            }
            raw_manifest = self._manifest(config, layers, trailing_newline=False)
            self.upstream[name.key] = Upstream(name, raw_manifest, version, time.time())

    def _manifest(
        self, config: dict[str, Any], layers: list[dict[str, Any]], *, trailing_newline: bool
    ) -> bytes:
        """The manifest and config bytes: a registry's as served, or as this server's
        json.Encoder writes them (each with a trailing newline)."""
        end = "\n" if trailing_newline else ""
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": self._layer(CONFIG, (go_json(config) + end).encode()),
            "layers": layers,
        }
        return (go_json(manifest) + end).encode()

    def registry_manifest(self, namespace: str, model: str, tag: str) -> Upstream | None:
        name = parse_name(f"{namespace}/{model}:{tag}")
        with self.lock:
            return None if name is None else self.upstream.get(name.key)

    # pull --------------------------------------------------------------------------------

    def pull(self, raw: str) -> Iterator[dict[str, Any]]:
        name = self._existing(_require_name(raw))
        return self._pull(name)

    def _pull(self, name: Name) -> Iterator[dict[str, Any]]:
        yield {"status": "pulling manifest"}
        if self.offline and name.host == DEFAULT_HOST:
            url = f"https://{name.host}/v2/{name.namespace}/{name.model}/manifests/{name.tag}"
            raise ApiError(
                500,
                f'pull model manifest: Get "{url}": dial tcp: lookup {name.host} '
                f"on {RESOLVER}: no such host",
            )
        with self.lock:
            upstream = self.upstream.get(name.key)
        if upstream is None:
            raise ApiError(500, "pull model manifest: file does not exist")
        manifest = json.loads(upstream.raw)
        for layer in [*manifest["layers"], manifest["config"]]:
            yield from self._download(layer["digest"], layer["size"])
        yield {"status": "verifying sha256 digest"}
        if self.verify_seconds:
            time.sleep(self.verify_seconds)  # hashing tens of GB says nothing meanwhile
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
        self._use_disk(size, self._path(digest) + "-partial")
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
        """POST /api/create: CreateHandler's checks now, then createModel as a stream."""
        files: dict[str, str] = request.get("files") or {}
        for path, digest in files.items():
            if not _valid_path(path):
                raise ApiError(400, "file path must be relative")
            if not digest:
                raise ApiError(400, "invalid digest format")
        adapters: dict[str, str] = request.get("adapters") or {}
        if any(not digest for digest in adapters.values()):
            raise ApiError(400, "invalid digest format")
        name = _require_name(request.get("model") or request.get("name") or "")
        with self.lock:
            name = self._existing(name)
            if self.disk_free_on_create is not None:
                self.disk_free, self.disk_free_on_create = self.disk_free_on_create, None
        return self._create(name, request, files, adapters)

    def _create(
        self,
        name: Name,
        request: dict[str, Any],
        files: dict[str, str],
        adapters: dict[str, str],
    ) -> Iterator[dict[str, Any]]:
        # An older server decodes the request into a struct without these fields, so it
        # silently drops them (renderer/parser arrived in v0.12, requires in v0.14).
        version = version_tuple(self.version)
        config: dict[str, Any] = {
            key: (request.get(key) or "") if version >= since else ""
            for key, since in _FIELDS_SINCE.items()
        }
        if source := request.get("from") or "":
            base = yield from self._base(source)
            parent = base.name.display
            layers = [{**layer, "from": parent} for layer in base.manifest["layers"]]
            statuses = [f"using existing layer {layer['digest']}" for layer in layers]
            base_config = json.loads(self.blob(base.manifest["config"]["digest"]))
            for key in ("renderer", "parser", "requires", "model_format", "capabilities"):
                config[key] = config.get(key) or base_config.get(key) or ""
        elif files:
            layers = yield from self._file_layers(files, adapter=False)
            statuses = [f"using existing layer {layer['digest']}" for layer in layers]
        else:
            raise ApiError(400, "neither 'from' or 'files' was specified")
        if adapters:
            more = yield from self._file_layers(adapters, adapter=True)
            layers += more
            statuses += [f"using existing layer {layer['digest']}" for layer in more]

        quantize = str(request.get("quantize") or request.get("quantization") or "").upper()
        from_files = {layer["digest"] for layer in layers} if files and not source else set()
        for i, layer in enumerate(layers):
            header = self.header(layer["digest"]) if layer["mediaType"] == MODEL else None
            if header is None:
                continue
            rewritten = False
            if quantize:
                file_type = _quantize_to(quantize, header)
                if file_type is not None:
                    layers[i], statuses[i] = yield from self._rewrite(layer, header, file_type)
                    rewritten = True
            if (
                not rewritten
                and layer["digest"] in from_files
                and version_tuple(self.version) >= (0, 33)
                and not gguf.has_compat_tensors(header)
            ):  # llama-quantize copies (validates) an imported GGUF into a new blob
                layers[i], statuses[i] = yield from self._rewrite(layer, header, None)
            header = self.header(layers[i]["digest"])
            assert header is not None
            config["model_format"] = config.get("model_format") or "gguf"
            config["model_family"] = header.architecture
            config["model_type"] = gguf.human_number(header.parameter_count)
            config["file_type"] = header.file_type
            config["model_families"] = [header.architecture]

        def add(media_type: str, data: bytes, replace: bool = True) -> None:
            if replace:
                for i in reversed(range(len(layers))):
                    if layers[i]["mediaType"] == media_type:
                        del layers[i], statuses[i]
            with self.lock:
                existed = "sha256:" + hashlib.sha256(data).hexdigest() in self.local_blobs
                if not existed:
                    # NewLayer writes a temporary file first (os.CreateTemp "sha256-")
                    temp = f"{self.models_dir}/blobs/sha256-{zlib.crc32(data)}"
                    self._use_disk(len(data), temp)
                layer = self._layer(media_type, data)
                self.local_blobs.add(layer["digest"])
            layers.append(layer)
            statuses.append(
                f"{'using existing' if existed else 'creating new'} layer {layer['digest']}"
            )

        if template := request.get("template") or "":
            check_template(template)
            add(TEMPLATE, template.encode())
        if request.get("system"):
            add(SYSTEM, request["system"].encode())
        license_ = request.get("license") or []
        for text in [license_] if isinstance(license_, str) else license_:
            add(LICENSE, text.encode(), replace=False)
        params = dict(request.get("parameters") or {})
        for layer in layers:
            if layer["mediaType"] == PARAMS:
                for key, value in json.loads(self.blob(layer["digest"])).items():
                    params.setdefault(key, value)
        if params:
            add(PARAMS, go_encode(params))
        if messages := request.get("messages"):
            wire = [{"role": m.get("role", ""), "content": m.get("content", "")} for m in messages]
            add(MESSAGES, (go_json(wire) + "\n").encode())
        with self.lock:
            raw = self._manifest(_config_v2(config), layers, trailing_newline=True)
            self.local_blobs.add(json.loads(raw)["config"]["digest"])
        for status in statuses:
            yield {"status": status}
        yield {"status": "writing manifest"}
        with self.lock:
            self._prune(self._write(name, raw))
        yield {"status": "success"}

    def _base(self, source: str) -> Generator[dict[str, Any], None, Local]:
        """parseFromModel: the manifest as spelled (case-sensitive, like a Linux filesystem),
        else pull it first, inside the create stream."""
        base_name = parse_name(source)
        if base_name is None:
            raise ApiError(400, "invalid model name")
        with self.lock:
            base = self._exact(base_name)
        if base is None:
            yield from self._pull(base_name)
            with self.lock:
                base = self._exact(base_name)
            if base is None:
                raise ApiError(500, "pull model manifest: file does not exist")
        return base

    def _file_layers(
        self, files: dict[str, str], *, adapter: bool
    ) -> Generator[dict[str, Any], None, list[dict[str, Any]]]:
        """convertModelFromFiles for GGUF: each file parsed, its kind read from its header."""
        if not any(path.endswith(".gguf") for path in files) and not all(
            self.blobs.get(normalize_digest(d), b"")[:4] == gguf.MAGIC for d in files.values()
        ):
            raise ApiError(400, "unknown type")
        if adapter and len(files) > 1:
            raise ApiError(400, "only one adapter is currently supported")
        layers = []
        for path in sorted(files):
            yield {"status": "parsing GGUF"}
            digest = normalize_digest(files[path])
            if digest not in self.local_blobs:
                raise ApiError(500, f"open {self._path(digest)}: no such file or directory")
            if self.blobs[digest][:4] != gguf.MAGIC:
                raise ApiError(400, "supplied file was not in GGUF format")
            header = self.header(digest)
            if header is None:
                raise ApiError(500, "unexpected EOF")
            kind = ADAPTER if header.is_adapter else MODEL
            layers.append(
                {"mediaType": kind, "digest": digest, "size": self.sizes[digest], "from": path}
            )
        return layers

    def _rewrite(
        self, layer: dict[str, Any], header: gguf.GGUF, file_type: int | None
    ) -> Generator[dict[str, Any], None, tuple[dict[str, Any], str]]:
        """rewriteLayerWithLlamaQuantize: a new weights blob with no `from` (so no
        parent_model); quantized to `file_type`, or a validated copy when it is None."""
        size = layer["size"]
        # llama-quantize opens its output first: a full disk fails it before any progress.
        needed = size if file_type is None else int(size * gguf.BITS[file_type] / _bits(header))
        if not self._fits(needed):
            raise ApiError(500, _QUANTIZE_FAILED[file_type is None])
        if size >= _PROGRESS_MIN:  # llama-quantize reports nothing for a tiny file
            status = (
                "validating GGUF model"
                if file_type is None
                else f"quantizing {header.file_type} model to {gguf.FILE_TYPES[file_type]}"
            )
            line = {"status": status, "digest": "0000000000000000000", "total": size}
            for step in range(1, 4):
                yield {**line, "completed": size * step // 3}
        yield {"status": "verifying conversion"}
        new_header = gguf.rewritten(header, file_type)
        # header-only, plus the source's hash standing in for its tensor data
        blob = self.blobs[layer["digest"]]
        if file_type is None and gguf.is_quantize_output(header):
            data = blob  # a copy of llama-quantize's own copy: the same bytes (seen on 0.33)
        else:
            data = gguf.write(new_header.kv, new_header.tensors) + hashlib.sha256(blob).digest()
        real = len(blob) == size  # else a stand-in with a declared size
        if real:
            new_size = len(data)
        elif file_type is None:
            new_size = size
        else:
            new_size = int(size * gguf.BITS[file_type] / _bits(header))
        with self.lock:
            existed = "sha256:" + hashlib.sha256(data).hexdigest() in self.local_blobs
            if not existed:
                self._use_disk(new_size, "", _QUANTIZE_FAILED[file_type is None])
            new = self._weights(data, new_size, gguf.read(data) if real else new_header)
            self.local_blobs.add(new["digest"])
        return new, f"{'using existing' if existed else 'creating new'} layer {new['digest']}"

    # copy / delete -----------------------------------------------------------------------

    def copy(self, source: str, destination: str) -> None:
        src, dst = parse_name(source), parse_name(destination)
        if src is None:
            raise ApiError(400, f"source {json.dumps(source)} is invalid")
        if dst is None:
            raise ApiError(400, f"destination {json.dumps(destination)} is invalid")
        with self.lock:
            local = self.local.get(self._existing(src).key)
            if local is None:
                raise ApiError(404, f"model {json.dumps(source)} not found")
            self._prune(self._write(self._existing(dst), local.raw, "copy_file_range: "))

    def delete(self, raw: str) -> None:
        name = parse_name(raw)
        if name is None:
            raise ApiError(400, f"name {json.dumps(raw)} is invalid")
        with self.lock:
            if name.key in self.emptied:
                raise ApiError(500, "EOF")  # its manifest is an empty file
            local = self.local.pop(self._existing(name).key, None)
            if local is None:
                raise ApiError(404, f"model '{raw}' not found")
            self.loaded.pop(local.name.key, None)
            self._remove_from_disk(local.name)
            self._prune(_digests(local.manifest))

    # cloud models and broken blobs -------------------------------------------------------

    def add_cloud(self, raw: str, remote_model: str, remote_host: str) -> None:
        """A cloud model's stub, as `ollama pull gpt-oss:120b-cloud` writes it."""
        name = _require_name(raw)
        recipe = catalog.recipe_for(remote_model)
        config = _config_v2(
            {
                "model_family": recipe.family,
                "model_families": [recipe.family],
                "model_type": recipe.parameter_size,
                "file_type": recipe.quantization,
                "remote_host": remote_host,
                "remote_model": remote_model,
                "context_length": recipe.arch.context,
                "embedding_length": recipe.arch.embed,
            }
        )
        with self.lock:
            raw_manifest = self._manifest(config, [], trailing_newline=True)
            self.local_blobs.add(json.loads(raw_manifest)["config"]["digest"])
            self._write(name, raw_manifest)

    def damage_blob(self, raw: str, media_type: str = MODEL, how: str = "missing") -> str:
        """Damage one of a model's blobs on "disk": `missing` (a half-done prune, a disk
        cleaner), `corrupt` (not a GGUF any more) or `truncated`. Returns its digest."""
        if how not in _DAMAGE:
            raise ValueError(f"how must be one of {sorted(_DAMAGE)}")
        with self.lock:
            local = self.local[self._existing(_require_name(raw)).key]
            digest: str = next(
                layer["digest"]
                for layer in local.manifest["layers"]
                if layer["mediaType"] == media_type
            )
            if how == "missing":
                self.local_blobs.discard(digest)
            else:
                self.damaged[digest] = _DAMAGE[how]
            return digest

    # read-only endpoints -----------------------------------------------------------------

    def tags(self) -> list[dict[str, Any]]:
        with self.lock:
            models = sorted(self.local.values(), key=lambda m: (-m.modified_ns, m.name.key))
        show_parent = version_tuple(self.version) >= (0, 30)
        return [self._entry(m, show_parent) for m in models]

    def _entry(self, local: Local, show_parent: bool) -> dict[str, Any]:
        view = self.view(local)
        if view.weights and view.weights not in self.local_blobs:
            view.header = None  # the tags scan cannot open the file either
        entry: dict[str, Any] = {"name": local.name.display, "model": local.name.display}
        if remote := view.config.get("remote_host"):
            entry |= {"remote_model": view.config.get("remote_model", ""), "remote_host": remote}
        entry |= {
            "modified_at": rfc3339(local.modified_ns),
            "size": _size(local.manifest),
            "digest": local.digest,
            "details": listed_details(view, view.parent if show_parent else ""),
        }
        caps = capabilities(view) if view.weights else view.config.get("capabilities")
        if caps:
            entry["capabilities"] = caps
        return entry

    def show(self, raw: str, verbose: bool = False) -> dict[str, Any]:
        name = _require_name(raw)
        if is_cloud(name):
            if self.cloud_status == 403:
                raise ApiError(
                    403, "ollama cloud is disabled: remote model details are unavailable"
                )
            raise ApiError(
                502,
                'Post "https://ollama.com:443/api/show": dial tcp: '
                f"lookup ollama.com on {RESOLVER}: no such host",
            )
        local = self.find(raw)
        if local is None and name.key in self.emptied:
            raise ApiError(500, "EOF")  # its manifest is an empty file
        if local is None:
            echoed = self._existing(name).display if version_tuple(self.version) >= (0, 21) else raw
            raise ApiError(404, f"model '{echoed}' not found")
        view = self.view(local)
        missing = {d for d in _digests(local.manifest) if d not in self.local_blobs}
        if missing:  # GetModel and LoadModel fail with ENOENT, which show reports as 404
            raise ApiError(404, f"model '{local.name.display}' not found")
        if view.weights in self.damaged:
            raise ApiError(500, self.damaged[view.weights])
        header = view.header
        response: dict[str, Any] = {
            "license": "\n".join(view.licenses),
            "modelfile": modelfile(local.name.display, view, self.models_dir),
            "parameters": parameters(view),
            "template": native_chat_template(view) or view.template,
            "system": view.system,
            "details": details(view, view.parent),
            "messages": view.messages,
            "model_info": header.model_info(verbose) if header else {},
            "tensors": header.tensors if header else [],
            "capabilities": capabilities(view),
            "modified_at": rfc3339(local.modified_ns),
            "requires": view.config.get("requires", ""),
        }
        return {k: v for k, v in response.items() if v or k in ("details", "model_info")}

    def show_body(self, raw: str, verbose: bool = False) -> bytes:
        """The encoded show, with the shared tensor list spliced in already encoded: encoding
        it for every request made the stand-in, not the app, the bottleneck of a cold start."""
        response = self.show(raw, verbose)
        tensors = response.pop("tensors", None)
        if not tensors:
            return go_json(response).encode()
        local = self.find(raw)
        header = self.view(local).header if local else None
        encoded = header.tensors_json if header is not None else go_json(tensors)
        tail = {
            k: response.pop(k) for k in ("capabilities", "modified_at", "requires") if k in response
        }
        head, rest = go_json(response), go_json(tail)
        return f'{head[:-1]},"tensors":{encoded}{"," + rest[1:] if tail else "}"}'.encode()

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
                    "context_length": _runner_context(view),
                }
            )
        return entries


def _quantize_to(want: str, header: gguf.GGUF) -> int | None:
    """createModel's checks: the target file type, or None when it already is that type."""
    if want not in gguf.QUANTIZE:
        supported = "F32, F16, Q4_K_S, Q4_K_M, Q8_0"
        raise ApiError(
            500, f"unsupported quantization type {want} - supported types are {supported}"
        )
    if header.file_type not in ("F16", "BF16", "F32"):
        raise ApiError(500, "quantization is only supported for F16, BF16 and F32 models")
    file_type = gguf.QUANTIZE[want]
    return None if header.file_type == gguf.FILE_TYPES[file_type] else file_type


def _runner_context(view: ModelView) -> int:
    """num_ctx (4096 by default), cut to what the model was trained for, as the runner does."""
    wanted = view.params.get("num_ctx", 4096)
    wanted = int(wanted) if isinstance(wanted, (int, float)) else 4096
    trained = view.header.arch_value("context_length") if view.header else None
    return min(wanted, int(trained)) if trained else wanted


def _bits(header: gguf.GGUF) -> float:
    return gguf.BITS.get(int(header.kv.get("general.file_type", 15)), 4.85)


def drain(events: Iterator[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run a pull/create to completion, as `stream: false` does."""
    return list(events)


_CONFIG_FIELDS = (
    "model_format",
    "model_family",
    "model_families",
    "model_type",
    "file_type",
    "renderer",
    "parser",
    "requires",
    "remote_host",
    "remote_model",
    "capabilities",
    "context_length",
    "embedding_length",
    "base_name",
)
_ALWAYS = ("model_format", "model_family", "model_families", "model_type", "file_type")


def _config_v2(values: dict[str, Any]) -> dict[str, Any]:
    """model.ConfigV2 in field order, omitempty fields dropped when empty."""
    config = {
        key: values.get(key) or ("" if key != "model_families" else None)
        for key in _CONFIG_FIELDS
        if key in _ALWAYS or values.get(key)
    }
    return {**config, "architecture": "amd64", "os": "linux"}


def _digests(manifest: dict[str, Any]) -> set[str]:
    return {manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])}


def _size(manifest: dict[str, Any]) -> int:
    return int(manifest["config"]["size"]) + sum(int(layer["size"]) for layer in manifest["layers"])
