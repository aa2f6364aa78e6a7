"""Free space first: a write the models folder cannot hold is refused before a byte moves.

Ollama fails a pull or a quantizing create only once the disk is full, leaving partial files
behind. When the folder is here and provably the server's (its manifests hash to the listed
digests), what a step will write is compared with the free space first, and the refusal gives
both numbers. A remote server's disk is not ours to measure: then nothing is checked.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from hashlib import sha256
from pathlib import Path

from ..core.disk import human_bytes
from ..core.lineage import Kind, Snapshot
from ..core.names import InvalidModelName
from ..ollama import folder_scan
from ..ollama.models_dir import manifest_path, read_bytes
from .rebuild import Layers, Refused

# A backup writes one manifest; a rebuild's create a config blob, a manifest and its small
# layers (parameters, template, system). With 0 bytes free a real Ollama (0.33) left an empty
# backup manifest that tags skip and `ollama rm` cannot delete, so every rebuild needs this much.
SMALL_WRITES = 1 << 20


class NoSpace(Refused):
    """What a step would write does not fit; nothing was sent."""


class Space:
    def __init__(self, folder: Path | None, listed: Callable[[], Mapping[str, str]]) -> None:
        """``listed``: the server's models and their digests, as the last listing gave them."""
        self.folder = folder
        self._listed = listed

    async def ensure(self, need: int, what: str) -> None:
        folder = await self.local()
        if folder is None or need <= 0:
            return
        free = await asyncio.to_thread(folder_scan.free_bytes, folder)
        if need > free:
            raise NoSpace(
                f"not enough free space for {what}: it writes {human_bytes(need)},"
                f" {folder} has {human_bytes(free)} free; nothing was sent"
            )

    async def before_rebuild(self, name: str, quantize: str | None, size: int) -> None:
        """A backup and a create; quantizing writes a copy of the new base's weights, as big
        as the ``size`` of the model it replaces."""
        if quantize:
            await self.ensure(size + SMALL_WRITES, f"rebuilding {name} (quantized to {quantize})")
        else:
            await self.ensure(SMALL_WRITES, f"rebuilding {name} (a backup and a create)")

    async def empty_manifest_left(self, name: str) -> str | None:
        """After a copy that ran out of space: the empty manifest Ollama left for ``name``,
        removed (it holds nothing), or where it is when it cannot be."""
        folder = await self.local()
        if folder is None:
            return None
        path = manifest_path(folder, name)
        try:
            if os.path.getsize(path) != 0:
                return None
            os.remove(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            return (
                f"Ollama left an empty manifest {path} that it cannot delete:"
                f" remove the file by hand ({exc.strerror})"
            )
        return f"removed the empty manifest Ollama left at {path}"

    async def before_pull(self, name: str, layers: Layers) -> None:
        """A pull writes the registry manifest's layers the server does not have yet."""
        if await self.local() is None:
            return
        wanted = await layers(name)
        if wanted is not None:
            await self.ensure(self.lacking(wanted), f"pulling {name}")

    def lacking(self, blobs: Mapping[str, int]) -> int:
        assert self.folder is not None
        root = os.path.join(self.folder, "blobs")
        return sum(
            size
            for digest, size in blobs.items()
            if not os.path.exists(os.path.join(root, digest.replace(":", "-", 1)))
        )

    async def local(self) -> Path | None:
        folder = self.folder
        if folder is None:
            return None
        return folder if await asyncio.to_thread(_belongs, folder, self._listed()) else None


def listed_digests(snapshot: Snapshot) -> dict[str, str]:
    return {
        n.name: n.facts.digest
        for n in snapshot.nodes.values()
        if n.facts is not None and n.kind is not Kind.MISSING
    }


def _belongs(folder: Path, listed: Mapping[str, str]) -> bool:
    """Every listed model's manifest is in the folder with the listed digest."""
    try:
        for name, digest in listed.items():
            path = manifest_path(folder, name)
            if sha256(read_bytes(path)).hexdigest() != digest:
                return False
    except (OSError, InvalidModelName):
        return False
    return bool(listed)
