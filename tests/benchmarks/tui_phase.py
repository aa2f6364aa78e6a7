"""The TUI half of the benchmark, in its own process so its peak RSS is its own.

Usage (run.py calls it twice, cold then warm, on one database):
python tests/benchmarks/tui_phase.py cold|warm URL DB MODELS STARTED [MODELS_DIR]
STARTED is the parent's ``time.time()`` just before it started this process, so "launch"
includes Python's start-up and the imports. Each phase is its own process, as each launch of
the app is, so each peak RSS is one launch's. Prints one JSON line:

- launch to coloured tree (every model classified, the tree no longer loading, and a frame
  drawn after that), cold (fresh database) and warm (the same database again);
- key-to-screen latency, on the warm app once its registry check and quiet polls are done:
  from posting a key until the first frame drawn that shows it (``j``
  and ``k`` move the cursor one row, ``pagedown`` a screenful; ``H`` folds every base and
  ``L`` unfolds them; ``/`` opens the filter; each letter of ``stale`` typed into it filters
  the tree; ``escape`` brings every row back, three times over; ``R`` shows a sign of life,
  then its dialog);
- a base pulled elsewhere shown as stale: the seconds from the pull's request, and how many
  polls began after the pull had ended before it showed (a poll in flight when it ended
  read the listing before it: one is the target); rows touched and CPU per quiet poll;
- this process's peak RSS, and the load average around the run (the machine is shared).

A "frame" is a call of the app's display hook: the screen has been composed and rendered,
and only the write to a terminal (absent here, headless) is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NamedTuple

import httpx
from textual import events

from ollama_lineage.config import Settings
from ollama_lineage.core.lineage import Kind
from ollama_lineage.core.states import State
from ollama_lineage.services.upstream import UpstreamChecker
from ollama_lineage.ui.app import LineageApp
from ollama_lineage.ui.widgets.lineage_tree import LineageTree

POLL = 0.5
QUIET_TICKS = 10
MOVES = 20  # presses of j, then of k
PAGES = 5  # presses of pagedown
FILTER = "stale"
FILTERINGS = 3  # times the filter is opened, typed into and cleared
SIZE = (120, 40)
touches = {"count": 0}


def counting(method: Callable[..., Any]) -> Callable[..., Any]:
    """Count every row (re)built: what a quiet poll must not do."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        touches["count"] += 1
        return method(*args, **kwargs)

    return wrapper


# The widget's row builder; a widget per row (the tree before issue 22) counts its row changes.
if hasattr(LineageTree, "_row_text"):
    setattr(LineageTree, "_row_text", counting(LineageTree._row_text))  # noqa: B010
else:  # pragma: no cover - measuring the old tree for the before column
    from textual.widgets.tree import TreeNode

    for _name in ("add", "remove", "set_label"):
        setattr(TreeNode, _name, counting(getattr(TreeNode, _name)))


registry_checks = {"running": 0}


