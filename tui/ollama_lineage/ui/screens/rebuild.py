"""``r`` / ``R``: the plan, a confirmation, then the streamed create progress in place.

The screen only shows things and reports the user's choices (``Confirmed``, ``KeepAll``); the
app runs the rebuilds and feeds progress back through ``start``/``progress``/``done``/
``failed``. ``R`` lists every model with the same warnings ``r`` shows, each with a tick box
(space unticks), and says which stale models it holds back (pinned, or built on a pin).
Escape before confirming closes; while running it cancels what has not started. Once done,
``K`` keeps every rebuilt model (their backups go; the app's guard keeps any backup that is
the only copy).
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.markup import escape
from rich.measure import Measurement
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Log, ProgressBar, SelectionList, Static
from textual.widgets.selection_list import Selection

from ...core.diff import summarize
from ...core.states import State
from ...ollama.client import Progress
from ...services.pins import PIN_MARK
from ...services.rebuild import Plan


def plan_warnings(plan: Plan, *, short: bool = False, batch: Iterable[str] = ()) -> list[str]:
    """What a user must know before this rebuild: the same words for ``r`` and ``R``."""
    found = []
    if plan.guessed:
        found.append(
            "guessed recipe: check its diff (d)"
            if short
            else "guessed recipe: the base had changed before this app first saw the model, "
            "so an upstream change may look like an override. Check the diff (d)."
        )
    if plan.stale_base:
        if plan.stale_base in batch:
            found.append(f"base {plan.stale_base} is itself stale: it is rebuilt first, above")
        elif short:
            found.append(f"base {plan.stale_base} is itself stale: this builds on its old version")
        else:
            found.append(
                f"{plan.stale_base} is itself out of date: this builds on its old version. "
                "R rebuilds parents first."
            )
    return found


@dataclass
class BatchEntry:
    """One line of ``R``: the model, its state, and its plan's warnings (or why no plan)."""

    name: str
    state: State
    plan: Plan | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


