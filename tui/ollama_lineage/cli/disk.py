"""`disk`: what each model holds, what backups and stale derivatives keep, orphans to prune."""

from __future__ import annotations

import argparse
import json

from ..core.disk import DiskReport, human_age, human_bytes
from ..services.disk import disk_report, find_orphans, prune
from ..services.session import Session
from .common import EXIT_OK, confirm


async def disk(session: Session, args: argparse.Namespace) -> int:
    if args.prune_orphans:
        return await prune_orphans(session, args)
    report = await disk_report(session)
    print(as_json(report) if args.json else as_text(report))
    return EXIT_OK


def as_json(report: DiskReport) -> str:
    """One model, one orphan a line, as `status --json` writes them: ``indent`` makes the json
    module fall back to pure Python, a sixth of `disk` at 1,000 models."""
    models = [
        {"name": m.name, "bytes": m.bytes, "unique_bytes": m.unique_bytes} for m in report.models
    ]
    orphans = [{"digest": o.digest, "bytes": o.bytes} for o in report.orphans]
    figures = {
        "held_by_backups_only": report.held_by_backups_only,
        "held_by_stale_only": report.held_by_stale_only,
        "orphan_bytes": report.orphan_bytes,
        "free_bytes": report.free_bytes,
        "approximate": report.approximate,
    }
    lines = [f'  "models": {_rows(models)}', f'  "orphans": {_rows(orphans)}']
    lines += [f"  {json.dumps(key)}: {json.dumps(value)}" for key, value in figures.items()]
    return "{\n" + ",\n".join(lines) + "\n}"


def _rows(items: list[dict[str, object]]) -> str:
    if not items:
        return "[]"
    return "[\n" + ",\n".join(f"    {json.dumps(item)}" for item in items) + "\n  ]"


def as_text(report: DiskReport) -> str:
    lines = [f"note: {problem}" for problem in report.problems]
    width = max((len(m.name) for m in report.models), default=10)
    lines.append(f"{'model':<{width}}  {'size':>9}  {'unique':>9}")
    for m in report.models:
        lines.append(
            f"{m.name:<{width}}  {human_bytes(m.bytes):>9}  {human_bytes(m.unique_bytes):>9}"
        )
    lines += [
        f"all models hold {human_bytes(report.total_bytes)}",
        f"backups alone hold {human_bytes(report.held_by_backups_only)}",
        f"stale derivatives alone hold {human_bytes(report.held_by_stale_only)}"
        " (freed once they are rebuilt and their backups dropped)",
    ]
    if report.approximate:
        lines.append("orphans: unknown (the models folder was not read)")
    else:
        lines.append(
            f"orphans: {len(report.orphans)} blobs, {human_bytes(report.orphan_bytes)}"
            + (" (ollama-lineage disk --prune-orphans)" if report.orphans else "")
        )
        lines += [
            f"  {o.digest}  {human_bytes(o.bytes):>9}  {human_age(o.age_seconds)} old"
            for o in report.orphans
        ]
    if report.partial:
        size = human_bytes(sum(p.bytes for p in report.partial))
        lines.append(f"partial downloads: {len(report.partial)} files, {size} (left alone)")
    if report.free_bytes is not None:
        lines.append(f"free on the folder's filesystem: {human_bytes(report.free_bytes)}")
    return "\n".join(lines)


async def prune_orphans(session: Session, args: argparse.Namespace) -> int:
    orphans = await find_orphans(session)
    for blob in orphans.young:
        print(
            f"kept {blob.digest} ({human_bytes(blob.bytes)}): {human_age(blob.age_seconds)}"
            " old, maybe a pull in progress"
        )
    if orphans.partial:
        print(f"kept {len(orphans.partial)} partial download files")
    if not orphans.delete:
        print("no orphans to delete")
        return EXIT_OK
    for blob in orphans.delete:
        print(f"orphan {blob.digest}  {human_bytes(blob.bytes)}  {human_age(blob.age_seconds)} old")
    total = human_bytes(orphans.bytes)
    if not args.yes and not confirm(
        f"delete {len(orphans.delete)} orphans ({total})? [y/N] ", "delete orphans"
    ):
        print("nothing deleted")
        return EXIT_OK
    freed = await prune(session, orphans)
    print(f"freed {human_bytes(sum(b.bytes for b in freed))} ({len(freed)} blobs)")
    return EXIT_OK
