"""``r`` / ``R``: the plan, a confirmation, then the streamed create progress in place.

The screen runs its own rebuilds and ``K`` in workers of its own, so they end with it; it
tells the app only that models changed (``ModelsChanged``) or a flow failed. ``R`` lists
every model with the same warnings ``r`` shows, each with a tick box (space unticks), and
says which stale models it holds back (pinned, or built on a pin).
Escape before confirming closes; while running it cancels what has not started. Once done,
``K`` keeps every rebuilt model (their backups go; the app's guard keeps any backup that is
the only copy); closing while ``K`` deletes lets the delete under way finish, never the rest.
"""

from __future__ import annotations

import asyncio
import json
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.markup import escape
from rich.measure import Measurement
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Log, ProgressBar, Static

from ...core.diff import summarize
from ...core.disk import frees, from_listing, human_bytes
from ...core.lineage import NEEDS_REBUILD
from ...core.states import State
from ...ollama.client import Progress
from ...services.pins import PIN_MARK
from ...services.pins import Selection as BulkSelection
from ...services.problems import describe
from ...services.rebuild import Plan
from ...services.session import Session
from ..messages import FlowFailed, ModelsChanged, Redraw
from ..widgets.key_footer import KeyFooter
from ..widgets.lineage_tree import Clock
from ..widgets.tick_list import TickList


