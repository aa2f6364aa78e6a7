"""The Disk view (D, and the palette), and the bytes the status line, x, K and R talk about."""

from __future__ import annotations

from textual.command import CommandList, CommandPalette
from textual.widgets import DataTable, Static

from ollama_lineage.fake_ollama import FakeOllama
from ollama_lineage.ui.screens.confirm import ConfirmScreen
from ollama_lineage.ui.screens.disk import DiskScreen
from ollama_lineage.ui.screens.rebuild import RebuildScreen
from ollama_lineage.ui.widgets.status_line import StatusLine

from .conftest import AppFactory, names, press_for, ready, row, select, wait_for

MARIO = "llama3.2:latest-mario"


def text(screen: object, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())  # type: ignore[attr-defined]


async def test_D_shows_what_each_model_holds(make_app: AppFactory) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        screen = await press_for(pilot, "D", DiskScreen)
        await wait_for(pilot, lambda: screen.report is not None)
        table = screen.query_one(DataTable)
        cells = {
            str(table.get_row(key)[0]): [str(cell) for cell in table.get_row(key)]
            for key in table.rows
        }
        assert cells["phi4:latest"][1] == "9.1 GB"
        assert cells["qwq:latest_20K"][2] == "0 B"  # its weights are its base's
        assert "sizes approximate" in text(screen, "#disk-title")
        assert "stale derivatives alone hold 2.0 GB" in text(screen, "#disk-summary")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(pilot.app.screen, DiskScreen))


async def test_the_palette_opens_the_disk_view(make_app: AppFactory) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        found = app.screen.query_one(CommandList)
        await pilot.press(*"disk")
        await wait_for(pilot, lambda: found.option_count and "Disk" in str(found.options[0].prompt))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DiskScreen))


async def test_status_line_x_and_K_say_what_backups_hold(
    make_app: AppFactory, fake: FakeOllama
) -> None:
    async with make_app().run_test(size=(120, 36)) as pilot:
        app = await ready(pilot)
        status = app.main.query_one(StatusLine)
        assert "backups hold" not in str(status.render())
        await select(pilot, MARIO)
        modal = await press_for(pilot, "R", RebuildScreen)
        assert "the backups will then hold 2.0 GB of old weights" in text(modal, "#rebuild-title")
        await pilot.press("enter")
        await wait_for(pilot, lambda: modal.finished)
        assert "(deletes its backup, frees 2.0 GB)" in text(modal, "#rebuild-overall")
        await pilot.press("escape")
        backup = next(n for n in names(app) if n.startswith(MARIO + "."))
        await wait_for(pilot, lambda: "≡ backups hold 2.0 GB" in str(status.render()))
        await select(pilot, backup)
        confirm = await press_for(pilot, "x", ConfirmScreen)
        assert "It frees 2.0 GB" in confirm.question
        await pilot.press("y")
        await wait_for(pilot, lambda: row(app, backup) == "")
        await wait_for(pilot, lambda: "backups hold" not in str(status.render()))
