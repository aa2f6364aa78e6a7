"""P pins a model out of R (and autopilot); C runs its checks on its backup and on it.

The stand-in's generate answers with words from a fixed vocabulary, the first capitalised: a
reply always matches '^[A-Z]' and never contains "zebra", so one check holds and one does not.
"""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Static

from ollama_lineage.fake_ollama import FakeOllama
from ollama_lineage.ui.app import LineageApp
from ollama_lineage.ui.screens.checks import ChecksScreen
from ollama_lineage.ui.screens.rebuild import RebuildScreen
from ollama_lineage.ui.widgets.check_list import CheckList
from ollama_lineage.ui.widgets.check_results import CheckResults
from tests.checks_samples import sentence_check, zebra_check

from .conftest import AppFactory, press_for, ready, row, select, wait_for
from .test_safe_rebuild import rebuild

MARIO = "llama3.2:latest-mario"
CHECKS = sentence_check(MARIO) + "\n" + zebra_check(MARIO)


def text_of(app: LineageApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def test_a_pinned_model_is_marked_and_R_leaves_it_and_its_children_out(
    make_app: AppFactory, fake: FakeOllama
) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        fake.pull("qwq:latest")  # qwq:latest_20K, and its child, go stale
        await wait_for(pilot, lambda: "stale" in row(app, "qwq:latest_20K"))
        everything = app.session.syncer.snapshot.stale_in_order()
        assert {"qwq:latest_20K", "qwq:latest_20K-coder", MARIO} <= set(everything)

        await select(pilot, "qwq:latest_20K")
        await pilot.press("P")
        await wait_for(pilot, lambda: "⚑" in row(app, "qwq:latest_20K"))
        assert row(app, "qwq:latest_20K").split()[1:3] == ["qwq:latest_20K", "⚑"]
        assert "⚑" not in row(app, "qwq:latest_20K-coder")  # the mark is the pin's own
        assert await app.session.store.pins(app.settings.host_key) == {"qwq:latest_20K"}
        await wait_for(pilot, lambda: "pinned" in text_of(app, "#overview-facts"))
        assert "kept out of R and autopilot" in text_of(app, "#overview-facts")
        assert "⚑ 1 pinned" in text_of(app, "#status")

        modal = await press_for(pilot, "R", RebuildScreen)
        assert "qwq:latest_20K" not in modal.names
        assert "qwq:latest_20K-coder" not in modal.names
        assert MARIO in modal.names
        held = text_of(app, "#rebuild-held")
        assert "qwq:latest_20K: pinned" in held
        assert "qwq:latest_20K-coder: built on qwq:latest_20K, which is pinned" in held
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, RebuildScreen))

        await pilot.press("P")  # the cursor is still on it: unpin
        await wait_for(
            pilot, lambda: row(app, "qwq:latest_20K") and "⚑" not in row(app, "qwq:latest_20K")
        )
        assert await app.session.store.pins(app.settings.host_key) == set()
        modal = await press_for(pilot, "R", RebuildScreen)
        assert modal.names == everything
        assert not modal.query("#rebuild-held")


async def test_R_with_only_pinned_models_stale_says_so_and_opens_nothing(
    make_app: AppFactory,
) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        await wait_for(pilot, lambda: app.session.syncer.snapshot.stale_in_order() == [MARIO])
        await select(pilot, MARIO)
        await pilot.press("P")
        await wait_for(pilot, lambda: "⚑" in row(app, MARIO))
        await pilot.press("R")
        await wait_for(
            pilot,
            lambda: any("nothing to rebuild in bulk" in n.message for n in app._notifications),
        )
        said = next(n.message for n in app._notifications if "in bulk" in n.message)
        assert f"{MARIO} is pinned" in said
        await pilot.pause(0.2)
        assert not isinstance(app.screen, RebuildScreen)


async def test_a_pin_made_outside_the_app_shows_at_the_next_poll(make_app: AppFactory) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        await app.session.store.pin(app.settings.host_key, "phi4:latest")  # as `pin` would
        await wait_for(pilot, lambda: "⚑" in row(app, "phi4:latest"))