def plan_warnings(plan: Plan, *, short: bool = False, batch: Iterable[str] = ()) -> list[str]:
    """What a user must know before this rebuild: the same words for ``r`` and ``R``."""
    found = []
    if plan.guessed:
        found.append(
            "guessed recipe: read its diff first"
            if short
            else "guessed recipe: the base had changed before this app first saw the model, "
            "so an upstream change may look like an override. Read its diff first."
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
    # Enter is a priority key (a focused button would take it); only keys that work here are
    # offered (check_action hides the rest). The plan, the list or the log takes the rest.
    BINDINGS = [
        Binding("enter,y", "confirm", "Rebuild", priority=True),
        Binding("enter", "close", "Close", priority=True),
        Binding("escape", "cancel", "Cancel"),
        Binding("K", "keep_all", "Keep all"),
        Binding("pagedown", "page(1)", "Scroll"),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("j,down", "move(1)", "Down", show=False),
        Binding("k,up", "move(-1)", "Up", show=False),
        Binding("G,end", "edge(1)", "End", show=False),
        Binding("g,home", "edge(-1)", "Top", show=False),
    ]

    def __init__(
        self,
        session: Session,
        clock: Clock,
        names: list[str],
        plan: Plan | None = None,
        entries: list[BatchEntry] | None = None,
        held: dict[str, str] | None = None,
        cost: str = "",
    ) -> None:
        """``cost``: what the batch downloads and what its backups will hold."""
        super().__init__()
        self.cost = cost
        self.session = session
        self.clock = clock
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
        self._bar: tuple[int | None, int] = (None, 0)  # total, completed: painted on Redraw

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="rebuild-dialog"):
            yield Static(self._title(), id="rebuild-title")
            if self.plan is None:
                if self.held:
                    yield Static(self._held_view(), id="rebuild-held")
                yield TickList(self._selections(), id="rebuild-pick")
            else:
                with VerticalScroll(id="rebuild-plan", can_focus=False):
                    yield Static(self._plan_view(), id="rebuild-plan-text")
            yield Static("", id="rebuild-overall")
            yield ProgressBar(id="rebuild-bar", show_eta=False)
            log = Log(id="rebuild-log", max_lines=500)
            log.can_focus = False  # the dialog's keys scroll it: focused, it would take them
            yield log
            with Horizontal(classes="buttons"):
                yield Button("Keep all (K)", variant="success", id="keep")
                yield Button(self._confirm_label(), variant="primary", id="confirm")
                yield Button("Cancel (esc)", id="cancel")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#keep", Button).display = False

    # --- before confirming -----------------------------------------------------------------

    def _title(self) -> str:
        if self.plan:
            return f"Rebuild [b]{escape(self.plan.child)}[/b] from {escape(self.plan.base)}"
        return (
            f"Rebuild {len(self.names)} stale model(s), parents first — "
            "space unticks, enter starts the ticked ones"
            + (f"\n[dim]{escape(self.cost)}[/dim]" if self.cost else "")
        )

    def _held_view(self) -> str:
        lines = [f"{escape(name)}: {escape(why)}" for name, why in self.held.items()]
        return f"[b]{PIN_MARK} held back[/b] (P unpins; r still rebuilds one)\n" + "\n".join(
            f"  {line}" for line in lines
        )

    def _confirm_label(self) -> str:
        count = len(self.names)
        return "Rebuild (enter)" if self.plan else f"Rebuild {count} (enter)"

    def _selections(self) -> list[tuple[Text, str, bool]]:
        entries = self.entries or [BatchEntry(name, State.STALE) for name in self.names]
        picks = []
        for entry in entries:
            line = Text.assemble((entry.name, "bold"), f"  {entry.state.symbol} {entry.state.word}")
            for warning in entry.warnings:
                line.append(f" — ⚠ {warning}", "bold")
            if entry.error:
                line.append(f" — ✗ {entry.error}", "bold")
            picks.append((line, entry.name, entry.error is None))
        return picks

    def _plan_view(self) -> Group:
        assert self.plan is not None
        plan = self.plan
        lines = [
            f"base digest  {plan.base_digest[:12]}",
            f"backup       {escape(plan.backup)}",
            f"changes      {summarize(plan.diff)} (the Diff tab shows them)",
        ]
        lines += [f"[b]⚠ {escape(w)}[/b]" for w in plan_warnings(plan)]
        lines += ["", "POST /api/create"]
        header = Text.from_markup("\n".join(lines))
        return Group(header, Hanging(json.dumps(plan.request, indent=2)))

    def on_tick_list_changed(self) -> None:
        chosen = set(self.query_one(TickList).selected)
        self.names = [name for name in self._all_names() if name in chosen]
        button = self.query_one("#confirm", Button)
        button.label = self._confirm_label()
        button.disabled = not self.names

    def _all_names(self) -> list[str]:
        return [e.name for e in self.entries] if self.entries else list(self.names)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "confirm":
            return not (self.running or self.finished)
        if action == "close":
            return self.finished
        if action == "keep_all":
            return self.finished and bool(self.backups) and not self.kept
        return True

    def _scroller(self) -> VerticalScroll | TickList | Log:
        """What the keys move: the log once running, else R's list or r's plan."""
        if self.running or self.finished:
            return self.query_one(Log)
        found = self.query(TickList)
        return found.first() if found else self.query_one("#rebuild-plan", VerticalScroll)

    def action_move(self, step: int) -> None:
        target = self._scroller()
        if isinstance(target, TickList):
            target.action_cursor_down() if step > 0 else target.action_cursor_up()
        else:
            target.scroll_relative(y=step, animate=False)

    def action_page(self, step: int) -> None:
        target = self._scroller()
        if isinstance(target, TickList):
            page = target.action_page_down if step > 0 else target.action_page_up
            page()  # type: ignore[no-untyped-call]
        elif step > 0:
            target.scroll_page_down(animate=False)
        else:
            target.scroll_page_up(animate=False)

    def action_edge(self, step: int) -> None:
        target = self._scroller()
        if isinstance(target, TickList):
            target.action_last() if step > 0 else target.action_first()
        else:
            target.scroll_end(animate=False) if step > 0 else target.scroll_home(animate=False)

    def action_close(self) -> None:
        self.dismiss()

    def action_confirm(self) -> None:
        if not self.names:
            self.notify("nothing is ticked: space ticks a model", severity="warning")
            return
        self.show_running()
        self.run_rebuilds()

    def show_running(self) -> None:
        """Swap the plan (or the list) for the progress view: the log and the bar."""
        self.running = True
        self.add_class("-running")
        for pick in self.query(TickList):
            pick.disabled = True
        self.refresh_bindings()
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

    @work(exclusive=True, group="rebuild")
    async def run_rebuilds(self) -> None:
        rebuilder = self.session.rebuilder
        # A model that fails holds back what is built on it, as in every bulk run.
        selection = BulkSelection(self.session.syncer.snapshot, list(self.names), {})
        for index, name in enumerate(self.names):
            if self.cancelled:
                self.finish(self.names[index:])
                return
            self.start(index, name)
            if name in selection.held:
                self.failed(name, f"held back, {selection.held[name]}")
                continue
            node = self.session.syncer.snapshot.nodes.get(name)
            batch = self.plan is None and len(self.names) > 1
            if batch and node is not None and node.state not in NEEDS_REBUILD:
                self.not_due(name, node.state.word)  # its parent came back as built on
                continue
            before = node.facts.digest if node is not None and node.facts else None
            try:
                # A batch plans each model when its turn comes: its base may just have been
                # rebuilt above it.
                plan = self.plan or await rebuilder.plan(name, now=self.clock())
                digest = await rebuilder.run(plan, self.progress)
            except Exception as exc:
                if not self.app.is_running:  # quitting: the client closed under the create
                    return
                self.failed(name, describe(exc))
                selection.hold(name, "failed", which="failed in this run")
                self.app.post_message(FlowFailed("rebuild", name, exc, quiet=True))
            else:
                self.done(name, digest, None if digest == before else plan.backup)
            self.app.post_message(ModelsChanged(reload_detail=False))
        self.finish([])
        self.app.post_message(ModelsChanged())

    def start(self, index: int, name: str) -> None:
        self.query_one("#rebuild-overall", Static).update(
            f"[{index + 1}/{len(self.names)}] rebuilding {escape(name)}"
        )
        self._bar = (None, 0)
        self.query_one(ProgressBar).update(total=None, progress=0)
        self.query_one(Log).write_line(f"── {name}")

    def progress(self, progress: Progress) -> None:
        """Each new status is a line; the bar and the tree repaint once per burst."""
        log = self.query_one(Log)
        if progress.total:
            self._bar = (progress.total, progress.completed or 0)
            self.post_message(Redraw("bar"))
        if not log.lines or log.lines[-1] != progress.status:
            log.write_line(progress.status)
        self.app.post_message(ModelsChanged(reload_detail=False))  # "building" in the tree

    @on(Redraw)
    def _redraw_bar(self) -> None:
        total, completed = self._bar
        if total:
            self.query_one(ProgressBar).update(total=total, progress=completed)

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
        # What K frees: what only these backups name (the old weights no model shares).
        freed = frees(from_listing(self.session.syncer.snapshot), self.backups)
        frees_text = f", frees {human_bytes(freed)}" if count else ""
        keep = (
            ""
            if not count
            else f"; K keeps it (deletes its backup{frees_text})"
            if count == 1
            else f"; K keeps all {count} (deletes their backups{frees_text})"
        )
        self.query_one("#rebuild-overall", Static).update(
            f"{verdict}{keep}; enter or esc closes (then c compares old and new)"
        )
        bar = self.query_one(ProgressBar)
        if not self.failures:
            bar.update(total=1, progress=1)
        self.query_one("#confirm", Button).display = False  # nothing left to confirm
        keep_button = self.query_one("#keep", Button)
        keep_button.label = "Keep (K)" if count == 1 else f"Keep all {count} (K)"
        keep_button.display = bool(count)
        self.query_one("#cancel", Button).label = "Close (esc)"
        self.refresh_bindings()

    # --- keeping ---------------------------------------------------------------------------

    def action_keep_all(self) -> None:
        if not self.finished or not self.backups or self.kept:
            return
        self.kept = True
        self.refresh_bindings()
        self.query_one("#keep", Button).disabled = True
        self.query_one("#rebuild-overall", Static).update("deleting the backups…")
        self.keep_all(list(self.backups))

    @work(exclusive=True, group="keep")
    async def keep_all(self, backups: list[str]) -> None:
        """Each backup through the service's guard (never a model's only copy); one whose
        delete is under way when the dialog closes is shielded, so it is never half gone."""
        deleted, problems = [], []
        for backup in backups:
            try:
                await asyncio.shield(self.session.rebuilder.delete_backup(backup))
            except Exception as exc:
                problems.append(describe(exc))
                self.app.post_message(FlowFailed("delete backup", backup, exc, quiet=True))
            else:
                deleted.append(backup)
            self.app.post_message(ModelsChanged(reload_detail=False))
        self.kept_result(deleted, problems)
        self.app.post_message(ModelsChanged())

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
