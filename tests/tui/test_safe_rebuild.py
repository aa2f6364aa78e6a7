"""Pull, rollback, backup deletion, compare, track and edit, driven by their keys."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from textual.pilot import Pilot

from ollama_lineage.fake_ollama import FakeOllama
from ollama_lineage.ui.app import LineageApp
from ollama_lineage.ui.screens.compare import CompareScreen
from ollama_lineage.ui.screens.confirm import ConfirmScreen
from ollama_lineage.ui.screens.pick_base import PickBaseScreen
from ollama_lineage.ui.screens.pull import PullScreen
from ollama_lineage.ui.screens.rebuild import RebuildScreen
from ollama_lineage.ui.widgets.diff_view import DiffView

from .conftest import AppFactory, names, press_for, ready, row, select, wait_for


async def rebuild(pilot: Pilot[None], name: str) -> str:
    """Rebuild ``name`` through the modal; return its backup's name."""
    app = pilot.app
    assert isinstance(app, LineageApp)
    await select(pilot, name)
    modal = await press_for(pilot, "r", RebuildScreen)
    plan = modal.plan
    assert plan is not None
    await pilot.press("enter")
    await wait_for(pilot, lambda: modal.finished)
    await pilot.press("escape")
    await wait_for(pilot, lambda: plan.backup in names(app))
    return plan.backup


async def test_pull_shows_progress_and_refreshes_the_tree(
    make_app: AppFactory, fake: FakeOllama
) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        await wait_for(pilot, lambda: "update available" in row(app, "qwq:latest"))
        await select(pilot, "qwq:latest")
        await pilot.press("p")
        assert isinstance(app.screen, PullScreen)
        modal = app.screen
        await wait_for(pilot, lambda: modal.finished)
        assert "is now" in str(modal.query_one("#pull-status").render())
        await pilot.press("escape")
        await wait_for(pilot, lambda: "stale" in row(app, "qwq:latest_20K"))
        assert any(r.path == "/api/pull" for r in fake.requests)


async def test_rollback_and_delete_backup_ask_first(make_app: AppFactory, fake: FakeOllama) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        digest = fake.digest("llama3.2:latest-mario")
        backup = await rebuild(pilot, "llama3.2:latest-mario")
        assert fake.digest("llama3.2:latest-mario") != digest
        await pilot.press("b")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await wait_for(pilot, lambda: fake.digest("llama3.2:latest-mario") == digest)
        # The old version is live, not what the recipe builds: the tree says so.
        await wait_for(pilot, lambda: "rolled back" in row(app, "llama3.2:latest-mario"))
        await select(pilot, backup)
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert fake.digest(backup) is not None
        await pilot.press("x", "y")
        await wait_for(pilot, lambda: backup not in names(app))
        assert fake.digest(backup) is None


async def test_compare_streams_both_sides_then_keep(make_app: AppFactory, fake: FakeOllama) -> None:
    fake.pull("qwq:latest")  # a rebuild that changes nothing keeps no backup to compare with
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        backup = await rebuild(pilot, "qwq:latest_20K")
        screen = await press_for(pilot, "c", CompareScreen)
        await pilot.press(*"why is the sky blue?", "enter")
        await wait_for(pilot, lambda: "tok/s" in str(screen.query_one("#compare-stats-1").render()))
        assert screen.texts[0] and screen.texts[1]
        generated = [r.body["model"] for r in fake.requests if r.path == "/api/generate"]
        assert sorted(generated) == sorted([backup, "qwq:latest_20K"])
        await pilot.press("f2")
        await wait_for(pilot, lambda: fake.digest(backup) is None)
        await wait_for(pilot, lambda: backup not in names(app))


