"""The Textual app: owns the session, runs every server call in a worker, routes intents.

Widgets and screens only paint and post messages; this module is the one place where a key
or a message turns into a call to the sync, rebuild, registry or compare services.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import sqlite3
import subprocess
import tempfile
from collections.abc import Awaitable, Sequence
from contextlib import AsyncExitStack
from dataclasses import replace
from functools import partial
from pathlib import Path

from rich.markup import escape
from textual import on, work
from textual.app import App, SuspendNotSupported
from textual.widgets import TabbedContent

from ..config import Settings
from ..core.disk import backups_will_hold, frees, from_listing, human_bytes
from ..core.lineage import Kind, Node, Snapshot
from ..core.modelfile import ModelfileError, parse_modelfile
from ..ollama.client import OllamaError, Unreachable
from ..ollama.plain_http import EarlyGet
from ..services.autopilot import model_checks
from ..services.checks import ChecksError, ChecksFile, load_checks
from ..services.compare import latest_backup
from ..services.detail import Detail, load_detail
from ..services.pins import PIN_MARK, bulk_selection, pins_of, toggle_pin
from ..services.problems import describe, record_problem
from ..services.rebuild import ForeignWeights, RebuildError
from ..services.server_problem import ServerProblem, server_problem
from ..services.session import Session, open_session
from ..services.store import StoreError
from .actions import KINDS, bindings
from .commands import ActionsProvider
from .heap import hand_big_blocks_back
from .host_rows import HostTree, combined, key, split
from .messages import FlowFailed, ModelsChanged
from .screens.checks import ChecksScreen
from .screens.compare import CompareScreen
from .screens.confirm import ConfirmScreen
from .screens.disk import DiskScreen
from .screens.main import MainScreen
from .screens.matrix import MatrixScreen
from .screens.pick_base import PickBaseScreen
from .screens.pull import PullScreen
from .screens.rebuild import BatchEntry, RebuildScreen, plan_warnings
from .widgets.lineage_tree import Clock, LineageTree, utc_now


def styles_dir() -> Path:
    """Next to the package in a wheel; the repository's top-level styles/ in a checkout."""
    bundled = Path(__file__).parents[1] / "styles"
    return bundled if bundled.is_dir() else Path(__file__).parents[3] / "styles"


