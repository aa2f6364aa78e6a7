"""A/B check: the same prompt, options and seed to the backup and the rebuilt model."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..ollama.client import GenerateChunk
from .checks import NUM_PREDICT
from .rebuild import Refused
from .session import Session

ChunkCallback = Callable[[int, GenerateChunk], None]
SIDE_SECONDS = 300.0  # the time cap of one side, model load included


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
    cut: str = ""  # why it stopped before its own end: the token cap or the time cap

    @property
    def stats(self) -> str:
        """``35.0 tok/s, total 2.10s, load 0.01s`` and what cut it, for the CLI and the TUI."""
        if self.finished:
            text = (
                f"{self.tokens_per_second:.1f} tok/s, total {self.total_seconds:.2f}s,"
                f" load {self.load_seconds:.2f}s"
            )
        elif not self.cut:
            text = "ended early: Ollama sent no final line, so no timings"
        else:
            text = ""
        return "; ".join(t for t in (text, self.cut) if t)


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
    *,
    max_seconds: float = SIDE_SECONDS,
) -> list[SideResult]:
    """Old, then new, each loaded alone: two models sharing one GPU would halve both speeds.

    Each side stops at ``options.num_predict`` tokens (``NUM_PREDICT`` unless given) or after
    ``max_seconds``, and says so. ``on_chunk(side, chunk)`` lets a screen draw as they come.
    """
    options = {"num_predict": NUM_PREDICT, **options}
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
        answer = _answer(session, index, side, prompt, options, keep_alive, on_chunk)
        try:
            await asyncio.wait_for(answer, max_seconds)
        except asyncio.TimeoutError:
            side.cut = f"cut at the {max_seconds:g} s time cap"
    return sides


async def _answer(
    session: Session,
    index: int,
    side: SideResult,
    prompt: str,
    options: Mapping[str, Any],
    keep_alive: float | None,
    on_chunk: ChunkCallback | None,
) -> None:
    async for chunk in session.client.generate(side.model, prompt, options, keep_alive):
        side.text += chunk.response
        if chunk.done:
            side.finished = True
            side.tokens_per_second = chunk.tokens_per_second
            side.total_seconds = chunk.total_duration / 1e9
            side.load_seconds = chunk.load_duration / 1e9
            if chunk.done_reason == "length":
                side.cut = f"cut at the {options['num_predict']}-token cap"
        if on_chunk:
            on_chunk(index, chunk)
