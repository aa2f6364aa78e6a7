"""Every command follows one exit-code table (README, "Exit codes"):

0 done, or nothing to do; 1 something left to do, or something tried that failed; 2 refused
before anything was sent (bad input, no such model, no --yes on a pipe) or no usable server.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ollama_lineage.cli import main
from ollama_lineage.fake_ollama import FakeOllama

CHILD = "qwq:latest_20K"
Setup = Callable[[FakeOllama, Path], list[str]]  # prepares the server; returns the argv


def run(fake: FakeOllama, db: Path, *args: str) -> int:
    return main([*args, "--host", fake.host, "--db", str(db), "--registry", fake.registry_url])


def rebuilt(fake: FakeOllama, db: Path) -> None:
    """qwq:latest_20K rebuilt on a new qwq, so it has a backup."""
    fake.pull("qwq:latest")
    assert run(fake, db, "rebuild", CHILD, "--yes") == 0


def only_an_orphan(fake: FakeOllama, db: Path) -> list[str]:
    for name in fake.model_names():
        fake.delete(name)
    fake.pull("qwq:latest")
    fake.create("qwq:latest-long", "qwq:latest", parameters={"num_ctx": 32768})
    fake.delete("qwq:latest")
    return ["status"]


def folder(fake: FakeOllama, db: Path, edit: str | None = None) -> list[str]:
    """The demo's recipes exported (its stale model rebuilt first); ``edit`` changes one."""
    assert run(fake, db, "rebuild", "--all-stale", "--yes") == 0
    out = db.parent / "recipes"
    assert run(fake, db, "export", "--all", str(out)) == 0
    if edit is not None:
        path = out / "qwq@latest_20K.Modelfile"
        path.write_text(path.read_text().replace("num_ctx 20000", edit))
    return [str(out)]


def rolled_back(fake: FakeOllama, db: Path) -> list[str]:
    rebuilt(fake, db)
    return ["rollback", CHILD, "--yes"]


def modelfile(db: Path, text: str) -> str:
    path = db.parent / "Modelfile"
    path.write_text(text)
    return str(path)


CASES: dict[str, tuple[Setup, int]] = {
    # status
    "status, something stale": (lambda f, d: ["status"], 1),
    "status, only an orphan": (only_an_orphan, 0),
    # history
    "history of a model": (lambda f, d: ["history", CHILD], 0),
    "history of no such model": (lambda f, d: ["history", "nosuch:model"], 2),
    # track
    "track, the difference": (lambda f, d: ["track", CHILD, "--from", "qwq:latest"], 0),
    "track -f, another FROM": (
        lambda f, d: [
            "track",
            CHILD,
            "--from",
            "qwq:latest",
            "-f",
            modelfile(d, "FROM phi4:latest\n"),
        ],
        2,
    ),
    "track -f, a broken template": (
        lambda f, d: [
            "track",
            CHILD,
            "--from",
            "qwq:latest",
            "-f",
            modelfile(d, 'FROM qwq:latest\nTEMPLATE "{{ .Prompt"\n'),
        ],
        2,
    ),
    # rebuild
    "rebuild --all-stale": (lambda f, d: ["rebuild", "--all-stale", "--yes"], 0),
    "rebuild on a pipe without --yes": (lambda f, d: ["rebuild", "llama3.2:latest-mario"], 2),
    "rebuild no such model": (lambda f, d: ["rebuild", "nosuch:model", "--yes"], 2),
    "rebuild an untracked model": (lambda f, d: ["rebuild", "my-gguf:latest", "--yes"], 2),
    # rollback
    "rollback --yes": (rolled_back, 0),
    "rollback on a pipe without --yes": (lambda f, d: [*rolled_back(f, d)[:2]], 2),
    "rollback with no backup": (lambda f, d: ["rollback", CHILD, "--yes"], 2),
    # compare, export
    "compare with no backup": (lambda f, d: ["compare", CHILD, "--prompt", "hi"], 2),
    "export": (lambda f, d: ["export", CHILD], 0),
    "export no such model": (lambda f, d: ["export", "nosuch:model"], 2),
    # plan and apply
    "plan, nothing to do": (lambda f, d: ["plan", *folder(f, d)], 0),
    "plan, changes": (lambda f, d: ["plan", *folder(f, d, "num_ctx 4096")], 1),
    "plan, a broken file": (lambda f, d: ["plan", *folder(f, d, "num_ctx abc")], 2),
    "apply --yes": (lambda f, d: ["apply", *folder(f, d, "num_ctx 4096"), "--yes"], 0),
    "apply on a pipe without --yes": (lambda f, d: ["apply", *folder(f, d, "num_ctx 4096")], 2),
    # autopilot (the demo has an update upstream: something to do)
    "autopilot on a pipe without --yes": (
        lambda f, d: ["autopilot", "--checks", modelfile(d, "")],  # an empty checks file
        2,
    ),
    "autopilot --yes, a pull and rebuilds that pass": (
        lambda f, d: ["autopilot", "--checks", modelfile(d, ""), "--yes"],
        0,
    ),
}


@pytest.mark.parametrize(("setup", "code"), CASES.values(), ids=CASES.keys())
def test_every_command_follows_the_exit_code_table(
    fake: FakeOllama, tmp_path: Path, setup: Setup, code: int
) -> None:
    db = tmp_path / "db"
    args = setup(fake, db)
    assert run(fake, db, *args) == code


def test_an_unreachable_server_is_2_for_every_command(tmp_path: Path) -> None:
    db = str(tmp_path / "db")
    for args in (["status"], ["history", CHILD], ["rebuild", "--all-stale", "--yes"]):
        assert main([*args, "--host", "127.0.0.1:9", "--db", db]) == 2
