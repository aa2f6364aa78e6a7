"""Run one coroutine per item with a bounded number in flight, yielding results as they end."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


async def in_flight(
    run: Callable[[Item], Awaitable[Result]], items: Sequence[Item], limit: int
) -> AsyncGenerator[tuple[Item, Result], None]:
    """``(item, run(item))`` in the order they finish, at most ``limit`` running at once.

    The next item starts the moment one finishes, even while the caller is busy with a
    result, so the pipe never drains between batches; at most ``limit`` finished results
    wait for the caller. The first exception ends it all: nothing is left running.
    """
    waiting = list(reversed(items))
    running: set[asyncio.Task[Result]] = set()
    done: asyncio.Queue[tuple[Item, asyncio.Task[Result]]] = asyncio.Queue()

    def start_more() -> None:
        while waiting and len(running) < limit and done.qsize() < limit:
            item = waiting.pop()
            task = asyncio.ensure_future(run(item))
            running.add(task)
            task.add_done_callback(functools.partial(finished, item))

    def finished(item: Item, task: asyncio.Task[Result]) -> None:
        running.discard(task)
        done.put_nowait((item, task))
        start_more()

    start_more()
    try:
        for _ in range(len(items)):
            item, task = await done.get()
            result = task.result()
            start_more()
            yield item, result
    finally:
        waiting.clear()
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
