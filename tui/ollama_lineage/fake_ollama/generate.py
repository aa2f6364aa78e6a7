"""POST /api/generate: deterministic pseudo-text so A/B comparisons show real differences.

The text is seeded by the model's manifest digest, the prompt and the options, so the same
request repeats exactly and two different models (or settings) visibly disagree.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from .errors import ApiError
from .state import Local, State

_TEXT = (
    "the model answers with care and a measured tone while it weighs each step of the "
    "question before it commits to a final reply about tokens context windows weights "
    "templates and the small details that make a derivative differ from its base so the "
    "output reads like a thoughtful assistant working through a tricky problem in public "
    "with examples caveats and a short summary at the end"
)
_WORDS = _TEXT.split()


def _created_at() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def _pieces(digest: str, prompt: str, options: dict[str, Any]) -> list[str]:
    material = f"{digest}|{prompt}|{json.dumps(options, sort_keys=True, default=str)}"
    rng = random.Random(hashlib.sha256(material.encode()).digest())
    # A model ends its answer where it ends it; num_predict only cuts a longer one short.
    count = rng.randint(24, 48)
    limit = int(options.get("num_predict") or 0)
    if limit > 0:
        count = min(count, limit)
    pieces: list[str] = []
    sentence = 0
    for _ in range(count):
        word = rng.choice(_WORDS)
        if sentence == 0:
            word = word.capitalize()
        sentence += 1
        if sentence >= rng.randint(6, 12):
            word += "."
            sentence = 0
        pieces.append(word if not pieces else " " + word)
    return pieces


def generate(
    state: State, request: dict[str, Any], token_delay: float, load_seconds: float = 0.0
) -> Iterator[dict[str, Any]]:
    """Checks the model now (errors are plain JSON), then streams; a load that takes
    `load_seconds` says nothing at all meanwhile, as a real model load does."""
    raw = request.get("model") or ""
    if not raw:
        raise ApiError(400, "model is required")
    local = state.find(raw)
    if local is None:
        raise ApiError(404, f"model '{raw}' not found")
    return _stream(state, local, request, token_delay, load_seconds)


def _stream(
    state: State, local: Local, request: dict[str, Any], token_delay: float, load_seconds: float
) -> Iterator[dict[str, Any]]:
    if load_seconds:
        time.sleep(load_seconds)
    model = local.name.display
    prompt = request.get("prompt") or ""
    state.load(local)
    if not prompt:
        yield {
            "model": model,
            "created_at": _created_at(),
            "response": "",
            "done": True,
            "done_reason": "load",
        }
        return
    started = time.perf_counter_ns()
    pieces = _pieces(local.digest, prompt, request.get("options") or {})
    for piece in pieces:
        if token_delay:
            time.sleep(token_delay)
        yield {"model": model, "created_at": _created_at(), "response": piece, "done": False}
    if local.name.key in state.cut_generate:
        return  # as recorded on 0.33: some answers just stop, with no done line
    rate = 20 + int(local.digest[:2], 16) % 40  # simulated tokens/s, stable per model
    eval_ns = max(time.perf_counter_ns() - started, len(pieces) * 1_000_000_000 // rate)
    prompt_count = len(prompt.split()) + 8
    load_ns, prompt_ns = 12_345_678, prompt_count * 1_500_000
    limit = int((request.get("options") or {}).get("num_predict") or 0)
    yield {
        "model": model,
        "created_at": _created_at(),
        "response": "",
        "done": True,
        "done_reason": "length" if limit > 0 and len(pieces) >= limit else "stop",
        # the deprecated token context, still sent: prompt and answer token ids
        "context": [int(local.digest[i % 60 : i % 60 + 4], 16) for i in range(prompt_count)]
        + [len(piece) for piece in pieces],
        "total_duration": load_ns + prompt_ns + eval_ns,
        "load_duration": load_ns,
        "prompt_eval_count": prompt_count,
        "prompt_eval_duration": prompt_ns,
        "eval_count": len(pieces),
        "eval_duration": eval_ns,
    }
