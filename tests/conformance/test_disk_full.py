"""A models folder that runs out of space, as a real Ollama 0.33.0-rc2 answered it.

recordings/disk-full/ was made by hand: the real server's OLLAMA_MODELS on a 64 MB tmpfs, a
34 MB GGUF uploaded (it fits) and imported (its validated copy does not), a second one uploaded
(it does not fit), then the disk filled to the last byte and the app's moves made: a backup
copy, a rebuild, a quantizing create; last a pull of a 34 MB model from a registry made by
hand, with 23 MB free. folder/listings.json is what the folder held after each
part. The stand-in, given the same free bytes at the same steps, must answer the same.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ollama_lineage.fake_ollama import FakeOllama
from ollama_lineage.fake_ollama.state import State

from . import scenario
from .replay import assert_same, by_digest, play_on_stand_in
from .test_conformance import Kept
from .tiny_gguf import write_model

RECORDED = scenario.RECORDINGS / "disk-full"
REAL_MODELS_DIR = "/tmp/realollama/small/models"
STAND_IN_MODELS_DIR = "/srv/stand in/models"
FREE_AFTER_BIG_UPLOAD = 23_855_104  # df on the tmpfs once the 34 MB blob was in
FREE_BEFORE_PULL = 23_851_008
PULLED = "127.0.0.1:11594/library/bigpull:latest"  # a registry of one 34 MB GGUF, by hand


def _free(num_bytes: int | None) -> Callable[[FakeOllama], None]:
    return lambda fake: fake.set_disk_free(num_bytes)


def _published_with_free(num_bytes: int) -> Callable[[FakeOllama], None]:
    def before(fake: FakeOllama) -> None:
        fake.set_disk_free(num_bytes)
        fake.state.publish(PULLED, size=34_217_152)

    return before


# the real server's free bytes before these steps (the filler file came and went by hand)
BEFORE = {
    "create-from-gguf-out-of-space": _free(FREE_AFTER_BIG_UPLOAD),
    "copy-backup-disk-full": _free(0),
    "delete-empty-backup": _free(None),
    "pull-out-of-space": _published_with_free(FREE_BEFORE_PULL),
}


def _temp_names(exchange: dict[str, Any]) -> None:
    """os.CreateTemp's random suffix: `blobs/sha256-1324522668`."""
    body = exchange["response"].get("body")
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        body["error"] = re.sub(r"/sha256-\d+:", "/sha256-<temp>:", body["error"])


def _no_rewrite_progress(exchange: dict[str, Any]) -> None:
    lines = exchange["response"].get("lines")
    if lines:
        lines[:] = [line for line in lines if line.get("digest") != "0" * 19]


def _pulled_weights(exchange: dict[str, Any]) -> None:
    lines = exchange["response"]["lines"]
    lines[:] = [line for line in lines if not line.get("status", "").startswith("pulling ")]
    for line in lines:
        if "error" in line:
            line["error"] = re.sub(r"sha256-[0-9a-f]{64}", "sha256-<pulled>", line["error"])


KEPT = [
    Kept(r".*", "a temporary blob's name is random", _temp_names),
    Kept(
        r"pull-out-of-space",
        "how many progress lines come before the disk fills depends on the download's pace; "
        "the stand-in's published weights are not the GGUF the hand-made registry served",
        _pulled_weights,
    ),
    Kept(
        r"create-.*",
        "this build's llama-quantize printed no `[ n/ N]` progress, even importing 34 MB or "
        "quantizing; the stand-in's progress lines for files of 1 MB and more stay (other "
        "tests use them)",
        _no_rewrite_progress,
    ),
]


def _big(path: Path, seed: int, *, embed: int, ffn: int, f16: bool = False) -> bytes:
    from . import tiny_gguf

    old = tiny_gguf.EMBED, tiny_gguf.FFN
    tiny_gguf.EMBED, tiny_gguf.FFN = embed, ffn
    try:
        return write_model(path, seed=seed, f16=f16).read_bytes()
    finally:
        tiny_gguf.EMBED, tiny_gguf.FFN = old


@pytest.mark.skipif(
    not hasattr(State, "upload"),
    reason="needs the stand-in's full-disk fault (set_disk_free, branch i24) and an upload that "
    "takes disk space (State.upload: the patch is in the iro report)",
)
def test_the_stand_in_runs_out_of_space_as_the_real_server_did(tmp_path: Path) -> None:
    recorded = scenario.read_recording(RECORDED)
    blobs = by_digest(
        write_model(tmp_path / "tiny.gguf", seed=1).read_bytes(),
        _big(tmp_path / "f16.gguf", 3, embed=256, ffn=1024, f16=True),
        _big(tmp_path / "big.gguf", 5, embed=512, ffn=2048),
        _big(tmp_path / "big2.gguf", 6, embed=512, ffn=2048),
    )
    played = play_on_stand_in(recorded, blobs, STAND_IN_MODELS_DIR, BEFORE)
    assert_same(recorded, played, (REAL_MODELS_DIR, STAND_IN_MODELS_DIR), KEPT)
