"""What `copy` asks of the second server, as a real Ollama 0.33.0-rc2 answered it.

recordings/copy-two-hosts/ was made with two real servers built here: `ollama-lineage copy
story:latest_20K --to …` from a server whose base was made from a tiny GGUF, to an empty one,
through a recording proxy in front of the second. The app sent the base's weights layer (HEAD
404, POST 201), created the base from it with its template, license and parameters ("using
existing layer": the layer comes out as it went in), then the derivative from its recipe; both
had the first server's digests. blobs/ holds the layer the first server wrote (128 KB), the one
upload no code here can make again.
"""

from __future__ import annotations

from pathlib import Path

from . import scenario
from .replay import assert_same, by_digest, play_on_stand_in

RECORDED = scenario.RECORDINGS / "copy-two-hosts"


def test_the_stand_in_takes_a_copy_as_the_real_second_server_did() -> None:
    recorded = scenario.read_recording(RECORDED)
    blobs = by_digest(*(p.read_bytes() for p in sorted((RECORDED / "blobs").iterdir())))
    played = play_on_stand_in(recorded, blobs, "/srv/stand in/models")
    assert_same(recorded, played, ("/tmp/realollama/c", "/srv/stand in/models"))


def test_the_recording_is_the_copy_the_app_makes() -> None:
    """Read as a user would: blob checked, sent, base created from it, then the derivative."""
    steps = [e["step"] for e in scenario.read_recording(RECORDED)]
    assert steps == [
        "get tags",
        "head blob",
        "post blob",
        "post create story:latest",
        "get tags",
        "post create story:latest_20K",
        "get tags",
    ]
    create = scenario.read_recording(RECORDED)[3]["response"]["lines"]
    assert create[2]["status"].startswith("using existing layer sha256:60dc2be1ada1")
    assert Path(RECORDED / "blobs").is_dir()
