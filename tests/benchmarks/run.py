"""Benchmark at fleet scale: `python tests/benchmarks/run.py [--models 1000] [--latency 0.02]`.

Runs the stand-in server in its own process (so its CPU is not ours), then measures, in one
run and side by side: cold start vs a naive sequential list+show script, warm restart, a quiet
poll, the TUI (in a child process, for its own peak RSS), and prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from naive_list_show import naive_script

from ollama_lineage.ollama.client import OllamaClient
from ollama_lineage.services.store import Store
from ollama_lineage.services.sync import Syncer

HERE = Path(__file__).parent
TARGETS = {
    "cold start speed-up vs naive": ">= 8x",
    "warm restart requests": "1 tags, 0 show",
    "warm restart to tree": "<= 1 s",
    "quiet poll requests": "1",
    "quiet poll CPU per tick": "< 5 ms",
    "TUI widgets rebuilt per quiet poll": "0",
    "TUI peak RSS": "< 120 MB",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(models: int, latency: float) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "ollama_lineage.cli",
        "fake-server",
        "--port",
        str(port),
        "--scenario",
        f"fleet:{models}",
        "--latency",
        str(latency),
    ]
    server = subprocess.Popen(command, stdout=subprocess.PIPE)
    assert server.stdout is not None
    server.stdout.readline()  # "fake Ollama on …": the server is listening
    return server, f"http://127.0.0.1:{port}"


_seen = {"count": 0}


def server_requests(url: str) -> dict[str, int]:
    """Requests the server received since the last call, by path."""
    recorded = httpx.get(f"{url}/_fake/requests").json()["requests"]
    counts: dict[str, int] = {}
    for request in recorded[_seen["count"] :]:
        counts[request["path"]] = counts.get(request["path"], 0) + 1
    _seen["count"] = len(recorded)
    return counts


async def sync_once(url: str, db: Path) -> tuple[float, float, int]:
    """Seconds and CPU seconds to a fully classified snapshot; number of nodes."""
    wall, cpu = time.perf_counter(), time.process_time()
    store = await Store.open(db)
    async with OllamaClient(url) as client:
        syncer = Syncer(client, store, "bench")
        await syncer.poll()
        nodes = len(syncer.snapshot.nodes)
    await store.close()
    return time.perf_counter() - wall, time.process_time() - cpu, nodes


async def quiet_polls(url: str, db: Path, ticks: int) -> tuple[float, int]:
    """CPU seconds per poll when nothing changed, and how many of them reported a change."""
    store = await Store.open(db)
    async with OllamaClient(url) as client:
        syncer = Syncer(client, store, "bench")
        await syncer.poll()
        server_requests(url)
        changed = 0
        cpu = time.process_time()
        for _ in range(ticks):
            changed += await syncer.poll()
        per_tick = (time.process_time() - cpu) / ticks
    await store.close()
    return per_tick, changed


def tui_phase(url: str, db: Path) -> dict[str, float]:
    command = [sys.executable, str(HERE / "tui_phase.py"), url, str(db)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per request")
    parser.add_argument("--ticks", type=int, default=50)
    parser.add_argument("--skip-tui", action="store_true")
    args = parser.parse_args()
    server, url = start_server(args.models, args.latency)
    results: dict[str, object] = {"models": args.models, "latency_ms": args.latency * 1000}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "bench.sqlite3"
            server_requests(url)
            cold, cold_cpu, nodes = asyncio.run(sync_once(url, db))
            cold_requests = server_requests(url)
            naive = naive_script(url)
            server_requests(url)
            warm, _, _ = asyncio.run(sync_once(url, db))
            warm_requests = server_requests(url)
            per_tick, changed = asyncio.run(quiet_polls(url, db, args.ticks))
            quiet_requests = server_requests(url)
            results.update(
                nodes=nodes,
                cold_start_s=round(cold, 3),
                cold_start_cpu_s=round(cold_cpu, 3),
                cold_requests=cold_requests,
                naive_script_s=round(naive, 3),
                speedup_vs_naive=round(naive / cold, 1),
                warm_restart_s=round(warm, 3),
                warm_requests=warm_requests,
                quiet_poll_requests_per_tick=sum(quiet_requests.values()) / args.ticks,
                quiet_poll_cpu_ms=round(per_tick * 1000, 2),
                quiet_polls_reporting_change=changed,
                bench_peak_rss_mb=round(
                    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
                ),
            )
            if not args.skip_tui:
                results["tui"] = tui_phase(url, Path(tmp) / "tui.sqlite3")
    finally:
        server.terminate()
        server.wait()
    print_table(results)
    out = HERE / "results" / "latest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {out}")


def print_table(r: dict) -> None:
    tui = r.get("tui") or {}
    rows = [
        ("models on the server", f"{r['models']} ({r['nodes']} tree nodes)", ""),
        ("injected latency per request", f"{r['latency_ms']:.0f} ms", ""),
        ("cold start to classified tree", f"{r['cold_start_s']:.2f} s", ""),
        ("naive sequential list+show", f"{r['naive_script_s']:.2f} s", ""),
        ("cold start speed-up vs naive", f"{r['speedup_vs_naive']}x", ">= 8x"),
        ("warm restart requests", _requests(r["warm_requests"]), "1 tags, 0 show"),
        ("warm restart to tree", f"{r['warm_restart_s']:.3f} s", "<= 1 s"),
        ("quiet poll requests", f"{r['quiet_poll_requests_per_tick']:g} per tick", "1"),
        ("quiet poll CPU per tick", f"{r['quiet_poll_cpu_ms']:.2f} ms", "< 5 ms"),
    ]
    if tui:
        rows += [
            ("TUI launch to coloured tree, cold", f"{tui['launch_to_tree_s']:.2f} s", ""),
            (
                "TUI launch to coloured tree, warm",
                f"{tui['warm_launch_to_tree_s']:.2f} s",
                "<= 1 s",
            ),
            (
                "TUI base update shown as stale",
                f"{tui['update_to_stale_s']:.2f} s ({tui['poll_seconds']:g} s polls)",
                "1 poll",
            ),
            ("TUI widgets rebuilt per quiet poll", f"{tui['widgets_rebuilt_quiet']:g}", "0"),
            ("TUI quiet poll CPU per tick", f"{tui['quiet_poll_cpu_ms']:.2f} ms", "< 5 ms"),
            ("TUI peak RSS", f"{tui['peak_rss_mb']:.0f} MB", "< 120 MB"),
        ]
    width = max(len(name) for name, _, _ in rows)
    print(f"{'measure':<{width}}  {'measured':<22} target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:<22} {target}")


def _requests(counts: dict[str, int]) -> str:
    return f"{counts.get('/api/tags', 0)} tags, {counts.get('/api/show', 0)} show"


if __name__ == "__main__":
    main()
