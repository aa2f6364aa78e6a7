"""`status` over several hosts, whole processes, beside each host alone.

    python -m tests.benchmarks.hosts [--hosts 3] [--models N] [--latency MS] [--runs R]

Issue 23's target: 3 hosts × 1,000 models at 20 ms per request, a cold `status` over all three
within 1.2× of the slowest host alone; warm within 1.2× of one warm host. Each stand-in runs in
its own process (tests/benchmarks/stand_in.py). Each round, every command a fresh process:

    alone   status --json --host H --models-dir none, for each host (fresh database: cold),
            then again on that database (warm)
    all     status --json --host H1 --host H2 … (fresh database: cold), then again (warm)

Medians of rounds; it never fails on a time, only when a command crashes or answers nonsense.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path

from tests.benchmarks.run import Run, StandIn, app_command, compile_as_pip_does, timed

TARGET = 1.2


def status(urls: list[str], db: Path, models: int) -> Run:
    hosts = [word for url in urls for word in ("--host", url)]
    command = [*app_command(), "status", "--json", *hosts, "--db", str(db), "--models-dir", "none"]
    with tempfile.TemporaryFile() as out:
        run = timed(command, stdout=out)
        out.seek(0)
        listing = json.loads(out.read())
    found = [listing] if len(urls) == 1 else listing["hosts"]
    if any(len(h["models"]) < models for h in found):
        raise RuntimeError(f"status listed {[len(h['models']) for h in found]} models")
    return run


def bench(hosts: int, models: int, latency: float, runs: int) -> dict[str, list[float]]:
    stand_ins = [StandIn(models) for _ in range(hosts)]
    walls: dict[str, list[float]] = {
        "slowest cold": [],
        "all cold": [],
        "one warm": [],
        "all warm": [],
    }
    try:
        for stand_in in stand_ins:
            stand_in.set_latency(latency)
        urls = [s.url for s in stand_ins]
        with tempfile.TemporaryDirectory(prefix="lineage-hosts-bench-") as tmp:
            for index in range(runs + 1):  # the first round warms the page cache: not counted
                alone = [Path(tmp) / f"{index}-alone-{n}.sqlite3" for n in range(hosts)]
                cold = [
                    status([url], db, models).wall_s for url, db in zip(urls, alone, strict=True)
                ]
                warm = [
                    status([url], db, models).wall_s for url, db in zip(urls, alone, strict=True)
                ]
                every = Path(tmp) / f"{index}-all.sqlite3"
                all_cold = status(urls, every, models).wall_s
                all_warm = status(urls, every, models).wall_s
                if index:
                    walls["slowest cold"].append(max(cold))
                    walls["all cold"].append(all_cold)
                    walls["one warm"].append(statistics.median(warm))
                    walls["all warm"].append(all_warm)
    finally:
        for stand_in in stand_ins:
            stand_in.close()
    return walls


def report(hosts: int, models: int, latency: float, walls: dict[str, list[float]]) -> None:
    median = {side: statistics.median(values) for side, values in walls.items()}
    print(
        f"status over {hosts} hosts × {models} models at {latency:g} ms per request, "
        f"median of {len(walls['all cold'])} rounds (wall s)"
    )
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    for side in walls:
        print(f"  {side:<14}{median[side]:>8.3f}")
    for what, over, under in (
        ("cold", "all cold", "slowest cold"),
        ("warm", "all warm", "one warm"),
    ):
        ratio = median[over] / median[under]
        met = "met" if ratio <= TARGET else "missed"
        print(f"{what}: all hosts / {under}: {ratio:.2f} (target ≤ {TARGET}: {met})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=20.0, help="ms per request")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="2 hosts × 30 models, 1 run: for CI")
    args = parser.parse_args(argv)
    if args.quick:
        args.hosts, args.models, args.runs = 2, 30, 1
    with tempfile.TemporaryDirectory(prefix="lineage-bench-pycache-") as cache:
        compile_as_pip_does(Path(cache))
        walls = bench(args.hosts, args.models, args.latency, args.runs)
    report(args.hosts, args.models, args.latency, walls)


if __name__ == "__main__":
    main()
