"""A/B check: the same prompt, options and seed to the backup and the rebuilt model."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..ollama.client import GenerateChunk
from .rebuild import RebuildError
from .session import Session

ChunkCallback = Callable[[int, GenerateChunk], None]


@dataclass
class SideResult:
    """One side of the comparison, filled as its stream arrives."""

    model: str
    text: str = ""
    tokens_per_second: float = 0.0
    total_seconds: float = 0.0
    load_seconds: float = 0.0


async def latest_backup(session: Session, name: str) -> str:
    mine = await session.store.backups_of(session.settings.host_key, name)
    if not mine:
        raise RebuildError(f"{name} has no backup to compare with; rebuild it first")
    return mine[-1]


async def compare_models(
    session: Session,
    old: str,
    new: str,
    prompt: str,
    options: Mapping[str, Any],
    on_chunk: ChunkCallback | None = None,
) -> list[SideResult]:
    """Stream both answers at once; ``on_chunk(side, chunk)`` lets a screen draw as they come."""
    await session.store.add_prompt(session.settings.host_key, new, prompt)
    sides = [SideResult(old), SideResult(new)]

    async def run(index: int) -> None:
        side = sides[index]
        async for chunk in session.client.generate(side.model, prompt, options):
            side.text += chunk.response
            if chunk.done:
                side.tokens_per_second = chunk.tokens_per_second
                side.total_seconds = chunk.total_duration / 1e9
                side.load_seconds = chunk.load_duration / 1e9
            if on_chunk:
                on_chunk(index, chunk)

    await asyncio.gather(run(0), run(1))
    return sides
