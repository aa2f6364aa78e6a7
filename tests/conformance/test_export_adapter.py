"""The ADAPTER lines an export may write, as the real `ollama create -f` treated them.

recordings/export-adapter/ was made on a real Ollama 0.33.0-rc2 with its own CLI talking through
a recording proxy: a base from a GGUF, a child with a LoRA, then Modelfiles naming that adapter
as `sha256:<hex>`, its absolute blob path (bare and quoted), a path relative to the Modelfile,
and a bare `sha256-<hex>`. cli/ holds what the CLI printed. The CLI resolves ADAPTER as a file
before any request, so only files that exist reach the server; the stand-in must answer what
they send exactly as the real server did.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import scenario
from .replay import assert_same, by_digest, play_on_stand_in
from .tiny_gguf import write_lora, write_model

RECORDED = scenario.RECORDINGS / "export-adapter"
REAL_MODELS_DIR = "/tmp/realollama/models"
STAND_IN_MODELS_DIR = "/srv/stand in/models"


def _cli() -> dict[str, dict[str, Any]]:
    runs = (json.loads(p.read_text()) for p in sorted((RECORDED / "cli").glob("*.json")))
    return {run["step"]: run for run in runs}


def test_the_stand_in_answers_the_real_cli_as_the_real_server_did(tmp_path: Path) -> None:
    recorded = scenario.read_recording(RECORDED)
    blobs = by_digest(
        write_model(tmp_path / "tiny.gguf", seed=1).read_bytes(),
        write_lora(tmp_path / "tiny-lora.gguf").read_bytes(),
    )
    played = play_on_stand_in(recorded, blobs, STAND_IN_MODELS_DIR)
    assert_same(recorded, played, (REAL_MODELS_DIR, STAND_IN_MODELS_DIR))


def test_only_an_adapter_path_that_exists_where_the_cli_runs_is_accepted() -> None:
    """What an export must write (issue 21): the blob's path; `sha256:<hex>` is read as a
    file name beside the Modelfile and fails before a single request."""
    runs = _cli()
    accepted = {s for s, r in runs.items() if s.startswith("export ") and r["exit_code"] == 0}
    assert accepted == {
        "export blob-path",
        "export quoted-blob-path",
        "export relative-blob-path",
    }
    digest = runs["export digest"]
    assert digest["stderr"][-1].startswith("Error: stat /tmp/realollama/export-work/sha256:702b")
    assert digest["stderr"][-1].endswith(": no such file or directory")
    assert not any("/api/create" in r for r in digest["requests"])