async def test_checks_run_on_the_backup_then_the_model_and_land_in_history(
    make_app: AppFactory, fake: FakeOllama, no_user_checks: Path
) -> None:
    no_user_checks.write_text(CHECKS, encoding="utf-8")
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        backup = await rebuild(pilot, MARIO)
        await select(pilot, MARIO)
        fake.clear_requests()
        await pilot.press("C")
        await wait_for(pilot, lambda: isinstance(app.screen, ChecksScreen))
        modal = app.screen
        assert isinstance(modal, ChecksScreen) and modal.backup == backup
        await wait_for(pilot, lambda: not modal.running)
        assert modal.error is None
        results = modal.query_one(CheckResults)
        verdicts = {key: r.passed for key, r in results.results.items()}
        assert verdicts == {(0, 0): True, (0, 1): False, (1, 0): True, (1, 1): False}
        assert results.results[(1, 1)].why == "reply does not contain 'zebra'"
        # One model at a time: the backup's checks, unloaded after its last; then the model's.
        generated = [
            (r.body["model"], r.body.get("keep_alive"))
            for r in fake.requests
            if r.path == "/api/generate"
        ]
        assert generated == [(backup, None), (backup, 0), (MARIO, None), (MARIO, 0)]
        status = text_of(app, "#checks-status")
        assert "new passed 1 of 2, old 1 of 2" in status
        assert modal.has_class("-failed")

        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ChecksScreen))
        checks = app.main.query_one(CheckList)
        await wait_for(pilot, lambda: [s.last is not None for s in checks.statuses] == [True, True])
        assert [s.last.passed for s in checks.statuses if s.last] == [True, False]
        overview = str(checks.render())
        assert '✓ "starts a sentence"  passed' in overview
        assert '✗ "knows zebras"       failed' in overview
        assert "reply does not contain 'zebra'" in overview

        await pilot.press("y")
        table = app.main.query_one("#history-table", DataTable)
        await wait_for(pilot, lambda: table.row_count >= 3)
        notes = [str(table.get_row_at(i)[-1]) for i in range(table.row_count)]
        kinds = [(str(table.get_row_at(i)[1]), str(table.get_row_at(i)[2])) for i in range(2)]
        assert kinds == [("check", "failed"), ("check", "passed")]
        assert notes[0] == "check \"knows zebras\" failed: reply does not contain 'zebra'"


async def test_checks_without_a_backup_say_so_and_run_on_the_model_alone(
    make_app: AppFactory, fake: FakeOllama, no_user_checks: Path
) -> None:
    no_user_checks.write_text(CHECKS, encoding="utf-8")
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        await select(pilot, MARIO)
        fake.clear_requests()
        modal = await press_for(pilot, "C", ChecksScreen)
        assert "It has no backup to compare with" in text_of(app, "#checks-title")
        await wait_for(pilot, lambda: not modal.running)
        assert modal.sides == ("model",)
        assert "passed 1 of 2" in text_of(app, "#checks-status")
        models = {r.body["model"] for r in fake.requests if r.path == "/api/generate"}
        assert models == {MARIO}


async def test_a_base_without_checks_gets_its_smoke_check(
    make_app: AppFactory, no_user_checks: Path
) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        await select(pilot, "phi4:latest")
        checks = app.main.query_one(CheckList)
        await wait_for(pilot, lambda: [s.check.label for s in checks.statuses] == ["smoke"])
        assert "never run" in str(checks.render())
        modal = await press_for(pilot, "C", ChecksScreen)
        await wait_for(pilot, lambda: not modal.running)
        assert "passed 1 of 1" in text_of(app, "#checks-status")
        assert not modal.has_class("-failed")


async def test_a_bad_checks_file_is_said_with_its_line_and_the_app_goes_on(
    make_app: AppFactory, no_user_checks: Path
) -> None:
    no_user_checks.write_text(
        f'[[check]]\nmodel = "{MARIO}"\nprompt = "hi"\ncontain = "x"\n', encoding="utf-8"
    )
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        await select(pilot, MARIO)
        checks = app.main.query_one(CheckList)
        await wait_for(pilot, lambda: checks.problem is not None)
        assert "checks.toml:4: check 1: unknown key 'contain'" in str(checks.render())
        await pilot.press("C")
        await wait_for(
            pilot, lambda: any("unknown key 'contain'" in n.message for n in app._notifications)
        )
        assert not isinstance(app.screen, ChecksScreen)
        assert app.is_running


async def test_a_server_lost_during_the_checks_is_said_in_the_dialog_and_the_app_goes_on(
    make_app: AppFactory, fake: FakeOllama, no_user_checks: Path
) -> None:
    no_user_checks.write_text(CHECKS, encoding="utf-8")
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        await select(pilot, MARIO)
        fake.fail("/api/generate", mode="drop")  # the server goes away under the first one
        modal = await press_for(pilot, "C", ChecksScreen)
        await wait_for(pilot, lambda: not modal.running, timeout=15)
        assert modal.error
        assert "stopped" in text_of(app, "#checks-status")
        assert modal.has_class("-failed")
        await pilot.press("escape")
        assert app.is_running
        await wait_for(pilot, lambda: not isinstance(app.screen, ChecksScreen))
