"""Every manifest and blob file in Ollama's models folder, for `disk`.

Sizes come from the manifests (Ollama writes each layer's size there, and it is the blob file's
size), so reading a fleet is one small file per model plus one stat per blob. Whatever is not
what Ollama writes is reported, never guessed at: a manifest that does not parse could name any
blob, so a folder holding one has no provable orphans.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.disk import BlobFile, ModelBlobs
from ..core.names import ModelName
from .models_dir import read_bytes

BLOB_NAME = re.compile(r"sha256-([0-9a-f]{64})")
# A pull writes `<blob>-partial` and `<blob>-partial-<n>` (one per download part) first.
PARTIAL_NAME = re.compile(r"sha256-([0-9a-f]{64})-partial(-\d+)?")


class FolderError(Exception):
    """The folder cannot be read at all (missing, or not listable)."""


@dataclass(frozen=True)
class FolderScan:
    root: Path
    models: tuple[ModelBlobs, ...]
    digests: Mapping[str, str]  # model name -> sha256 of its manifest file, as tags lists it
    blob_files: tuple[BlobFile, ...]
    partial: tuple[BlobFile, ...]
    problems: tuple[str, ...]  # bad input, each a sentence: nothing may be deleted


def scan(root: Path, now: float | None = None) -> FolderScan:
    when = time.time() if now is None else now
    problems: list[str] = []
    models, digests = _manifests(root, problems)
    blobs, partial = _blob_files(root, when, problems)
    return FolderScan(root, tuple(models), digests, tuple(blobs), tuple(partial), tuple(problems))


def free_bytes(root: Path) -> int:
    """Free space for an unprivileged writer (Ollama seldom runs as root)."""
    stat = os.statvfs(root)
    return stat.f_bavail * stat.f_frsize


def not_this_servers(found: FolderScan, listed: Mapping[str, str]) -> list[str]:
    """Why the folder is not the one the server lists from (empty when it is): each listed
    model's manifest must hash to its listed digest (name -> hex), and the folder must hold no
    other."""
    on_disk = {name.lower(): digest for name, digest in found.digests.items()}
    differences = []
    for name, listed_digest in listed.items():
        digest = on_disk.pop(name.lower(), None)
        if digest is None:
            differences.append(f"{name} is listed but has no manifest in {found.root}")
        elif digest != listed_digest:
            differences.append(f"{name}'s manifest in {found.root} is not the listed one")
    differences += [f"{name} is in {found.root} but not listed" for name in sorted(on_disk)]
    return differences


def _manifests(root: Path, problems: list[str]) -> tuple[list[ModelBlobs], dict[str, str]]:
    top = os.path.join(root, "manifests")
    models, digests = [], {}
    try:
        hosts = _listdir(top)
    except OSError as exc:
        raise FolderError(f"cannot read {top}: {exc.strerror}") from None
    for host in hosts:
        for namespace in _dirs(os.path.join(top, host), problems):
            for model in _dirs(os.path.join(top, host, namespace), problems):
                folder = os.path.join(top, host, namespace, model)
                for tag in _dirs(folder, problems):
                    path = os.path.join(folder, tag)
                    name = ModelName(host, namespace, model, tag).shortest()
                    try:
                        raw = read_bytes(path)
                        blobs = _blobs_named(json.loads(raw))
                    except OSError as exc:
                        problems.append(f"cannot read the manifest {path}: {exc.strerror}")
                        continue
                    except (ValueError, KeyError, TypeError, AttributeError):
                        problems.append(_unparsable(path, raw))
                        continue
                    models.append(ModelBlobs(name, blobs))
                    digests[name] = hashlib.sha256(raw).hexdigest()
    return models, digests


def _unparsable(path: str, raw: bytes) -> str:
    if raw:
        return f"the manifest {path} does not parse"
    # What a copy or create leaves when the disk fills up; Ollama's delete then says "EOF".
    return (
        f"the manifest {path} is empty (a copy or create ran out of disk space there);"
        " Ollama cannot delete it: remove the file by hand"
    )


def _blobs_named(manifest: Mapping[str, Any]) -> dict[str, int]:
    blobs = {}
    for layer in [manifest["config"], *manifest["layers"]]:
        digest = str(layer["digest"])
        if not BLOB_NAME.fullmatch(digest.replace(":", "-", 1)):
            raise ValueError(digest)
        blobs[digest] = int(layer["size"])
    return blobs


def _blob_files(
    root: Path, now: float, problems: list[str]
) -> tuple[list[BlobFile], list[BlobFile]]:
    top = os.path.join(root, "blobs")
    blobs: list[BlobFile] = []
    partial: list[BlobFile] = []
    try:
        entries = list(os.scandir(top))
    except FileNotFoundError:
        return [], []  # a server that never pulled has no blobs folder yet
    except OSError as exc:
        raise FolderError(f"cannot read {top}: {exc.strerror}") from None
    for entry in entries:
        whole, part = BLOB_NAME.fullmatch(entry.name), PARTIAL_NAME.fullmatch(entry.name)
        if not whole and not part:
            problems.append(f"{entry.path} is not a blob Ollama writes (its name is no digest)")
            continue
        try:
            stat = entry.stat()
        except OSError as exc:
            problems.append(f"cannot read the blob {entry.path}: {exc.strerror}")
            continue
        if not os.access(entry.path, os.R_OK):
            problems.append(f"cannot read the blob {entry.path}: permission denied")
            continue
        hexdigest = (whole or part).group(1)  # type: ignore[union-attr]
        found = BlobFile(f"sha256:{hexdigest}", stat.st_size, now - stat.st_mtime)
        (blobs if whole else partial).append(found)
    return blobs, partial


def _listdir(path: str) -> list[str]:
    return sorted(os.listdir(path))


def _dirs(path: str, problems: list[str]) -> list[str]:
    try:
        return _listdir(path)
    except NotADirectoryError:
        problems.append(f"{path} is a file where Ollama keeps a folder of manifests")
    except OSError as exc:
        problems.append(f"cannot read {path}: {exc.strerror}")
    return []