class Hanging:
    """Indented text (JSON) whose wrapped lines keep their indent, plus two: nested keys
    still read as nested when a long value wraps."""

    def __init__(self, text: str, style: str = "") -> None:
        self.text = text
        self.style = style

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = max(options.max_width, 8)
        for line in self.text.splitlines() or [""]:
            indent = min(len(line) - len(line.lstrip(" ")), width // 2)
            body = line.lstrip(" ")
            pieces = Text(body, style=self.style).wrap(console, width - indent, overflow="fold")
            if len(pieces) <= 1:
                yield Text(" " * indent + body, style=self.style)
                continue
            head = pieces[0].plain
            yield Text(" " * indent + head, style=self.style)
            rest = Text(body[len(head) :].lstrip(" "), style=self.style)
            for piece in rest.wrap(console, max(width - indent - 2, 4), overflow="fold"):
                yield Text(" " * (indent + 2)) + piece

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        longest = max((len(line) for line in self.text.splitlines()), default=0)
        return Measurement(min(8, longest), longest)


class RebuildScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("enter,y", "confirm", "Rebuild", priority=True),
        Binding("escape", "cancel", "Cancel / close"),
        Binding("K", "keep_all", "Keep all (delete their backups)"),
        Binding("j", "cursor('down')", "Down", show=False),
        Binding("k", "cursor('up')", "Up", show=False),
    ]

    class Confirmed(Message):
        def __init__(self, screen: RebuildScreen) -> None:
            super().__init__()
            self.screen = screen

    class KeepAll(Message):
        """Keep every model rebuilt here: delete the backups they were given."""

        def __init__(self, screen: RebuildScreen, backups: list[str]) -> None:
            super().__init__()
            self.screen = screen
            self.backups = backups

    def __init__(
        self,
        names: list[str],
        plan: Plan | None = None,
        entries: list[BatchEntry] | None = None,
        held: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.names = names
        self.plan = plan
        self.entries = entries or []
        self.held = held or {}  # stale, but not offered: name → why
        self.running = False
        self.finished = False
        self.cancelled = False
        self.failures = 0
        self.backups: list[str] = []  # made by the rebuilds that succeeded here
        self.kept = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="rebuild-dialog"):
            yield Static(self._title(), id="rebuild-title")
            if self.plan is None:
                if self.held:
                    yield Static(self._held_view(), id="rebuild-held")
                yield SelectionList[str](*self._selections(), id="rebuild-pick")
            else:
                with VerticalScroll(id="rebuild-plan", can_focus=False):
                    yield Static(self._plan_view(), id="rebuild-plan-text")
            yield Static("", id="rebuild-overall")
            yield ProgressBar(id="rebuild-bar", show_eta=False)
            yield Log(id="rebuild-log", max_lines=500)
            with Horizontal(classes="buttons"):
                yield Button("Keep all (K)", variant="success", id="keep")
                yield Button(self._confirm_label(), variant="primary", id="confirm")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#keep", Button).display = False

    # --- before confirming -----------------------------------------------------------------

    def _title(self) -> str:
        if self.plan:
            return f"Rebuild [b]{escape(self.plan.child)}[/b] from {escape(self.plan.base)}"
        return (
            f"Rebuild {len(self.names)} stale model(s), parents first — "
            "space unticks, enter starts the ticked ones"
        )

    def _held_view(self) -> str:
        lines = [f"{escape(name)}: {escape(why)}" for name, why in self.held.items()]
        return f"[b]{PIN_MARK} held back[/b] (P unpins; r still rebuilds one)\n" + "\n".join(
            f"  {line}" for line in lines
        )

    def _confirm_label(self) -> str:
        count = len(self.names)
        return "Rebuild (enter)" if self.plan else f"Rebuild {count} (enter)"

    def _selections(self) -> list[Selection[str]]:
        entries = self.entries or [BatchEntry(name, State.STALE) for name in self.names]
        picks = []
        for entry in entries:
            line = Text.assemble((entry.name, "bold"), f"  {entry.state.symbol} {entry.state.word}")
            for warning in entry.warnings:
                line.append(f" — ⚠ {warning}", "bold")
            if entry.error:
                line.append(f" — ✗ {entry.error}", "bold")
            picks.append(
                Selection(line, entry.name, entry.error is None, disabled=bool(entry.error))
            )
        return picks

    def _plan_view(self) -> Group:
        assert self.plan is not None
        plan = self.plan
        lines = [
            f"base digest  {plan.base_digest[:12]}",
            f"backup       {escape(plan.backup)}",
            f"changes      {summarize(plan.diff)} (d shows the diff)",
        ]
        lines += [f"[b]⚠ {escape(w)}[/b]" for w in plan_warnings(plan)]
        lines += ["", "POST /api/create"]
        header = Text.from_markup("\n".join(lines))
        return Group(header, Hanging(json.dumps(plan.request, indent=2)))

    def on_selection_list_selected_changed(self, event: SelectionList.SelectedChanged[str]) -> None:
        chosen = set(event.selection_list.selected)
        self.names = [name for name in self._all_names() if name in chosen]
        button = self.query_one("#confirm", Button)
        button.label = self._confirm_label()
        button.disabled = not self.names

    def _all_names(self) -> list[str]:
        return [e.name for e in self.entries] if self.entries else list(self.names)

    def action_cursor(self, direction: str) -> None:
        for pick in self.query(SelectionList):
            pick.action_cursor_down() if direction == "down" else pick.action_cursor_up()

    def action_confirm(self) -> None:
        if self.running or self.finished:
            if self.finished:
                self.dismiss()
            return
        if not self.names:
            self.notify("nothing is ticked: space ticks a model", severity="warning")
            return
        self.show_running()
        self.post_message(self.Confirmed(self))

    def show_running(self) -> None:
        """Swap the plan (or the list) for the progress view: the log and the bar."""
        self.running = True
        self.add_class("-running")
        for pick in self.query(SelectionList):
            pick.disabled = True
        self.query_one("#confirm", Button).disabled = True
        self.query_one("#cancel", Button).label = "Stop after current (esc)"

    def action_cancel(self) -> None:
        if self.running and not self.finished:
            self.cancelled = True
            self.query_one("#rebuild-overall", Static).update(
                "cancelling: the current build finishes, the rest will not start"
            )
            return
        self.dismiss()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "confirm":
            self.action_confirm()
        elif event.button.id == "keep":
            self.action_keep_all()
        else:
            self.action_cancel()

    # --- while running ---------------------------------------------------------------------

    def start(self, index: int, name: str) -> None:
        self.query_one("#rebuild-overall", Static).update(
            f"[{index + 1}/{len(self.names)}] rebuilding {escape(name)}"
        )
        self.query_one(ProgressBar).update(total=None, progress=0)
        self.query_one(Log).write_line(f"── {name}")

    def progress(self, progress: Progress) -> None:
        log = self.query_one(Log)
        bar = self.query_one(ProgressBar)
        if progress.total:
            bar.update(total=progress.total, progress=progress.completed or 0)
        if not log.lines or log.lines[-1] != progress.status:
            log.write_line(progress.status)

    def done(self, name: str, digest: str, backup: str | None = None) -> None:
        """``backup`` None: the create gave the model it already had, so none was kept."""
        if backup:
            self.backups.append(backup)
            self.query_one(Log).write_line(f"✓ {name} is now {digest[:12]}")
        else:
            self.query_one(Log).write_line(f"✓ {name} unchanged ({digest[:12]}), no backup kept")

    def not_due(self, name: str, state: str) -> None:
        self.query_one(Log).write_line(f"· {name}: nothing to rebuild, now {state}")

    def failed(self, name: str, error: str) -> None:
        """Wrapped to the log's width: the difference a verification found must be read whole."""
        self.failures += 1
        self.add_class("-failed")
        log = self.query_one(Log)
        width = max(40, log.scrollable_content_region.width - 1)
        for line in textwrap.wrap(f"✗ {error}", width, subsequent_indent="  "):
            log.write_line(line)

    def finish(self, skipped: list[str]) -> None:
        self.running, self.finished = False, True
        if skipped:
            self.query_one(Log).write_line("not started: " + ", ".join(skipped))
        verdict = f"{self.failures} failed" if self.failures else "done"
        count = len(self.backups)
        keep = (
            ""
            if not count
            else "; K keeps it (deletes its backup)"
            if count == 1
            else f"; K keeps all {count} (deletes their backups)"
        )
        self.query_one("#rebuild-overall", Static).update(
            f"{verdict}{keep}; enter or esc closes (c compares old and new)"
        )
        bar = self.query_one(ProgressBar)
        if not self.failures:
            bar.update(total=1, progress=1)
        self.query_one("#confirm", Button).display = False  # nothing left to confirm
        keep_button = self.query_one("#keep", Button)
        keep_button.label = "Keep (K)" if count == 1 else f"Keep all {count} (K)"
        keep_button.display = bool(count)
        self.query_one("#cancel", Button).label = "Close (esc)"

    # --- keeping ---------------------------------------------------------------------------

    def action_keep_all(self) -> None:
        if not self.finished or not self.backups or self.kept:
            return
        self.kept = True
        self.query_one("#keep", Button).disabled = True
        self.query_one("#rebuild-overall", Static).update("deleting the backups…")
        self.post_message(self.KeepAll(self, list(self.backups)))

    def kept_result(self, deleted: list[str], problems: list[str]) -> None:
        log = self.query_one(Log)
        for backup in deleted:
            log.write_line(f"deleted backup {backup}")
        for problem in problems:
            log.write_line(f"kept: {problem}")
        self.query_one("#keep", Button).display = False
        self.query_one("#rebuild-overall", Static).update(
            f"kept {len(deleted)} rebuilt model(s)"
            + (f", {len(problems)} backup(s) left" if problems else "")
            + "; enter or esc closes"
        )
