"""Reading a model's layers from Ollama's models folder instead of asking ``/api/show``.

On the server itself (the SSH use) the folder is usually readable, and a manifest plus a few
small blobs cost far less than a show that lists every tensor. A manifest is trusted only when
its sha256 is the digest ``/api/tags`` gave: that is the very content Ollama serves, even if
the file changed a moment ago. Anything unexpected returns None and the caller asks HTTP.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..core.modelfile import Message, ParamValue, format_scalar
from ..core.names import InvalidModelName, parse_model_name
from ..core.spec import ModelSpec
from .client import TagEntry

MEDIA = "application/vnd.ollama.image."
# Text layers are small; a bigger one is not what we think it is.
MAX_TEXT_LAYER = 4 * 1024 * 1024


class ModelsDir:
    """Specs from manifest files; every read is checked against the listed digest."""

    def __init__(self, root: Path) -> None:
        self.root = root
        # Plain strings, not Paths: pathlib's joins are slow (tests/benchmarks/README.md).
        self._root = os.fspath(root)
        self._blobs = os.path.join(root, "blobs")

    async def specs(self, entries: Sequence[TagEntry]) -> dict[str, ModelSpec]:
        """The specs the folder has for these entries, by digest, read in one worker thread."""
        if not entries:
            return {}
        return await asyncio.to_thread(self._read_all, entries)

    def _read_all(self, entries: Sequence[TagEntry]) -> dict[str, ModelSpec]:
        found = {}
        for entry in entries:
            spec = self.read(entry.name, entry.digest)
            if spec is not None:
                found[entry.digest] = spec
        return found

    def read(self, name: str, digest: str) -> ModelSpec | None:
        manifest = self.manifest(name, digest)  # None: changed since, or another server's
        if manifest is None:
            return None
        try:
            return self._spec(manifest)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def manifest(self, name: str, digest: str) -> dict[str, Any] | None:
        """``name``'s manifest, if the folder's file is the one the server listed as ``digest``."""
        try:
            raw = read_bytes(manifest_path(self._root, name))
            if hashlib.sha256(raw).hexdigest() != digest:
                return None
            manifest = json.loads(raw)
        except (OSError, ValueError, InvalidModelName):
            return None
        return manifest if isinstance(manifest, dict) else None

    def blob_path(self, digest: str) -> str:
        return os.path.join(self._blobs, digest.replace(":", "-"))

    def config(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        config = json.loads(self._blob(manifest["config"]["digest"]))
        return config if isinstance(config, dict) else {}

    def text(self, layer: Mapping[str, Any]) -> str:
        """A small text layer (template, system, license, params, messages)."""
        return self._text(layer)

    def _text(self, layer: Mapping[str, Any]) -> str:
        if int(layer.get("size") or 0) > MAX_TEXT_LAYER:
            raise ValueError("text layer too big")
        return self._shared_text(str(layer["digest"]))

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one ModelsDir lives as long as the app
    def _shared_text(self, digest: str) -> str:
        """Blobs are named by their content, so a license or template that a fleet shares is
        read once."""
        return self._blob(digest).decode("utf-8")

    def _blob(self, digest: str) -> bytes:
        return read_bytes(os.path.join(self._blobs, digest.replace(":", "-")))

    def _spec(self, manifest: Mapping[str, Any]) -> ModelSpec:
        config = json.loads(self._blob(manifest["config"]["digest"]))
        weights, parent, adapters = None, "", []
        template, system = "{{ .Prompt }}", None  # Ollama's default when there is no layer
        parameters: dict[str, ParamValue] = {}
        licenses, messages = [], []
        for layer in manifest["layers"]:
            kind = str(layer["mediaType"]).removeprefix(MEDIA)
            if kind == "model" and weights is None:
                weights = str(layer["digest"]).removeprefix("sha256:")
                parent = str(layer.get("from") or "")
            elif kind == "adapter":
                adapters.append(str(layer["digest"]))
            elif kind == "template":
                template = self._text(layer)
            elif kind == "system":
                system = self._text(layer) or None
            elif kind == "license":
                licenses.append(self._text(layer))
            elif kind == "params":
                parameters.update(_parameters(json.loads(self._text(layer))))
            elif kind == "messages":
                messages += [
                    Message(str(m.get("role", "")), str(m.get("content", "")))
                    for m in json.loads(self._text(layer))
                ]
        quantization = str(config.get("file_type") or "")
        return ModelSpec(
            weights=weights,
            adapters=tuple(adapters),
            template=template or None,
            system=system,
            parameters=parameters,
            licenses=tuple(licenses),
            messages=tuple(messages),
            renderer=config.get("renderer") or None,
            parser=config.get("parser") or None,
            requires=config.get("requires") or None,
            quantization="" if quantization == "unknown" else quantization,
            parent_model=parent,
        )


def manifest_path(root: str | os.PathLike[str], name: str) -> str:
    """Where Ollama keeps ``name``'s manifest under its models folder ``root``."""
    return os.path.join(root, "manifests", parse_model_name(name).manifest_file())


def read_bytes(path: str) -> bytes:
    """A whole file with bare system calls: a cold start reads thousands of small files, and
    Python's buffered file object costs more per file (tests/benchmarks/README.md)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _parameters(values: Mapping[str, Any]) -> dict[str, ParamValue]:
    """The params blob is JSON; lists (stop) hold strings, as the show's parsing gives."""
    return {
        key: [format_scalar(v) for v in value] if isinstance(value, list) else value
        for key, value in values.items()
    }