class LineageApp(App[None], inherit_bindings=False):
    """Its keys are exactly the action table's (Textual's own ctrl+c / ctrl+q are not
    inherited; q and ctrl+q quit), so the help screen lists every key that works."""

    TITLE = "ollama-lineage"
    CSS_PATH = [
        styles_dir() / name
        for name in ("states.tcss", "app.tcss", "dialogs.tcss", "disk.tcss", "matrix.tcss")
    ]
    BINDINGS = bindings("app")
    COMMANDS = {ActionsProvider}  # only our actions: not Textual's Keys/Maximize/Screenshot

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock = utc_now,
        early: EarlyGet | None = None,
        others: Sequence[Settings] = (),
    ) -> None:
        """``others``: more servers, each a subtree under its host's row; keys act on the
        host of the row under the cursor."""
        super().__init__()
        hand_big_blocks_back()
        self.settings = settings
        self.hosts = [settings, *others]
        self.clock = clock
        self._early = early  # the listing, asked for before Textual was imported
        self._sessions: dict[str, Session] = {}
        self._current = settings.label  # the host of the row under the cursor
        self._problems: dict[str, str] = {}  # hosts that cannot be read now, and why
        self._pins: dict[str, frozenset[str]] = {}
        self._shown: dict[str, Snapshot] = {}  # each host's snapshot the tree last showed
        self._stack = AsyncExitStack()
        self._drafts: dict[str, str] = {}  # recipes whose edit did not parse yet
        self.unreachable: str | None = None
        self._keys_for: Kind | None = None  # the kind of row the footer's keys were set for
        # Held-back reasons of one snapshot and set of pins: the Overview shows its model's at
        # each cursor move, and working them out walks the whole tree.
        self._held: tuple[Snapshot, frozenset[str], dict[str, str]] | None = None

    # --- wiring ----------------------------------------------------------------------------

    def get_default_screen(self) -> MainScreen:
        return MainScreen(self.clock, " · ".join(h.host for h in self.hosts))

    @property
    def several(self) -> bool:
        return len(self.hosts) > 1

    @property
    def main(self) -> MainScreen:
        screen = self.screen_stack[0]
        assert isinstance(screen, MainScreen)
        return screen

    @property
    def session(self) -> Session:
        """The session of the host whose row is under the cursor (the one host's, alone)."""
        assert self._sessions, "the sessions open on mount"
        return self._sessions[self._current]

    async def on_mount(self) -> None:
        try:
            for number, settings in enumerate(self.hosts):
                early = self._early if number == 0 else None
                session = open_session(settings, early=early)
                opened = await self._stack.enter_async_context(session)
                self._sessions[settings.label] = opened
                await opened.prune_history()
        except StoreError as exc:
            self.exit(return_code=2, message=f"error: {exc}")
            return
        self.main.lineage.loading = True
        self.main.lineage.focus()
        self.main.update_status()
        self.call_after_refresh(self._start_loops)

    def _start_loops(self) -> None:
        """Owned by the main screen, so they stop before its widgets go away on exit."""
        for label in self._sessions:
            poll, upstream = partial(self.poll_loop, label), partial(self.upstream_loop, label)
            self.main.run_worker(poll, group="poll")  # type: ignore[arg-type]
            self.main.run_worker(upstream, group="upstream")  # type: ignore[arg-type]

    async def on_unmount(self) -> None:
        await self._stack.aclose()

    def selected(self) -> Node | None:
        """The model under the cursor, as its own host's snapshot has it (a host row: None)."""
        node = self.main.lineage.selected
        if node is None or not self.several:
            return node
        host, name = split(node.name)
        return None if name is None else self._sessions[host].syncer.snapshot.nodes.get(name)

    def _tree_snapshot(self) -> Snapshot:
        if not self.several:
            return self.session.syncer.snapshot
        trees = []
        for settings in self.hosts:
            snapshot = self._sessions[settings.label].syncer.snapshot
            self._shown[settings.label] = snapshot
            problem = self._problems.get(settings.label)
            trees.append(HostTree(settings.label, settings.host, snapshot, problem))
        return combined(trees)

    def apply_snapshot(self) -> None:
        """Push the syncers' snapshots into the tree, and reload the detail if its model moved."""
        if not self.is_running:  # a worker finishing while the app quits: no widgets left
            return
        tree = self.main.lineage
        before = tree.selected
        tree.show(self._tree_snapshot())
        after = tree.selected  # a different model under the cursor is announced by the tree
        same_model = after is not None and before is not None and after.name == before.name
        if same_model and after != before:  # same model, new state: its detail changed too
            name = split(after.name)[1] if self.several else after.name  # type: ignore[union-attr]
            if name is not None:
                self.load_detail(name)
        self.main.update_status()

    # --- background loops ------------------------------------------------------------------

    async def poll_loop(self, label: str) -> None:
        session = self._sessions[label]
        syncer = session.syncer
        await syncer.load()
        with contextlib.suppress(Exception):  # the poll below reads them again, and says why
            self._pins[label] = frozenset(await pins_of(session))
            self.main.lineage.pins = self._all_pins()
        if syncer.snapshot.nodes:
            self._loaded()
        while True:
            problem: ServerProblem | str | None = None
            pins: frozenset[str] | None = None
            try:
                changed = await syncer.poll()
                pins = frozenset(await pins_of(session))  # `pin` may run beside the app
            except OllamaError as exc:
                problem = server_problem(session.settings.host, exc)
            except sqlite3.Error as exc:  # disk full, file removed: say so, keep the tree
                problem = f"database {self.settings.db_path}: {exc}"
            except Exception as exc:  # an answer nobody foresaw: say so, keep polling
                problem = f"poll failed: {describe(exc)}"
            if not self.is_running:  # quitting: the widgets are going away
                return
            self._set_unreachable(problem, label)
            if pins is not None:
                self._set_pins(pins, label)
            if problem is None:
                self.main.polled_at = self.clock()
            # A flow's worker can end with its screen before it says what it changed.
            shown = self._shown.get(label) if self.several else self.main.lineage.snapshot
            behind = shown is not syncer.snapshot
            if problem is None and (changed or behind or self.main.lineage.loading):
                self._loaded()
            await asyncio.sleep(self.settings.poll_seconds)

    def _all_pins(self) -> frozenset[str]:
        """The tree's pins: each host's, under the row keys the tree uses."""
        if not self.several:
            return self._pins.get(self._current, frozenset())
        return frozenset(key(host, name) for host, pins in self._pins.items() for name in pins)

    def _loaded(self) -> None:
        if not self.is_running:  # quitting: the widgets are going away
            return
        tree = self.main.lineage
        first = tree.loading
        if first:
            tree.loading = False
            tree.focus()
        self.apply_snapshot()
        if first:
            # What the launch built lives as long as the app: kept out of the cyclic
            # collector's full passes, which otherwise land in the middle of a keystroke.
            gc.freeze()

    def _set_pins(self, pins: frozenset[str], label: str | None = None) -> None:
        """The store owns the pins; the tree shows the copy it last read, with their marks."""
        self._pins[label or self._current] = pins
        pins = self._all_pins()
        if not self.is_running or pins == self.main.lineage.pins:
            return
        self.main.lineage.set_pins(pins)
        self.main.update_status()
        self._reload_selected()  # its Overview says whether it is held

    def _set_unreachable(self, problem: ServerProblem | str | None, label: str = "") -> None:
        label = label or self._current
        if self.several:
            self._host_problem(problem, label)
            return
        message = None if problem is None else str(problem)
        if message == self.unreachable or not self.is_running:
            return
        self.unreachable = message
        summary = problem.summary if isinstance(problem, ServerProblem) else message
        self.main.problem = summary
        self.main.banner.show_error(message, known=bool(self.session.syncer.snapshot.nodes))
        self.main.update_status()
        if message is not None and self.main.lineage.loading:
            self._loaded()

    def _host_problem(self, problem: ServerProblem | str | None, label: str) -> None:
        """With several hosts, one that cannot be read says why on its own row; the others'
        trees go on."""
        summary = problem.summary if isinstance(problem, ServerProblem) else problem
        if summary == self._problems.get(label) or not self.is_running:
            return
        if summary is None:
            self._problems.pop(label, None)
        else:
            self._problems[label] = summary
        self._loaded()

    async def upstream_loop(self, label: str) -> None:
        session = self._sessions[label]
        while True:
            down = self._problems.get(label) if self.several else self.unreachable
            if down is None and session.syncer.snapshot.nodes:
                before = session.syncer.snapshot
                try:
                    await session.upstream.check_all()
                except Exception as exc:  # the registry check is extra: never the app's end
                    await self.record_problem("registry check", None, exc)
                if session.syncer.snapshot != before:
                    self.apply_snapshot()
                await asyncio.sleep(self.settings.upstream_every)
            else:
                await asyncio.sleep(self.settings.poll_seconds)

    # --- the detail pane -------------------------------------------------------------------

    def on_lineage_tree_model_highlighted(self, event: LineageTree.ModelHighlighted) -> None:
        if not self.screen_stack:  # a late highlight while quitting has no screen
            return
        name = event.name
        if self.several and name is not None:
            self._current, name = split(name)  # keys act on this row's host from now on
        # The footer greys out what does not apply to this kind of row; it is rebuilt only
        # when the kind changes (a rebuild of its keys costs more than a cursor move).
        node = self.selected()
        if (node.kind if node else None) is not self._keys_for:
            self._keys_for = node.kind if node else None
            self.refresh_bindings()
        if name:
            self.load_detail(name)
        else:
            self.workers.cancel_group(self.main, "detail")
            self.main.detail.clear()

    def load_detail(self, name: str) -> None:
        work = partial(self._load_detail, name)
        self.main.run_worker(work, group="detail", exclusive=True)  # type: ignore[arg-type]

    async def _load_detail(self, name: str) -> None:
        await asyncio.sleep(0.03)  # holding j over many rows loads only where it stops
        node = self.session.syncer.snapshot.nodes.get(name)
        if node is None:
            return
        try:
            detail = await load_detail(self.session, node, self.clock())
            detail = await self._checks_and_pins(detail)
        except Unreachable as exc:
            self._set_unreachable(server_problem(self.session.settings.host, exc))
            return
        except Exception as exc:
            await self.record_problem("detail", name, exc)
            return
        if not self.is_running:  # shutting down: the widgets are going
            return
        selected = self.selected()
        if selected is not None and selected.name == name:  # never a model the cursor left
            self.main.detail.show_detail(detail, self.clock())

    async def _checks_and_pins(self, detail: Detail) -> Detail:
        """What the Overview adds to the server's facts: held by a pin, and the checks."""
        node = detail.node
        snapshot, pins = self.session.syncer.snapshot, frozenset(await pins_of(self.session))
        if self._held is None or self._held[0] is not snapshot or self._held[1] != pins:
            self._held = (snapshot, pins, bulk_selection(snapshot, pins).held)
        why = self._held[2].get(node.name)
        detail = replace(detail, held=why)
        if node.kind not in (Kind.BASE, Kind.DERIVATIVE) or node.facts is None:
            return detail
        try:
            checks = self.checks_file()
        except ChecksError as exc:
            return replace(detail, checks_problem=str(exc))
        statuses = await model_checks(self.session, checks, node.name)
        return replace(detail, checks=statuses, checks_file=checks.path)

    def checks_file(self) -> ChecksFile:
        """The one autopilot reads by default: $OLLAMA_LINEAGE_CHECKS, else the config dir's
        checks.toml; read again each time, so an edit shows at the next cursor move."""
        return load_checks(None).renamed(self.session.syncer.resolve)

    def _show_tab(self, tab: str) -> None:
        self.main.detail.show_tab(tab)

    def action_diff(self) -> None:
        """Always "current vs after rebuild", whatever ``v`` showed before."""
        self.main.detail.show_after_rebuild()
        self._show_tab("diff")

    def action_next_change(self) -> None:
        self._show_tab("diff")
        self.main.detail.next_change(1)

    def action_previous_change(self) -> None:
        self._show_tab("diff")
        self.main.detail.next_change(-1)

    def action_overview(self) -> None:
        self._show_tab("overview")

    def action_params(self) -> None:
        self._show_tab("params")

    def action_history(self) -> None:
        self._show_tab("history")

    def action_toggle_diff(self) -> None:
        self.main.detail.toggle_diff()
        self._show_tab("diff")

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        """Diff and Parameters need columns: beside the tree (120+), the tree gives up its
        size and age so a diff can go side by side; the diff lays itself out again."""
        self.main.set_class(event.pane.id in ("diff", "params"), "-wide-detail")

    def action_zoom(self) -> None:
        """The tree hides but keeps the keys: j/k still move, the detail follows."""
        self.main.toggle_class("-zoomed")

    def action_filter(self) -> None:
        self.main.open_filter()

    def action_clear_filter(self) -> None:
        if not self.main.clear_filter() and self.main.has_class("-zoomed"):
            self.main.remove_class("-zoomed")

    def action_next_attention(self) -> None:
        if self.main.lineage.next_attention() is None:
            hidden = self.main.filtering and any(
                n.state.needs_attention for n in self.session.syncer.snapshot.nodes.values()
            )
            self.notify(
                "nothing shown needs attention" + ("; esc clears the filter" if hidden else "")
            )

    def action_fold_all(self) -> None:
        self.main.lineage.fold_all(True)

    def action_unfold_all(self) -> None:
        self.main.lineage.fold_all(False)

    def action_help(self) -> None:
        # Imported on first use: its Markdown widget brings markdown-it into every launch's
        # memory and start-up, for a screen most sessions never open.
        from .screens.help import HelpScreen

        self.push_screen(HelpScreen())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A key that does not apply to the row under the cursor is greyed out (None), not
        refused with a notice after it is pressed."""
        if action == "filter":  # a priority key: only on the tree, never typed into an input
            if not self.screen_stack or self.screen is not self.main:
                return None  # greyed behind a dialog
            return self.main.on_tree
        kinds = KINDS.get(action)
        if not kinds:
            return True
        node = self.selected() if self.screen_stack else None
        return True if node is not None and node.kind in kinds else None

    def _needs(self, action: str) -> Node | None:
        """The row an action works on; ``check_action`` already kept it to its kinds."""
        node = self.selected()
        return node if node is not None and node.kind in KINDS[action] else None

    # --- rebuild ---------------------------------------------------------------------------

    def action_rebuild(self) -> None:
        node = self._needs("rebuild")
        if node is not None:
            self.open_rebuild(node.name)

    @work(group="plan")
    async def open_rebuild(self, name: str) -> None:
        try:
            plan = await self.session.rebuilder.plan(name, now=self.clock())
        except Exception as exc:
            await self.record_problem("plan", name, exc)
            return
        self.push_screen(RebuildScreen(self.session, self.clock, [name], plan))

    def action_rebuild_all(self) -> None:
        if not bulk_selection(self.session.syncer.snapshot, ()).due:
            self.notify("nothing is stale")
            return
        self.open_rebuild_all()

    @work(group="plan", exclusive=True)
    async def open_rebuild_all(self) -> None:
        """Each model with its plan's warnings, the same ones ``r`` shows; no plan, no tick.
        Pinned models and what is built on them are not offered: the dialog says which.

        The selection is ``rebuild --all-stale``'s: a stale model whose lineage is taken on
        trust is asked of the registry first (once; the answer is stored), so one pressed
        before the start-up check reached it is not held back as unconfirmed."""
        note = partial(self.notify, "planning the rebuilds…", timeout=3)
        planning = self.set_timer(0.1, note)  # only if slow
        try:
            await self.session.upstream.settle_guesses(again=False)
            pins = await pins_of(self.session)
            snapshot = self.session.syncer.snapshot
            selection = bulk_selection(snapshot, pins)
            names, held_back = selection.todo, selection.left
            if not names:
                because = "; ".join(f"{n} is {why}" for n, why in held_back.items())
                self.notify(
                    f"nothing to rebuild in bulk: {because}. P unpins; r still rebuilds one",
                    severity="warning",
                    timeout=10,
                )
                return
            plans = await self.session.rebuilder.plans(names, now=self.clock())
        except Exception as exc:
            await self.record_problem("rebuild all", None, exc)
            return
        finally:
            planning.stop()
        self.apply_snapshot()  # what the registry said shows in the tree too
        entries = []
        for name in names:
            entry = BatchEntry(name, snapshot.nodes[name].state)
            found = plans[name]
            if isinstance(found, Exception):
                entry.error = describe(found)
            else:
                entry.plan = found
                entry.warnings = plan_warnings(found, short=True, batch=names)
            entries.append(entry)
        ready = [e.name for e in entries if e.error is None]
        hold = human_bytes(backups_will_hold(snapshot, ready))
        cost = f"downloads nothing; the backups will then hold {hold} of old weights"
        if self.is_running:
            self.push_screen(
                RebuildScreen(
                    self.session, self.clock, ready, entries=entries, held=held_back, cost=cost
                )
            )

    def _reload_selected(self) -> None:
        node = self.selected()
        if node is not None:
            self.load_detail(node.name)

    def action_matrix(self) -> None:
        hosts = [
            (
                settings.label,
                self._sessions.get(settings.label),
                None
                if settings.label in self._problems
                else self._sessions[settings.label].syncer.snapshot,
            )
            for settings in self.hosts
        ]
        self.push_screen(MatrixScreen(hosts))

    def action_disk(self) -> None:
        self.push_screen(DiskScreen(self.session))

    # --- pull, rollback, delete backup -----------------------------------------------------

    def action_pull(self) -> None:
        node = self._needs("pull")
        if node is not None:
            self.push_screen(PullScreen(self.session, node.name))

    def action_rollback(self) -> None:
        node = self._needs("rollback")
        if node is None:
            return
        self.ask_rollback(node.base if node.kind is Kind.BACKUP and node.base else node.name)

    @work(group="plan", exclusive=True)
    async def ask_rollback(self, name: str) -> None:
        """Say at once when there is nothing to roll back to, before asking anything."""
        try:
            backups = await self.session.store.backups_of(self.session.settings.host_key, name)
        except Exception as exc:
            await self.record_problem("roll back", name, exc)
            return
        if not backups:
            self.notify(
                f"{name} has no backup to roll back to: a rebuild (r) makes one",
                severity="warning",
            )
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.change(
                    self.session.rebuilder.rollback(name), f"{name} rolled back", "roll back"
                )

        self.push_screen(
            ConfirmScreen(
                f"Roll [b]{escape(name)}[/b] back to its newest backup, "
                f"[b]{escape(backups[-1])}[/b]?",
                "Roll back",
            ),
            answered,
        )

    def action_delete_backup(self) -> None:
        node = self._needs("delete_backup")
        if node is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.change(self.session.rebuilder.delete_backup(node.name), f"deleted {node.name}")

        freed = human_bytes(frees(from_listing(self.session.syncer.snapshot), [node.name]))
        self.push_screen(
            ConfirmScreen(
                f"Delete the backup [b]{escape(node.name)}[/b]? It frees {freed}.", "Delete"
            ),
            answered,
        )

    @work(exclusive=True, group="change")
    async def change(self, call: Awaitable[object], done: str, flow: str = "change") -> None:
        """Run one service coroutine, then say how it went; whatever it raises is its own."""
        try:
            await call
        except Exception as exc:
            await self.record_problem(flow, None, exc)
        else:
            self.notify(done)
        self.apply_snapshot()
        self._reload_selected()

    async def record_problem(
        self, flow: str, name: str | None, exc: BaseException, *, quiet: bool = False
    ) -> None:
        """A flow's failure is the flow's: said (unless its dialog says it) and kept in the
        History when nobody foresaw it; the app and its polling carry on."""
        if not quiet:
            self.notify(describe(exc), severity="error", timeout=10)
        await record_problem(self.session, flow, name, exc)

    @on(FlowFailed)
    async def _flow_failed(self, event: FlowFailed) -> None:
        await self.record_problem(event.flow, event.name, event.error, quiet=event.quiet)

    @on(ModelsChanged)
    def _models_changed(self, event: ModelsChanged) -> None:
        self.apply_snapshot()
        if event.reload_detail:
            self._reload_selected()

    # --- pins ------------------------------------------------------------------------------

    def action_pin(self) -> None:
        node = self._needs("pin")
        if node is not None:
            self.pin_or_unpin(node.name)

    @work(group="pin")
    async def pin_or_unpin(self, name: str) -> None:
        """Pin, or unpin when pinned; the tree's mark and the Overview follow."""
        try:
            now_pinned, pins = await toggle_pin(self.session, name)
        except Exception as exc:
            await self.record_problem("pin", name, exc)
            return
        snapshot = self.session.syncer.snapshot
        under = [d.name for d in snapshot.descendants(name) if d.kind is not Kind.BACKUP]
        also = f" and what is built on it ({', '.join(under)})" if under else ""
        if not now_pinned:
            self.notify(f"{name} unpinned: R and autopilot handle it{also} again")
        else:
            self.notify(f"{name} pinned {PIN_MARK}: R and autopilot leave it{also} alone; P unpins")
        self._set_pins(pins)
        self._reload_selected()

    # --- checks ----------------------------------------------------------------------------

    def action_run_checks(self) -> None:
        node = self._needs("run_checks")
        if node is not None:
            self.open_checks(node.base if node.kind is Kind.BACKUP and node.base else node.name)

    @work(group="plan")
    async def open_checks(self, name: str) -> None:
        try:
            checks = self.checks_file()
            backups = await self.session.store.backups_of(self.session.settings.host_key, name)
        except ChecksError as exc:  # the user's file: said with its line, not a model's event
            self.notify(f"{exc}; fix the file and press C again", severity="error", timeout=10)
            return
        except Exception as exc:
            await self.record_problem("checks", name, exc)
            return
        if not self.is_running:
            return
        backup = backups[-1] if backups else None
        self.push_screen(ChecksScreen(self.session, name, backup, checks))

    # --- compare ---------------------------------------------------------------------------

    def action_compare(self) -> None:
        node = self._needs("compare")
        if node is not None:
            self.open_compare(node.base if node.kind is Kind.BACKUP and node.base else node.name)

    @work(group="plan")
    async def open_compare(self, name: str) -> None:
        try:
            backup = await latest_backup(self.session, name)
            prompts = await self.session.store.prompts(self.session.settings.host_key, name)
        except Exception as exc:
            await self.record_problem("compare", name, exc)
            return
        self.push_screen(CompareScreen(self.session, name, backup, prompts))

    @on(CompareScreen.Chosen)
    def _compare_chosen(self, event: CompareScreen.Chosen) -> None:
        screen = event.screen
        rebuilder = self.session.rebuilder
        self.pop_screen()
        if event.choice == "keep":
            self.change(rebuilder.delete_backup(screen.backup), f"kept {screen.model}", "keep")
        else:
            self.change(
                rebuilder.rollback(screen.model), f"{screen.model} rolled back", "roll back"
            )

    # --- track and edit --------------------------------------------------------------------

    def action_track(self) -> None:
        node = self._needs("track")
        if node is None:
            return
        snapshot = self.session.syncer.snapshot
        bases = [
            n.name
            for n in snapshot.walk()
            if n.kind is Kind.BASE and n.facts and n.name != node.name
        ]

        def picked(base: str | None) -> None:
            if base:
                self.adopt(node.name, base)

        self.push_screen(PickBaseScreen(node.name, bases), picked)

    @work(exclusive=True, group="change")
    async def adopt(self, name: str, base: str) -> None:
        """Adopt; when the guard refuses (the model never had the base's weights), say why
        and let the user insist, as ``track --force`` does."""
        try:
            await self.session.rebuilder.track(name, base)
        except ForeignWeights:

            def insisted(yes: bool | None) -> None:
                if yes:
                    self.change(
                        self.session.rebuilder.track(name, base, force=True),
                        f"{name} adopted under {base}; a rebuild gives it {base}'s weights",
                        "track",
                    )

            self.push_screen(
                ConfirmScreen(
                    f"[b]{escape(name)}[/b] never had the weights of any version of "
                    f"[b]{escape(base)}[/b] seen here, so a rebuild would replace its weights "
                    "with the base's. Adopt it anyway?",
                    "Adopt anyway",
                ),
                insisted,
            )
            return
        except Exception as exc:
            await self.record_problem("track", name, exc)
            return
        self.notify(f"{name} tracked from {base}")
        self.apply_snapshot()
        self._reload_selected()

    def action_edit(self) -> None:
        node = self._needs("edit")
        if node is not None:
            self.edit_recipe(node.name)

    @work(exclusive=True, group="change")
    async def edit_recipe(self, name: str) -> None:
        try:
            stored = await self.session.rebuilder.recipe(name)
        except RebuildError as exc:
            self.notify(str(exc), severity="error")
            return
        try:
            text = run_editor(self, self._drafts.get(name, stored.text))
        except OSError as exc:
            self.notify(f"cannot run the editor: {exc}; set $VISUAL or $EDITOR", severity="error")
            return
        try:
            recipe = parse_modelfile(text)
        except ModelfileError as exc:
            self._drafts[name] = text
            self.notify(f"recipe not saved: {exc}; press e to fix it", severity="error", timeout=10)
            return
        self._drafts.pop(name, None)
        try:
            await self.session.rebuilder.track(name, recipe.base, text)
        except Exception as exc:
            self._drafts[name] = text
            await self.record_problem("edit recipe", name, exc)
            return
        self.notify(f"recipe of {name} saved; nothing is sent until r")
        self.apply_snapshot()
        self.load_detail(name)
        self._show_tab("diff")


def run_editor(app: App[None], text: str) -> str:
    """$VISUAL / $EDITOR (vi) on a temp file, with the terminal handed over meanwhile. Run
    through the shell as git runs it (``sh -c '$EDITOR "$@"'``), so arguments, quoting,
    ``~`` and ``VAR=value`` prefixes mean what they mean at a prompt."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "Modelfile"
        path.write_text(text, encoding="utf-8")
        command = ["sh", "-c", f'{editor} "$@"', editor, str(path)]
        try:
            with app.suspend():
                subprocess.run(command, check=False)
        except SuspendNotSupported:  # headless (tests): the "editor" is a script
            subprocess.run(command, check=False)
        return path.read_text(encoding="utf-8")