def tracked(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Count the registry checks in flight: keys are timed once none is."""

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        registry_checks["running"] += 1
        try:
            return await method(*args, **kwargs)
        finally:
            registry_checks["running"] -= 1

    return wrapper


setattr(UpstreamChecker, "check_all", tracked(UpstreamChecker.check_all))  # noqa: B010


class Frames:
    """Wraps the app's display hook: resolves a wait at the first frame where it holds."""

    def __init__(self, app: LineageApp) -> None:
        self.count = 0
        self.cpu_at: dict[float, float] = {}  # each frame's perf_counter: CPU spent by then
        self._waits: list[tuple[Callable[[], bool], asyncio.Future[float]]] = []
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is None:
                return
            self.count += 1
            now = time.perf_counter()
            self.cpu_at[now] = time.process_time()
            for wait in list(self._waits):
                condition, future = wait
                if not future.done() and condition():
                    future.set_result(now)
                    self._waits.remove(wait)

        app._display = display  # type: ignore[method-assign]  # the hook is patched on purpose

    async def first_showing(self, condition: Callable[[], bool], timeout: float = 600.0) -> float:
        """perf_counter() of the first frame drawn while ``condition`` holds."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waits.append((condition, future))
        return await asyncio.wait_for(future, timeout)


async def wait_for(condition: Callable[[], bool], timeout: float = 600.0) -> float:
    started = time.perf_counter()
    while not condition():
        if time.perf_counter() - started > timeout:
            raise TimeoutError("the tree never got there")
        await asyncio.sleep(0.005)
    return time.perf_counter() - started


def classified(app: LineageApp, models: int) -> Callable[[], bool]:
    def check() -> bool:
        tree = app.main.lineage
        return not tree.loading and len(tree.snapshot.nodes) >= models

    return check


class Spent(NamedTuple):
    """From posting a key to the frame that shows it: wall seconds, and this process's CPU
    seconds (which other work on a shared machine does not inflate as much)."""

    wall: float
    cpu: float


def spent_since(frames: Frames, frame: float, started: float, cpu: float) -> Spent:
    return Spent(frame - started, frames.cpu_at[frame] - cpu)


async def key_to_frame(
    app: LineageApp, frames: Frames, key: str, shows: Callable[[], bool]
) -> Spent:
    """From posting ``key`` to the first frame that shows its effect."""
    character = key if len(key) == 1 else None
    started, cpu = time.perf_counter(), time.process_time()
    app.post_message(events.Key(key, character))
    return spent_since(frames, await frames.first_showing(shows), started, cpu)


def summary(spent: list[Spent]) -> dict[str, float]:
    seconds = [s.wall for s in spent]
    return {
        "median_ms": round(statistics.median(seconds) * 1000, 1),
        "max_ms": round(max(seconds) * 1000, 1),
        "cpu_median_ms": round(statistics.median(s.cpu for s in spent) * 1000, 1),
        "n": len(seconds),
    }


async def keys(app: LineageApp, frames: Frames) -> dict[str, dict[str, float]]:
    tree = app.main.lineage
    tree.focus()
    await asyncio.sleep(0.2)
    tree.cursor_line = 0
    await asyncio.sleep(0.2)

    def at_line(line: int) -> Callable[[], bool]:
        return lambda: tree.cursor_line == line

    def past(line: int) -> Callable[[], bool]:
        return lambda: tree.cursor_line > line

    def filtered_by(query: str) -> Callable[[], bool]:
        return lambda: tree.query_text == query

    moves = min(MOVES, len(tree.snapshot.nodes) - 1)
    down, up = [], []
    for _ in range(moves):
        down.append(await key_to_frame(app, frames, "j", at_line(tree.cursor_line + 1)))
    for _ in range(moves):
        up.append(await key_to_frame(app, frames, "k", at_line(tree.cursor_line - 1)))
    pages = []
    for _ in range(PAGES):
        if tree.cursor_line >= tree.last_line:  # a small fleet fits one page: start again
            await key_to_frame(app, frames, "home", at_line(0))
        pages.append(await key_to_frame(app, frames, "pagedown", past(tree.cursor_line)))
    await key_to_frame(app, frames, "home", at_line(0))
    roots, total = len(tree.snapshot.roots), len(tree.snapshot.nodes)
    folded = await key_to_frame(app, frames, "H", lambda: tree.last_line == roots - 1)
    unfolded = await key_to_frame(app, frames, "L", lambda: tree.last_line == total - 1)
    field = app.main.query_one("#filter")
    opened, typed, cleared = [], [], []
    for _ in range(FILTERINGS):
        opened.append(await key_to_frame(app, frames, "slash", lambda: app.focused is field))
        for end in range(1, len(FILTER) + 1):
            key = FILTER[end - 1]
            typed.append(await key_to_frame(app, frames, key, filtered_by(FILTER[:end])))
        rows_filtered = tree.matches
        cleared.append(await key_to_frame(app, frames, "escape", lambda: tree.query_text == ""))
    return {
        "j": summary(down),
        "k": summary(up),
        "pagedown": summary(pages),
        "fold_all_H": summary([folded]),
        "unfold_all_L": summary([unfolded]),
        "slash_opens_filter": summary(opened),
        "filter_keystroke": {**summary(typed), "matches": rows_filtered},
        "escape_clears_filter": summary(cleared),
    }


async def settled(app: LineageApp, quiet: float = 4 * POLL) -> None:
    """Until the start-up registry check is done and the tree has not changed for ``quiet``
    seconds since (at 10,000 models the check runs for seconds without changing the tree)."""
    last, since = app.main.lineage.snapshot, time.perf_counter()
    while time.perf_counter() - since < quiet:
        await asyncio.sleep(0.05)
        if app.main.lineage.snapshot is not last or registry_checks["running"]:
            last, since = app.main.lineage.snapshot, time.perf_counter()


async def rebuild_all(app: LineageApp, frames: Frames) -> dict[str, dict[str, float]]:
    """``R``: the first frame that answers (a "planning" note, or the dialog), then the dialog."""

    def dialog() -> bool:
        return type(app.screen).__name__ == "RebuildScreen"

    def answered() -> bool:
        notes = " ".join(str(n.message) for n in app._notifications)
        return dialog() or "planning" in notes

    first_frame = asyncio.ensure_future(frames.first_showing(answered))
    dialog_frame = asyncio.ensure_future(frames.first_showing(dialog))
    await asyncio.sleep(0)  # both waits are registered before the key is posted
    started, cpu = time.perf_counter(), time.process_time()
    app.post_message(events.Key("R", "R"))
    first = spent_since(frames, await first_frame, started, cpu)
    opened = spent_since(frames, await dialog_frame, started, cpu)
    app.post_message(events.Key("escape", None))
    await wait_for(lambda: not dialog())
    return {"R_first_sign": summary([first]), "R_dialog_open": summary([opened])}


async def measure_cold(
    url: str, db: Path, models: int, started_wall: float, models_dir: Path | None
) -> dict[str, Any]:
    settings = Settings(
        host=url, db_path=db, registry=url, poll_seconds=POLL, models_dir=models_dir
    )
    since_process = time.time() - started_wall
    cold_app = LineageApp(settings)
    frames = Frames(cold_app)
    started = time.perf_counter()
    async with cold_app.run_test(size=SIZE):
        cold = await frames.first_showing(classified(cold_app, models)) - started
    return {
        "launch_to_tree_s": round(cold, 3),
        "process_start_to_tree_s": round(since_process + cold, 3),
        "cold_phase_peak_rss_mb": round(peak_rss_mb(), 1),
    }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure(url: str, db: Path, models: int, models_dir: Path | None) -> dict[str, Any]:
    """The warm launch (on the database the cold phase left), then the keys and the pull."""
    settings = Settings(
        host=url, db_path=db, registry=url, poll_seconds=POLL, models_dir=models_dir
    )
    load = [round(os.getloadavg()[0], 2)]
    app = LineageApp(settings)
    frames = Frames(app)
    started = time.perf_counter()
    async with app.run_test(size=SIZE):
        warm = await frames.first_showing(classified(app, models)) - started
        tree = app.main.lineage
        # The registry check at start marks updates available: let it land first (a small
        # fleet may have none to mark, hence the bound).
        with contextlib.suppress(TimeoutError):
            await wait_for(
                lambda: any(n.state is State.UPDATE_AVAILABLE for n in tree.snapshot.walk()),
                timeout=5 + models / 100,
            )
        await settled(app)
        before, cpu = touches["count"], time.process_time()
        await asyncio.sleep(POLL * QUIET_TICKS)
        quiet_touches = touches["count"] - before
        quiet_cpu = (time.process_time() - cpu) / QUIET_TICKS
        # Keys on the settled warm app: no first sync or registry check competing for the CPU.
        latency = await keys(app, frames)
        latency.update(await rebuild_all(app, frames))

        base = next(n for n in tree.snapshot.walk() if n.kind is Kind.BASE and n.children)
        child = base.children[0]
        polls = app.session.syncer.requests  # each poll's /api/tags, counted as it starts
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            await http.post("/_fake/publish", json={"model": base.name})
            pulled = time.perf_counter()
            await http.post("/api/pull", json={"model": base.name, "stream": False})
        polls_before = polls["tags"]
        await wait_for(lambda: tree.snapshot.nodes[child].state is State.STALE)
        update = time.perf_counter() - pulled
        polls_after_pull = polls["tags"] - polls_before
    return {
        "models": models,
        "warm_launch_to_tree_s": round(warm, 3),
        "keys": latency,
        "update_to_stale_s": round(update, 3),
        "polls_begun_after_pull": polls_after_pull,
        "poll_seconds": POLL,
        "widgets_rebuilt_quiet": quiet_touches / QUIET_TICKS,
        "quiet_poll_cpu_ms": round(quiet_cpu * 1000, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "load_average_1min": [*load, round(os.getloadavg()[0], 2)],
    }


def main() -> None:
    phase, url, db, models = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
    started = float(sys.argv[5])
    models_dir = Path(sys.argv[6]) if len(sys.argv) > 6 else None
    if phase == "cold":
        result = asyncio.run(measure_cold(url, db, models, started, models_dir))
    else:
        result = asyncio.run(measure(url, db, models, models_dir))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
