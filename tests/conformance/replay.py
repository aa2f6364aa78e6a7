"""A hand-made recording's requests sent again, in order, to the stand-in, and compared.

For recordings made by hand on a real Ollama (its own CLI in between, or a disk that fills)
rather than by scenario.play: uploads were recorded as `<N bytes>`, so the caller hands the
bytes of every blob it can make again, by digest.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import pytest

from ollama_lineage.fake_ollama import FakeOllama

from .scenario import Player
from .test_conformance import Kept, Normaliser

Exchange = dict[str, Any]
_UPLOAD = re.compile(r"<\d+ bytes>")


def by_digest(*blobs: bytes) -> dict[str, bytes]:
    return {"sha256:" + hashlib.sha256(data).hexdigest(): data for data in blobs}


def play_on_stand_in(
    recorded: list[Exchange],
    blobs: dict[str, bytes],
    models_dir: str,
    before: dict[str, Callable[[FakeOllama], None]] | None = None,
) -> list[Exchange]:
    """`before[step]` runs just before that step is sent: the stand-in put the way the real
    server was then (a fault)."""
    version = "0.33.0-rc2"
    with (
        FakeOllama(scenario="empty", version=version, models_dir=models_dir) as fake,
        httpx.Client(base_url=fake.url, timeout=30) as http,
    ):
        return _play(fake, http, recorded, blobs, before or {})


def _play(
    fake: FakeOllama,
    http: httpx.Client,
    recorded: list[Exchange],
    blobs: dict[str, bytes],
    before: dict[str, Callable[[FakeOllama], None]],
) -> list[Exchange]:
    player = Player(http)
    for exchange in recorded:
        if exchange["step"] in before:
            before[exchange["step"]](fake)
        request = exchange["request"]
        body = request["body"]
        if isinstance(body, str) and _UPLOAD.fullmatch(body):
            digest = request["path"].rsplit("/", 1)[1]
            assert digest in blobs, f"{exchange['step']}: cannot make {digest} again"
            body = blobs[digest]
        player.call(exchange["step"], request["method"], request["path"], body)
    return [e.as_json() for e in player.exchanges]


def assert_same(
    recorded: list[Exchange],
    played: list[Exchange],
    models_dirs: tuple[str, str],
    kept: Sequence[Kept] = (),
) -> None:
    """Step by step, after normalising digests, times, sizes and each side's models folder
    (`models_dirs`: the real server's, then the stand-in's)."""
    assert [e["step"] for e in played] == [e["step"] for e in recorded]
    real, stand_in = Normaliser(models_dirs[0]), Normaliser(models_dirs[1])
    for i, (want, got) in enumerate(zip(recorded, played, strict=True)):
        for k in kept:
            if re.fullmatch(k.steps, want["step"]):
                k.adjust(want)
                k.adjust(got)
        expected, actual = real.exchange(want), stand_in.exchange(got)
        if expected != actual:
            diff = difflib.unified_diff(
                json.dumps(expected, indent=1, ensure_ascii=False).splitlines(),
                json.dumps(actual, indent=1, ensure_ascii=False).splitlines(),
                "recorded (real Ollama)",
                "stand-in",
                lineterm="",
            )
            pytest.fail(f"step {i:03d} {want['step']!r} differs:\n" + "\n".join(diff))
