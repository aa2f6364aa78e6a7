"""``C``: the model's checks on its newest backup (old), then on the model (new), each alone.

The checks are this screen's worker (``check_against_backup`` records every result), so
they stop when it closes; it shows each result as it comes in. Without a backup
the title says so at once and the checks run on the model alone. Escape closes, and stops
what has not run yet (the results so far are recorded).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ...services.autopilot import check_against_backup, run_checks
from ...services.checks import Check, CheckResult, ChecksFile
from ...services.problems import describe
from ...services.session import Session
from ..messages import FlowFailed, ModelsChanged
from ..widgets.check_results import CheckResults


class ChecksScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,enter", "close", "Close (stops what has not run)"),
        Binding("j,down", "scroll(1)", "Down", show=False),
        Binding("k,up", "scroll(-1)", "Up", show=False),
    ]

    def __init__(
        self, session: Session, model: str, backup: str | None, checks_file: ChecksFile
    ) -> None:
        super().__init__()
        self.session = session
        self.model = model
        self.backup = backup
        self.checks_file = checks_file
        self.checks: list[Check] = checks_file.for_model(model)
        self.path: Path | None = checks_file.path
        self.running = True
        self.error: str | None = None
        self._count = 0

    @property
    def sides(self) -> tuple[str, ...]:
        return ("old", "new") if self.backup else ("model",)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="checks-dialog"):
            yield Static(self._title(), id="checks-title")
            with VerticalScroll(id="checks-scroll", can_focus=False):
                yield CheckResults(self.checks, self.sides, id="checks-results")
            yield Static(self._progress(), id="checks-status")
            with Horizontal(classes="buttons"):
                yield Button("Close (esc)", id="close")

    def _title(self) -> str:
        model = f"[b]{escape(self.model)}[/b]"
        source = f"from {escape(str(self.path))}" if self.path else "no checks file: smoke check"
        if self.backup is None:
            return (
                f"Checks of {model} ({source})\n"
                "It has no backup to compare with (a rebuild makes one): they run on it alone."
            )
        return (
            f"Checks of {model} ({source}), one model loaded at a time:\n"
            f"old  {escape(self.backup)} (newest backup) first\n"
            f"new  {escape(self.model)} next"
        )

    def _progress(self) -> str:
        total = len(self.checks) * len(self.sides)
        return f"running check {min(self._count + 1, total)} of {total}…"

    def on_mount(self) -> None:
        self.run_model_checks()

    @work(exclusive=True, group="checks")
    async def run_model_checks(self) -> None:
        """Old then new, each alone (the service unloads each after its last check); every
        result is recorded by the service as it comes, for the Overview and the History."""
        try:
            if self.backup:
                await check_against_backup(
                    self.session, self.checks_file, self.model, self.backup, self.add_result
                )
            else:
                await run_checks(
                    self.session, self.model, self.checks, on_result=partial(self.add_result, 0)
                )
        except Exception as exc:
            self.finish(describe(exc))
            self.app.post_message(FlowFailed("checks", self.model, exc, quiet=True))
        else:
            self.finish()
        self.app.post_message(ModelsChanged())

    def add_result(self, side: int, result: CheckResult) -> None:
        if not self.is_attached:
            return
        self._count += 1
        self.query_one(CheckResults).add(side, result)
        self.query_one("#checks-status", Static).update(self._progress())

    def finish(self, error: str | None = None) -> None:
        """Done (error None) or stopped by ``error``; says how the model did."""
        self.running, self.error = False, error
        if not self.is_attached:
            return
        results = self.query_one(CheckResults)
        results.stop()
        total = len(self.checks)
        new = len(self.sides) - 1
        passed = results.passed(new)
        if error:
            verdict = f"✗ stopped: {escape(error)}"
        elif self.backup:
            verdict = (
                f"new passed {passed} of {total}, old {results.passed(0)} of {total}"
                if passed < total
                else f"new passed all {total}, old {results.passed(0)} of {total}"
            )
        else:
            verdict = f"passed {passed} of {total}"
        self.set_class(bool(error) or passed < total, "-failed")
        self.query_one("#checks-status", Static).update(
            f"{verdict} · recorded: History (y) · esc closes"
        )

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_close()

    def action_scroll(self, step: int) -> None:
        self.query_one("#checks-scroll", VerticalScroll).scroll_relative(y=step, animate=False)

    def action_close(self) -> None:
        if self.running:  # the checks are this screen's worker: they stop as it goes
            self.notify("checks stopped; the results so far are recorded (History, y)")
            self.app.post_message(ModelsChanged())
        self.dismiss(None)
