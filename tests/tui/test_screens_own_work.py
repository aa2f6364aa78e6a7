"""A dialog closed while its work is in flight: the app stays up and tells no false story."""

from __future__ import annotations

from ollama_lineage.fake_ollama import FakeOllama
from ollama_lineage.ui.screens.compare import CompareScreen
from ollama_lineage.ui.screens.main import MainScreen
from ollama_lineage.ui.screens.rebuild import RebuildScreen

from .conftest import AppFactory, names, press_for, ready, select, wait_for


async def test_closing_the_dialog_while_k_deletes_keeps_the_app(
    make_app: AppFactory, fake: FakeOllama
) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        await select(pilot, "llama3.2:latest-mario")
        modal = await press_for(pilot, "r", RebuildScreen)
        await pilot.press("enter")
        await wait_for(pilot, lambda: modal.finished)
        [backup] = modal.backups
        fake.set_latency(0.5, "/api/delete")
        fake.clear_requests()
        await pilot.press("K", "escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        # The delete under way finishes (a backup is never half gone); the app carries on.
        await wait_for(pilot, lambda: fake.digest(backup) is None)
        await wait_for(pilot, lambda: backup not in names(app))
        assert app.is_running and app._exception is None
        assert [r.path for r in fake.requests].count("/api/delete") == 1


async def test_leaving_compare_mid_stream_records_no_failure(
    make_app: AppFactory, fake: FakeOllama
) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        await select(pilot, "llama3.2:latest-mario")
        modal = await press_for(pilot, "r", RebuildScreen)
        await pilot.press("enter")
        await wait_for(pilot, lambda: modal.finished)
        await pilot.press("escape")
        fake.set_token_delay(0.05)
        screen = await press_for(pilot, "c", CompareScreen)
        await pilot.press(*"hello", "enter")
        await wait_for(pilot, lambda: screen.texts[0])
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        fake.set_token_delay(0)
        # The old stream is over (its worker is gone) before the History is read.
        await wait_for(
            pilot, lambda: not [w for w in app.workers if w.group == "compare" and w.is_running]
        )
        events = await app.session.store.history(app.settings.host_key, "llama3.2:latest-mario")
        assert not [e for e in events if e.status == "failed"], events
        assert app.is_running and app._exception is None
