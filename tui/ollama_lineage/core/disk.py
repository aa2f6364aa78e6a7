"""Disk accounting: what each model holds, and what only backups or stale derivatives keep alive.

Pure: it takes each model's blobs (digest and size, from manifests or shows) and the blob files
seen in the folder, and returns figures. Ollama stores a blob once however many models name it,
so what deleting a model frees is only what no other model names (its unique bytes); the old
weights a rebuild leaves behind live on in its backup.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from .lineage import Kind, Snapshot


@dataclass(frozen=True)
class ModelBlobs:
    """One model's manifest as disk sees it: every blob it names (config included), by digest."""

    name: str
    blobs: Mapping[str, int]  # "sha256:<hex>" -> bytes


@dataclass(frozen=True)
class BlobFile:
    """A file in ``blobs/`` whose name is a digest."""

    digest: str
    bytes: int
    age_seconds: float


@dataclass(frozen=True)
class ModelUse:
    name: str
    bytes: int
    unique_bytes: int  # held by no other model: what deleting it frees


@dataclass(frozen=True)
class DiskReport:
    models: tuple[ModelUse, ...]
    held_by_backups_only: int
    held_by_stale_only: int
    orphans: tuple[BlobFile, ...]
    free_bytes: int | None
    total_bytes: int  # every blob some model names, counted once
    approximate: bool = False  # from /api/tags and shows, not the folder
    partial: tuple[BlobFile, ...] = ()  # downloads in progress (or abandoned): never orphans
    problems: tuple[str, ...] = ()

    @property
    def orphan_bytes(self) -> int:
        return sum(o.bytes for o in self.orphans)


def holders(models: Iterable[ModelBlobs]) -> dict[str, set[str]]:
    """Digest -> names of the models whose manifest names it."""
    found: dict[str, set[str]] = {}
    for model in models:
        for digest in model.blobs:
            found.setdefault(digest, set()).add(model.name)
    return found


def account(
    models: Sequence[ModelBlobs],
    *,
    backups: Collection[str] = (),
    stale: Collection[str] = (),
    blob_files: Sequence[BlobFile] | None = None,
    partial: Sequence[BlobFile] = (),
    free_bytes: int | None = None,
    approximate: bool = False,
    problems: Sequence[str] = (),
) -> DiskReport:
    """The figures `disk` prints. ``blob_files`` is None when the folder was not read (then
    nothing can be called an orphan)."""
    owners = holders(models)
    sizes = {d: s for m in models for d, s in m.blobs.items()}
    uses = tuple(
        ModelUse(
            m.name,
            sum(m.blobs.values()),
            sum(size for d, size in m.blobs.items() if len(owners[d]) == 1),
        )
        for m in sorted(models, key=lambda m: m.name)
    )
    backup_set, stale_set = set(backups), set(stale)
    backups_only = frees(models, backup_set)
    stale_only = held_only_by(owners, sizes, stale_set, backup_set)
    orphans = tuple(
        sorted(
            (f for f in blob_files or () if f.digest not in owners),
            key=lambda f: (-f.bytes, f.digest),
        )
    )
    return DiskReport(
        models=uses,
        held_by_backups_only=backups_only,
        held_by_stale_only=stale_only,
        orphans=orphans,
        free_bytes=free_bytes,
        total_bytes=sum(sizes.values()),
        approximate=approximate,
        partial=tuple(partial),
        problems=tuple(problems),
    )


def held_only_by(
    owners: Mapping[str, set[str]],
    sizes: Mapping[str, int],
    names: set[str],
    backups: set[str],
) -> int:
    """Bytes that only ``names`` (and backups) keep alive, named by at least one of ``names``:
    what stays on disk, held by backups alone, once they are all rebuilt."""
    return sum(
        sizes[d] for d, holding in owners.items() if holding & names and holding <= names | backups
    )


def from_listing(snapshot: Snapshot) -> list[ModelBlobs]:
    """Each model as its weights blob at its listed size (the small layers are kilobytes):
    what can be told without the folder."""
    return [
        ModelBlobs(n.name, {f"sha256:{n.facts.weights_blob or n.facts.digest}": n.facts.size})
        for n in snapshot.nodes.values()
        if n.facts is not None and n.kind is not Kind.MISSING
    ]


def frees(models: Sequence[ModelBlobs], names: Collection[str]) -> int:
    """What deleting ``names`` frees: the bytes no other model names."""
    owners, sizes = holders(models), {d: s for m in models for d, s in m.blobs.items()}
    wanted = set(names)
    return sum(sizes[d] for d, holding in owners.items() if holding <= wanted)


def kept_by_backups(snapshot: Snapshot) -> int:
    """Bytes only backups hold, from the listing: what the status line shows."""
    backups = {n.name for n in snapshot.nodes.values() if n.kind is Kind.BACKUP}
    return frees(from_listing(snapshot), backups) if backups else 0


def backups_will_hold(
    snapshot: Snapshot, rebuilds: Collection[str], pulls: Collection[str] = ()
) -> int:
    """What rebuilding ``rebuilds`` (after pulling ``pulls``) leaves held by backups alone: the
    weights only they (and bases about to move, and backups) name today."""
    models = from_listing(snapshot)
    backups = {n.name for n in snapshot.nodes.values() if n.kind is Kind.BACKUP}
    sizes = {d: s for m in models for d, s in m.blobs.items()}
    return held_only_by(holders(models), sizes, set(rebuilds), backups | set(pulls))


def human_bytes(num: int) -> str:
    """Decimal units, as `ollama list` prints them."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if abs(num) >= scale:
            return f"{num / scale:.1f} {unit}"
    return f"{num} B"


def human_age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{max(0, int(seconds))}s"
