"""The cold start's pipe: a bounded number of shows in flight, results as they finish."""

from __future__ import annotations

import asyncio

import pytest

from ollama_lineage.services.in_flight import in_flight

HANG_GUARD = 30.0


class Gates:
    """One gate per item: a run waits until its gate opens, so tests choose the finish order."""

    def __init__(self, items: list[int]) -> None:
        self.gates = {item: asyncio.Event() for item in items}
        self.started: list[int] = []
        self.running = 0
        self.most_running = 0

    async def run(self, item: int) -> int:
        self.started.append(item)
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            await self.gates[item].wait()
            if item < 0:
                raise ValueError(f"item {item} failed")
            return item * 10
        finally:
            self.running -= 1


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_results_come_in_the_order_they_finish_with_at_most_limit_running() -> None:
    items = list(range(1, 9))
    gates = Gates(items)
    seen: list[tuple[int, int]] = []

    async def consume() -> None:
        async for pair in in_flight(gates.run, items, limit=3):
            seen.append(pair)

    consumer = asyncio.create_task(consume())
    await settle()
    assert gates.started == [1, 2, 3]
    for item in (3, 1, 5, 2, 4, 8, 7, 6):
        gates.gates[item].set()
        await settle()
    await consumer
    assert gates.started == items
    assert gates.most_running == 3
    assert [item for item, _ in seen] == [3, 1, 5, 2, 4, 8, 7, 6]
    assert all(result == item * 10 for item, result in seen)


async def test_the_next_item_starts_while_the_caller_is_still_busy() -> None:
    items = [1, 2, 3, 4]
    gates = Gates(items)
    results = in_flight(gates.run, items, limit=2)
    gates.gates[1].set()
    first = await anext(results)
    assert first == (1, 10)
    # The caller holds its first result and asks for nothing (it is storing, say); 2 ends
    # meanwhile, and 4 starts at once rather than when the caller comes back.
    gates.gates[2].set()
    await settle()
    assert gates.started == [1, 2, 3, 4]
    gates.gates[3].set()
    gates.gates[4].set()
    assert [r async for r in results] == [(2, 20), (3, 30), (4, 40)]


async def test_a_failure_stops_the_rest_and_leaves_nothing_running() -> None:
    items = [1, -2, 3, 4, 5]
    gates = Gates(items)
    results = in_flight(gates.run, items, limit=3)
    gates.gates[-2].set()

    async def drain() -> None:
        async for _ in results:
            pass

    with pytest.raises(ValueError, match="item -2 failed"):
        # A guard against a hang, not a time limit: left running, 1 and 3 would wait forever.
        await asyncio.wait_for(drain(), HANG_GUARD)
    assert gates.running == 0  # 1 and 3 were cancelled, not left waiting
    assert 5 not in gates.started


async def test_no_items_yield_nothing() -> None:
    nothing: list[int] = []
    assert [r async for r in in_flight(Gates(nothing).run, nothing, limit=4)] == []
