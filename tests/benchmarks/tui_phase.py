"""The TUI half of the benchmark, in its own process so its peak RSS is its own.

Usage (run.py calls it): python tests/benchmarks/tui_phase.py SERVER_URL DB_PATH
Prints one JSON line: launch to coloured tree, base update to stale, widgets rebuilt and CPU
per quiet poll, peak RSS.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from textual.widgets.tree import TreeNode

from ollama_lineage.config import Settings
from ollama_lineage.core.lineage import Kind
from ollama_lineage.core.states import State
from ollama_lineage.ui.app import LineageApp

POLL = 0.5
QUIET_TICKS = 10
touches = {"count": 0}


def counting(method: Callable[..., Any]) -> Callable[..., Any]:
    """Count every row added, removed or relabelled: what a quiet poll must not do."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        touches["count"] += 1
        return method(*args, **kwargs)

    return wrapper


for name in ("add", "remove", "set_label"):
    setattr(TreeNode, name, counting(getattr(TreeNode, name)))


async def wait_for(condition: Callable[[], bool], timeout: float = 120.0) -> float:
    started = time.perf_counter()
    while not condition():
        if time.perf_counter() - started > timeout:
            raise TimeoutError("the tree never got there")
        await asyncio.sleep(0.01)
    return time.perf_counter() - started


async def launch(app: LineageApp) -> float:
    """Seconds from starting the app to a classified tree of every model."""
    tree = app.main.lineage
    return await wait_for(lambda: not tree.loading and len(tree.snapshot.nodes) >= 1000)


async def measure(url: str, db: Path) -> dict[str, float]:
    settings = Settings(host=url, db_path=db, registry=url, poll_seconds=POLL)
    cold_app = LineageApp(settings)
    started = time.perf_counter()
    async with cold_app.run_test(size=(120, 40)):
        await launch(cold_app)
        cold = time.perf_counter() - started

    app = LineageApp(settings)  # the same database: a warm restart
    started = time.perf_counter()
    async with app.run_test(size=(120, 40)):
        await launch(app)
        warm = time.perf_counter() - started
        tree = app.main.lineage
        # The registry check at start marks updates available: let it land first.
        await wait_for(lambda: any(n.state is State.UPDATE_AVAILABLE for n in tree.snapshot.walk()))
        await asyncio.sleep(POLL * 2)
        before, cpu = touches["count"], time.process_time()
        await asyncio.sleep(POLL * QUIET_TICKS)
        quiet_touches = touches["count"] - before
        quiet_cpu = (time.process_time() - cpu) / QUIET_TICKS

        base = next(n for n in tree.snapshot.walk() if n.kind is Kind.BASE and n.children)
        child = base.children[0]
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            await http.post("/_fake/publish", json={"model": base.name})
            pulled = time.perf_counter()
            await http.post("/api/pull", json={"model": base.name, "stream": False})
        await wait_for(lambda: tree.snapshot.nodes[child].state is State.STALE)
        update = time.perf_counter() - pulled
    return {
        "launch_to_tree_s": round(cold, 3),
        "warm_launch_to_tree_s": round(warm, 3),
        "update_to_stale_s": round(update, 3),
        "poll_seconds": POLL,
        "widgets_rebuilt_quiet": quiet_touches / QUIET_TICKS,
        "quiet_poll_cpu_ms": round(quiet_cpu * 1000, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(measure(sys.argv[1], Path(sys.argv[2])))))
