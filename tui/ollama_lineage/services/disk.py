"""What the models take on disk, and deleting orphans without ever touching a named blob.

The folder is trusted only when it is provably the listed server's (every manifest hashes to
its listed digest, as the models-folder read checks); otherwise `disk` falls back to what
`/api/tags` and the shows say, and prune refuses.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

from ..core.disk import (
    BlobFile,
    DiskReport,
    account,
    backups_will_hold,
    from_listing,
    human_bytes,
)
from ..core.lineage import NEEDS_REBUILD, Kind, Snapshot
from ..ollama.folder_scan import FolderError, FolderScan, free_bytes, not_this_servers, scan
from .session import Session
from .space import listed_digests

# A pull writes its blobs before its manifest: a young unnamed blob may be one being pulled.
YOUNG_SECONDS = 3600.0


class DiskError(Exception):
    """Why the folder cannot be pruned; nothing was deleted."""


@dataclass(frozen=True)
class Orphans:
    """What a prune would delete, and what it leaves alone and why."""

    folder: Path
    delete: tuple[BlobFile, ...]
    young: tuple[BlobFile, ...]
    partial: tuple[BlobFile, ...]

    @property
    def bytes(self) -> int:
        return sum(b.bytes for b in self.delete)


def stale_and_backups(snapshot: Snapshot, backups: set[str]) -> tuple[set[str], set[str]]:
    """ "Stale" here means every derivative a rebuild will replace: a failed or rolled-back one
    still holds the old base's weights as surely as a stale one does."""
    stale = {
        n.name for n in snapshot.walk() if n.kind is Kind.DERIVATIVE and n.state in NEEDS_REBUILD
    }
    return stale, backups & set(snapshot.nodes)


async def disk_report(session: Session) -> DiskReport:
    """From the folder when it is readable and the server's, else from the listing."""
    snapshot = session.syncer.snapshot
    stale, backups = stale_and_backups(snapshot, set(await session.syncer.backups()))
    folder = session.settings.models_dir
    why = "no models folder is readable here"
    if folder is not None:
        try:
            found = await asyncio.to_thread(scan, folder)
            why = "; ".join(not_this_servers(found, listed_digests(snapshot))[:3])
        except FolderError as exc:
            why = str(exc)
        if not why:
            return account(
                found.models,
                backups=backups,
                stale=stale,
                blob_files=found.blob_files,
                partial=found.partial,
                free_bytes=await asyncio.to_thread(free_bytes, folder),
                problems=found.problems,
            )
    return account(
        from_listing(snapshot),
        backups=backups,
        stale=stale,
        approximate=True,
        problems=(f"sizes are approximate, from /api/tags: {why}",),
    )


async def find_orphans(session: Session, now: float | None = None) -> Orphans:
    """Read every manifest and ask the server for its listing now; refuse on anything odd."""
    folder = session.settings.models_dir
    if folder is None:
        raise DiskError(
            "no models folder to prune: run this on the Ollama server, or pass --models-dir"
        )
    try:
        found = await asyncio.to_thread(scan, folder, now)
    except FolderError as exc:
        raise DiskError(f"{exc}; nothing deleted") from None
    if found.problems:
        raise DiskError("\n".join([*found.problems, "nothing deleted"]))
    listing = session.client.parse_tags(await session.client.tags_body())
    differences = not_this_servers(found, {t.name: t.digest for t in listing})
    if differences:
        raise DiskError(
            "\n".join(
                [
                    f"{folder} is not the folder of {session.settings.host}"
                    " (or a model changed while it was read):",
                    *differences[:5],
                    "nothing deleted",
                ]
            )
        )
    return _orphans(found)


def _orphans(found: FolderScan) -> Orphans:
    named = {d for m in found.models for d in m.blobs}
    loose = [b for b in found.blob_files if b.digest not in named]
    return Orphans(
        found.root,
        delete=tuple(b for b in loose if b.age_seconds >= YOUNG_SECONDS),
        young=tuple(b for b in loose if b.age_seconds < YOUNG_SECONDS),
        partial=found.partial,
    )


async def prune(session: Session, planned: Orphans) -> list[BlobFile]:
    """Delete the planned orphans that are orphans still: every manifest is read again right
    before, under the server's writer lock, so a model made meanwhile keeps its blobs."""
    async with session.rebuilder.writing("disk --prune-orphans"):
        again = await find_orphans(session)
        still = {b.digest for b in again.delete}
        freed = []
        for blob in planned.delete:
            if blob.digest in still:
                path = again.folder / "blobs" / blob.digest.replace(":", "-", 1)
                try:
                    await asyncio.to_thread(os.unlink, path)
                except OSError as exc:
                    raise DiskError(f"cannot delete {path}: {exc.strerror}") from None
                freed.append(blob)
    return freed


async def plan_cost(session: Session, pulls: list[str], rebuilds: list[str]) -> str:
    """One line for a plan: what its pulls download (the registry's layers the server lacks)
    and what its backups will hold afterwards."""
    snapshot = session.syncer.snapshot
    have = {d for m in from_listing(snapshot) for d in m.blobs}
    download = 0
    for name in pulls:
        layers = await session.upstream.registry.layers(name)
        download += sum(size for d, size in (layers or {}).items() if d not in have)
    held = backups_will_hold(snapshot, rebuilds, pulls)
    fetch = f"downloads about {human_bytes(download)}" if download else "downloads nothing"
    return f"{fetch}; the backups will then hold {human_bytes(held)} of old weights"
