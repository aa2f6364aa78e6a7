"""What every command shares: exit codes, the usage error, asking and progress lines."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..ollama.client import Progress

# One table for every command (README, "Exit codes"): 0 done or nothing to do; 1 something
# left to do, or something was tried and failed; 2 refused before anything was sent (bad
# input, no such model, no --yes on a pipe) or the server cannot be used.
EXIT_OK, EXIT_ATTENTION, EXIT_ERROR = 0, 1, 2
EXIT_INTERRUPTED = 130  # as a shell reports a run ended by Ctrl-C


class UsageError(Exception):
    """The command cannot run as asked (no such model, no recipe): exit 2, nothing sent."""


def indent(text: str, prefix: str = "  ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def confirm(question: str, what: str = "rebuild") -> bool:
    if not sys.stdin.isatty():
        raise UsageError(f"not asking on a non-interactive input: pass --yes to {what}")
    return input(question).strip().lower() in {"y", "yes"}


def print_progress(progress: Progress) -> None:
    if progress.total:
        percent = 100 * (progress.completed or 0) // progress.total
        print(f"  {progress.status} {percent}%", flush=True)
    else:
        print(f"  {progress.status}", flush=True)


@dataclass
class Stop:
    asked: bool = False


@contextlib.contextmanager
def stop_on_signal() -> Iterator[Stop]:
    """Ctrl-C or SIGTERM during a run of several models: finish the one in flight, then stop
    (``stop.asked``); a second one cancels the run, and the rebuilder puts that model back."""
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    stop = Stop()

    def on_signal() -> None:
        if stop.asked and task is not None:
            task.cancel()
            return
        stop.asked = True
        print("stopping once the model in flight is done (again: put it back and stop now)")

    signals = (signal.SIGINT, signal.SIGTERM)
    try:
        for number in signals:
            loop.add_signal_handler(number, on_signal)
    except NotImplementedError:  # Windows: Ctrl-C stops at once, as before
        pass
    try:
        yield stop
    finally:
        for number in signals:
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(number)
