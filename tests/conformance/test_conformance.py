"""The stand-in against a real Ollama: the scenario played on both, compared step by step.

The recordings under recordings/ were made on a real server (see scenario.py); this test
plays the same steps against the stand-in and compares after normalising what must differ
between two servers (digests, times, the models folder, sizes). Every other difference is
either a bug in the stand-in or listed, with its reason, in KEPT below.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ollama_lineage.fake_ollama import FakeOllama

from . import scenario

RECORDED = scenario.RECORDINGS / "ollama-0.33.0-rc2"
STAND_IN_MODELS_DIR = "/srv/stand in/models"  # a space, so path normalisation is tested too
_HEX = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")
# what differs between any two servers (or two runs): compared by type only
_VOLATILE = {
    "modified_at",
    "created_at",
    "expires_at",
    "size",
    "size_vram",
    "total",
    "completed",
    "total_duration",
    "load_duration",
    "prompt_eval_duration",
    "eval_duration",
}
_RESOLVER = re.compile(r"lookup (\S+) on [0-9a-f.:\[\]]+:53:")

Exchange = dict[str, Any]


def _blank(*keys: str) -> Callable[[Exchange], None]:
    """Replace `keys` in every line of a stream by a marker, on both sides."""

    def blank(exchange: Exchange) -> None:
        for line in exchange["response"].get("lines") or []:
            for key in keys:
                if key in line:
                    line[key] = f"<{key}>"

    return blank


@dataclass(frozen=True)
class Kept:
    """A difference we keep: `adjust` applies to both sides' exchanges of matching steps."""

    steps: str  # regex, full match on the step name
    reason: str
    adjust: Callable[[Exchange], None]


def _first_line_only(exchange: Exchange) -> None:
    lines = exchange["response"].get("lines")
    if lines:
        del lines[1:]
        _blank("response")(exchange)


# Every difference between the stand-in and the recording that we decided to keep.
KEPT = [
    Kept(
        r"generate-ending-without-done",
        "the real tiny model's stream stops after it emits U+0011, with no done line; the "
        "stand-in cannot know which model does that (FakeOllama.cut_generate makes it for a "
        "test), so only the first line's shape is compared",
        _first_line_only,
    ),
    Kept(
        r"generate",
        "the stand-in writes deterministic pseudo-text, not a model's tokens, so the pieces, "
        "the prompt's token count and the context tokens differ (their types do not)",
        _blank("response", "prompt_eval_count", "context"),
    ),
]


def _kept_for(step: str) -> list[Kept]:
    return [k for k in KEPT if re.fullmatch(k.steps, step)]


class Normaliser:
    """One side's view: digests become D1, D2… in order of first appearance (so a
    derivative's FROM blob still equals its base's weights blob), times and sizes become
    their type, the models folder becomes <models>."""

    def __init__(self, models_dir: str) -> None:
        self.models_dir = models_dir
        self.digests: dict[str, str] = {}

    def text(self, value: str) -> str:
        value = value.replace(self.models_dir, "<models>")
        value = _RESOLVER.sub(r"lookup \1 on <resolver>:", value)
        return _HEX.sub(self._digest, value)

    def _digest(self, match: re.Match[str]) -> str:
        return self.digests.setdefault(match.group(0), f"D{len(self.digests) + 1}")

    def value(self, value: Any, key: str = "") -> Any:
        if key in _VOLATILE:
            return f"<{type(value).__name__}>"
        if isinstance(value, dict):
            return {k: self.value(value[k], k) for k in sorted(value)}
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, str):
            if key == "modelfile":
                return self.text(_sort_parameter_lines(value)).split("\n")
            if key == "parameters":
                return sorted(self.text(value).split("\n"))
            return self.text(value)
        return value

    def exchange(self, exchange: Exchange) -> dict[str, Any]:
        request, response = exchange["request"], exchange["response"]
        body = response.get("body")
        if isinstance(body, dict) and isinstance(body.get("models"), list):
            body = {**body, "models": sorted(body["models"], key=lambda m: m.get("name", ""))}
        out = {
            "step": exchange["step"],
            "request": self.value(request),
            "status": response["status"],
            "headers": response["headers"],
        }
        if "lines" in response:
            out["lines"] = [self.value(line) for line in response["lines"]]
        else:
            out["body"] = self.value(body)
        return out


def _sort_parameter_lines(modelfile: str) -> str:
    """PARAMETER lines come in Go map order: sort them, keep every other line in place."""
    lines = modelfile.split("\n")
    indexes = [i for i, line in enumerate(lines) if line.startswith("PARAMETER ")]
    for i, line in zip(indexes, sorted(lines[i] for i in indexes), strict=True):
        lines[i] = line
    return "\n".join(lines)


def _models_dir(recorded: list[Exchange]) -> str:
    """The recording server's OLLAMA_MODELS, read off its first FROM line."""
    for exchange in recorded:
        body = exchange["response"].get("body")
        if isinstance(body, dict) and "modelfile" in body:
            match = re.search(r"^FROM (.+)/blobs/sha256-", body["modelfile"], re.M)
            assert match, body["modelfile"]
            return match.group(1)
    raise AssertionError("no show in the recording")


def _tags_order_ok(exchange: Exchange) -> bool:
    """Real tags are sorted by modification time in whole seconds, newest first."""
    body = exchange["response"].get("body")
    if exchange["request"]["path"] != "/api/tags" or not isinstance(body, dict):
        return True
    seconds = [m["modified_at"][:19] for m in body["models"]]
    return seconds == sorted(seconds, reverse=True)


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> list[Exchange]:
    workdir: Path = tmp_path_factory.mktemp("conformance")
    with FakeOllama(scenario="empty", version="0.33.0-rc2", models_dir=STAND_IN_MODELS_DIR) as fake:
        fake.set_offline(True)  # the recording machine could not reach registry.ollama.ai
        with httpx.Client(base_url=fake.url, timeout=30) as http:
            exchanges = scenario.play(http, workdir)
    return [e.as_json() for e in exchanges]


def test_the_stand_in_answers_like_the_recorded_server(played: list[Exchange]) -> None:
    recorded = scenario.read_recording(RECORDED)
    assert [e["step"] for e in played] == [e["step"] for e in recorded], "scenario drifted"
    real, stand_in = Normaliser(_models_dir(recorded)), Normaliser(STAND_IN_MODELS_DIR)
    for i, (want, got) in enumerate(zip(recorded, played, strict=True)):
        for kept in _kept_for(want["step"]):
            kept.adjust(want)
            kept.adjust(got)
        assert _tags_order_ok(got), f"step {i} {got['step']}: tags not newest first"
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


def test_every_kept_difference_still_matches_a_step() -> None:
    """A kept difference whose step is gone from the scenario is stale: remove it."""
    steps = [e["step"] for e in scenario.read_recording(RECORDED)]
    for kept in KEPT:
        assert any(re.fullmatch(kept.steps, step) for step in steps), kept