async def test_track_asks_before_adopting_under_a_base_whose_weights_it_never_had(
    make_app: AppFactory, fake: FakeOllama
) -> None:
    """t on a model made from a GGUF file, picking an unrelated base: the guard's reason is
    asked about; No records nothing, Adopt anyway nests it under the base."""
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        await select(pilot, "my-gguf:latest")
        before = row(app, "my-gguf:latest")

        async def pick_phi4() -> ConfirmScreen:
            await pilot.press("t")
            picker = app.screen
            assert isinstance(picker, PickBaseScreen)
            await pilot.press(*["j"] * picker.bases.index("phi4:latest"), "enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            assert isinstance(app.screen, ConfirmScreen)
            return app.screen

        question = await pick_phi4()
        assert "never had the weights" in question.question
        await pilot.press("n")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert row(app, "my-gguf:latest") == before

        await pick_phi4()
        await pilot.press("y")
        await wait_for(pilot, lambda: row(app, "my-gguf:latest").split()[2:3] != ["untracked"])
        order = names(app)
        assert order.index("my-gguf:latest") == order.index("phi4:latest") + 1


@pytest.fixture
def editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An $EDITOR that replaces the file with ``next.txt``, as a user typing would."""
    replacement = tmp_path / "next.txt"
    script = tmp_path / "edit.py"
    script.write_text(f"import shutil, sys\nshutil.copyfile({str(replacement)!r}, sys.argv[1])\n")
    monkeypatch.setenv("VISUAL", f"{sys.executable} {script}")
    return replacement


async def test_edit_recipe_keeps_broken_text_then_saves(
    make_app: AppFactory, fake: FakeOllama, editor: Path
) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        await select(pilot, "qwq:latest_20K")
        editor.write_text("FROM qwq:latest\nPARAMETER num_ctx lots\n")
        fake.clear_requests()
        await pilot.press("e")
        await wait_for(pilot, lambda: "qwq:latest_20K" in app._drafts)
        assert "lots" in app._drafts["qwq:latest_20K"]
        errors = [n.message for n in app._notifications if n.severity == "error"]
        assert any("line 2" in m and "invalid int value" in m for m in errors), errors
        assert not [r for r in fake.requests if r.method in ("POST", "DELETE")]
        editor.write_text("FROM qwq:latest\nPARAMETER num_ctx 32768\nPARAMETER num_thread 16\n")
        fake.clear_requests()
        await pilot.press("e")
        await wait_for(pilot, lambda: "qwq:latest_20K" not in app._drafts)
        detail = app.main.detail
        await wait_for(
            pilot,
            lambda: (
                detail.detail
                and detail.detail.plan
                and detail.detail.plan.request["parameters"]["num_ctx"] == 32768
            ),
        )
        assert "changed" in detail.query_one(DiffView).summary
        assert not [r for r in fake.requests if r.method == "POST" and r.path == "/api/create"]


async def test_rollback_without_a_backup_says_so_before_asking(
    make_app: AppFactory, fake: FakeOllama
) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        await select(pilot, "llama3.2:latest-mario")
        fake.clear_requests()
        await pilot.press("b")
        await wait_for(pilot, lambda: any("no backup" in n.message for n in app._notifications))
        assert not isinstance(app.screen, ConfirmScreen)
        assert not [r for r in fake.requests if r.method in ("POST", "DELETE")]


async def test_editor_runs_through_the_shell_as_git_runs_it(
    make_app: AppFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``EDITOR='VAR=value editor --wait'``: a prefix and an argument, as a shell reads them."""
    script = tmp_path / "edit.sh"
    script.write_text(
        '#!/bin/sh\n[ "$1" = --wait ] && [ "$WHO" = lineage ] || exit 1\n'
        'printf "FROM qwq:latest\\nPARAMETER num_ctx 4096\\n" > "$2"\n'
    )
    script.chmod(0o755)
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", f"WHO=lineage {script} --wait")
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        await select(pilot, "qwq:latest_20K")
        await pilot.press("e")
        await wait_for(pilot, lambda: any("saved" in n.message for n in app._notifications))
        stored = await app.session.rebuilder.recipe("qwq:latest_20K")
        assert "num_ctx 4096" in stored.text
