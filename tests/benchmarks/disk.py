"""`disk` at fleet scale, whole processes, beside a cold `status`.

    python -m tests.benchmarks.disk [--models N] [--runs R] [--quick]   (from the checkout)

Issue 24's targets: `disk` from the models folder in under 0.5 s at 1,000 models; over HTTP
(`--models-dir none`: /api/tags and shows, sizes approximate) no slower than a cold `status`.
The stand-in runs in its own process (tests/benchmarks/stand_in.py, its manifests and blobs
laid out on disk as Ollama does). Each round runs, each a fresh process:

    status   ollama-lineage status --json --models-dir none   (fresh database: cold)
    http     ollama-lineage disk --json --models-dir none     (fresh database: cold)
    folder   ollama-lineage disk --json --models-dir FOLDER   (fresh database: cold)
    warm     ollama-lineage disk --json --models-dir FOLDER   (the database a folder run left)
    status warm  the same status on that database: what `disk` adds is the difference

It reports medians; it never fails on a time, only when a command crashes or answers nonsense.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path

from tests.benchmarks.run import Run, StandIn, app_command, compile_as_pip_does, timed

FOLDER_TARGET_S = 0.5


def disk(stand_in: StandIn, db: Path, models_dir: str, models: int) -> Run:
    command = [*app_command(), "disk", "--json", "--host", stand_in.url, "--db", str(db)]
    with tempfile.TemporaryFile() as out:
        run = timed([*command, "--models-dir", models_dir], stdout=out)
        out.seek(0)
        listed = json.loads(out.read())["models"]
    if len(listed) < models:
        raise RuntimeError(f"disk listed {len(listed)} models, not {models}")
    run.requests, _ = stand_in.count()
    return run


def status(stand_in: StandIn, db: Path, models_dir: str = "none") -> Run:
    command = [*app_command(), "status", "--json", "--host", stand_in.url, "--db", str(db)]
    run = timed([*command, "--models-dir", models_dir])
    run.requests, _ = stand_in.count()
    return run


def bench(models: int, runs: int) -> dict[str, list[Run]]:
    stand_in = StandIn(models)
    rounds: dict[str, list[Run]] = {
        "status": [],
        "http": [],
        "folder": [],
        "warm": [],
        "status warm": [],
    }
    try:
        with tempfile.TemporaryDirectory(prefix="lineage-disk-bench-") as tmp:
            for index in range(runs + 1):  # the first round warms the page cache: not counted
                dbs = [Path(tmp) / f"{index}-{side}.sqlite3" for side in ("s", "h", "f")]
                got = {
                    "status": status(stand_in, dbs[0]),
                    "http": disk(stand_in, dbs[1], "none", models),
                    "folder": disk(stand_in, dbs[2], stand_in.models_dir, models),
                    "warm": disk(stand_in, dbs[2], stand_in.models_dir, models),
                    "status warm": status(stand_in, dbs[2], stand_in.models_dir),
                }
                if index:
                    for side, run in got.items():
                        rounds[side].append(run)
    finally:
        stand_in.close()
    return rounds


def report(models: int, rounds: dict[str, list[Run]]) -> None:
    def wall(side: str) -> float:
        return float(statistics.median(r.wall_s for r in rounds[side]))

    ratios = [d.wall_s / s.wall_s for d, s in zip(rounds["http"], rounds["status"], strict=True)]
    ratio = statistics.median(ratios)
    print(f"disk at {models} models, median of {len(rounds['status'])} paired rounds (wall s)")
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"{'':<24}{'wall':>8}{'cpu':>8}{'rss MB':>8}  requests")
    for side, label in (
        ("status", "status, cold, HTTP"),
        ("http", "disk, cold, HTTP"),
        ("folder", "disk, cold, folder"),
        ("warm", "disk, warm, folder"),
        ("status warm", "status, warm, folder"),
    ):
        runs = rounds[side]
        cpu = statistics.median(r.cpu_s for r in runs)
        rss = max(r.peak_rss_mb for r in runs)
        print(f"{label:<24}{wall(side):>8.3f}{cpu:>8.3f}{rss:>8.1f}  {runs[-1].requests}")
    met = "met" if ratio <= 1.0 else "missed"
    print(f"disk over HTTP / cold status: {ratio:.2f} (target ≤ 1.00: {met})")
    for side in ("folder", "warm"):
        ok = "met" if wall(side) < FOLDER_TARGET_S else "missed"
        print(f"disk from the folder ({side}): {wall(side):.3f} s (target < 0.5 s: {ok})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="30 models, 1 run: for CI")
    args = parser.parse_args(argv)
    if args.quick:
        args.models, args.runs = 30, 1
    compile_as_pip_does()
    rounds = bench(args.models, args.runs)
    report(args.models, rounds)


if __name__ == "__main__":
    main()
