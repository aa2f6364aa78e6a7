"""A/B check: the same prompt, options and seed to the backup and the rebuilt model."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..ollama.client import GenerateChunk
from .rebuild import Refused
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
    # A real Ollama can end a stream without its `done` line (seen on 0.33 with a tiny model
    # emitting control characters): then there are no timings to show.
    finished: bool = False


async def latest_backup(session: Session, name: str) -> str:
    mine = await session.store.backups_of(session.settings.host_key, name)
    if not mine:
        raise Refused(f"{name} has no backup to compare with; rebuild it first")
    return mine[-1]


async def compare_models(
    session: Session,
    old: str,
    new: str,
    prompt: str,
    options: Mapping[str, Any],
    on_chunk: ChunkCallback | None = None,
) -> list[SideResult]:
    """Old, then new, each loaded alone: two models sharing one GPU would halve both speeds.

    ``on_chunk(side, chunk)`` lets a screen draw as the answers come.
    """
    for model in (old, new):
        capabilities = (await session.syncer.show(model)).capabilities
        if capabilities and "completion" not in capabilities:
            raise Refused(
                f"{model} cannot generate text (it can: {', '.join(capabilities)}),"
                " so there is nothing to compare"
            )
    await session.store.add_prompt(session.settings.host_key, new, prompt)
    sides = [SideResult(old), SideResult(new)]
    for index, side in enumerate(sides):
        # The old side is unloaded as soon as it answers, so the new one has the machine.
        keep_alive = 0 if index == 0 else None
        async for chunk in session.client.generate(side.model, prompt, options, keep_alive):
            side.text += chunk.response
            if chunk.done:
                side.finished = True
                side.tokens_per_second = chunk.tokens_per_second
                side.total_seconds = chunk.total_duration / 1e9
                side.load_seconds = chunk.load_duration / 1e9
            if on_chunk:
                on_chunk(index, chunk)
    return sides
