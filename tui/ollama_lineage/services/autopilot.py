"""Autopilot: pull what changed upstream, rebuild what went stale, keep only what passes.

One run, in order:

1. ask the registry about every pulled base that has derivatives (pinned ones are not asked);
2. pull the bases with an update; a base the checks file names is checked after its pull;
3. rebuild the stale derivatives parents first (``Rebuilder.run``: backup, create, verify),
   and run each one's checks right after its rebuild;
4. keep a model whose checks all pass; roll back to its backup when one fails.

Children: a model is checked before anything built on it is touched, so when a model fails
(its rebuild, its checks, or a base's checks after its pull) the models built on it are not
rebuilt in this run: they stay as they were, on the old version they were built from, and
read ``stale upstream`` until a later run gets their parent through. Nothing is ever rolled
back that was not rebuilt in the same run.

Pins: a pinned model and everything built on it is left alone by autopilot and by bulk
rebuilds (``bulk_selection``); a model named explicitly is still rebuilt.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..core.lineage import NEEDS_REBUILD, Kind, Snapshot
from ..core.states import State
from ..ollama.client import OllamaError, Unreachable
from .checks import REPLY_KEPT, Check, CheckResult, ChecksError, ChecksFile, run_check
from .pins import bulk_selection, unproven_doubt, unproven_reason
from .rebuild import RebuildError, Refused
from .session import Session
from .space import NoSpace
from .store import StoredCheckResult

REPLY_IN_LINE = 80  # characters of a failing reply quoted in a model's line

Line = Callable[[str], None]


# --- checks on a model ----------------------------------------------------------------------


async def record_result(session: Session, result: CheckResult) -> None:
    """The last results (Overview) and an event kind "check" (History) with the reply."""
    store, host = session.store, session.settings.host_key
    await store.save_check_result(
        host,
        StoredCheckResult(
            result.model,
            result.check.key,
            result.check.label,
            result.digest,
            result.passed,
            list(result.failures),
            result.reply[:REPLY_KEPT],
            result.seconds,
            result.load_seconds,
            result.tokens_per_second,
            time.time(),
        ),
    )
    label = f"check {result.check.label}"
    if result.skipped:
        status, error = "skipped", f"{label} skipped: {result.skipped}"
    elif result.passed:
        status, error = "passed", f"{label} passed ({result.seconds:.1f} s)"
    else:
        status, error = "failed", f"{label} failed: {result.why}"
    event = await store.start_event(
        host, result.model, "check", digest_before=result.digest, digest_after=result.digest
    )
    await store.finish_event(event, status, error=error, log=result.reply[:REPLY_KEPT])


async def run_checks(
    session: Session,
    model: str,
    checks: Iterable[Check],
    *,
    unload: bool = True,
    on_result: Callable[[CheckResult], None] | None = None,
) -> list[CheckResult]:
    """Run ``checks`` on ``model`` one after the other and record each result.

    With ``unload`` the model is unloaded after its last check (keep_alive 0), so the next
    model runs alone. A model that cannot generate text passes its smoke check as skipped
    and fails any other check.
    """
    checks = list(checks)
    node = session.syncer.snapshot.nodes.get(model)
    digest = node.facts.digest if node and node.facts else None
    try:
        capabilities = (await session.syncer.show(model)).capabilities
    except Unreachable:
        raise
    except OllamaError:
        capabilities = ()  # the generate says what is wrong, as the check's failure
    mute = bool(capabilities) and "completion" not in capabilities
    results = []
    for index, check in enumerate(checks):
        if mute:
            result = CheckResult(check, model, digest)
            why = f"{model} cannot generate text (it can: {', '.join(capabilities)})"
            if check.smoke:
                result.passed, result.skipped = True, why
            else:
                result.failures.append(why)
        else:
            last = index == len(checks) - 1
            keep_alive = 0 if unload and last else None
            result = await run_check(
                session.client, model, check, keep_alive=keep_alive, digest=digest
            )
        await record_result(session, result)
        if on_result:
            on_result(result)
        results.append(result)
    return results


@dataclass(frozen=True)
class CheckStatus:
    """One of a model's checks with its last result on the model (None: never run)."""

    check: Check
    last: StoredCheckResult | None


async def model_checks(session: Session, checks: ChecksFile, name: str) -> list[CheckStatus]:
    """A model's checks (the smoke check when the file names none) and their last results."""
    last = await session.store.last_check_results(session.settings.host_key, name)
    return [CheckStatus(c, last.get(c.key)) for c in checks.for_model(name)]


@dataclass(frozen=True)
class CheckPair:
    check: Check
    old: CheckResult
    new: CheckResult


async def check_against_backup(
    session: Session,
    checks: ChecksFile,
    name: str,
    backup: str | None = None,
    on_result: Callable[[int, CheckResult], None] | None = None,
) -> list[CheckPair]:
    """The model's checks on its newest backup (side 0), then on the model (side 1).

    One model at a time, each unloaded after its last check, so neither shares the GPU
    and load time stays apart from generation (``CheckResult.load_seconds``).
    """
    if backup is None:
        mine = await session.store.backups_of(session.settings.host_key, name)
        if not mine:
            raise Refused(f"{name} has no backup to check against; rebuild it first")
        backup = mine[-1]
    wanted = checks.for_model(name)
    sides = []
    for side, model in enumerate((backup, name)):
        report = (lambda r, side=side: on_result(side, r)) if on_result else None
        sides.append(await run_checks(session, model, wanted, on_result=report))
    return [CheckPair(c, o, n) for c, o, n in zip(wanted, sides[0], sides[1], strict=True)]


# --- the run ----------------------------------------------------------------------------------

ATTENTION = frozenset(
    {"rolled back", "failed", "pull failed", "checks failed", "skipped", "not checked"}
)


@dataclass
class Outcome:
    """What autopilot did with one model; ``line`` is what cron mail shows for it."""

    name: str
    outcome: str  # pulled, kept, unchanged, rolled back, failed, pull failed, checks failed,
    # skipped, not checked, held
    line: str
    kind: str = "derivative"
    base: str | None = None
    digest_before: str | None = None
    digest_after: str | None = None
    backup: str | None = None
    error: str | None = None
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def attention(self) -> bool:
        return self.outcome in ATTENTION

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "outcome": self.outcome,
            "line": self.line,
            "base": self.base,
            "digest_before": self.digest_before,
            "digest_after": self.digest_after,
            "backup": self.backup,
            "error": self.error,
            "checks": [c.as_json() for c in self.checks],
        }


@dataclass
class Report:
    host: str
    checks_file: str | None
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    outcomes: list[Outcome] = field(default_factory=list)
    untouched: int = 0  # derivatives that were fresh and stayed so
    error: str | None = None  # the run stopped: the server could not be reached

    @property
    def exit_code(self) -> int:
        if self.error:
            return 2
        return 1 if any(o.attention for o in self.outcomes) else 0

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.outcomes if o.outcome == outcome)

    @property
    def summary(self) -> str:
        parts = [
            f"{self.count('pulled')} pulled",
            f"{self.count('kept')} rebuilt and kept",
            f"{self.count('rolled back')} rolled back",
        ]
        failed = sum(self.count(k) for k in ("failed", "pull failed", "checks failed"))
        parts.append(f"{failed} failed")
        for word in ("unchanged", "skipped", "not checked", "held"):
            if self.count(word):
                parts.append(f"{self.count(word)} {word}")
        parts.append(f"{self.untouched} already fresh")
        head = "autopilot stopped" if self.error else "autopilot"
        return f"{head}: {', '.join(parts)}"

    def as_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "checks_file": self.checks_file,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "exit_code": self.exit_code,
            "summary": self.summary,
            "error": self.error,
            "models": [o.as_json() for o in self.outcomes],
        }


@dataclass
class AutopilotPlan:
    """What a run would do, known before anything is pulled: what the confirm prompt shows."""

    pulls: list[tuple[str, str]] = field(default_factory=list)
    rebuilds: list[tuple[str, str]] = field(default_factory=list)
    notes: list[Outcome] = field(default_factory=list)  # held, not checked, skipped

    @property
    def nothing_to_do(self) -> bool:
        return not self.pulls and not self.rebuilds

    def lines(self) -> list[str]:
        width = max((len(n) for n, _ in [*self.pulls, *self.rebuilds]), default=0)
        out = [f"pull     {n:<{width}}  {why}" for n, why in self.pulls]
        out += [f"rebuild  {n:<{width}}  {why}" for n, why in self.rebuilds]
        out += [o.line for o in self.notes]
        return out


def _short(digest: str | None) -> str:
    return (digest or "-")[:12]


def _quote(reply: str) -> str:
    text = " ".join(reply.split())
    return repr(text if len(text) <= REPLY_IN_LINE else text[: REPLY_IN_LINE - 1] + "…")


class Autopilot:
    """One unattended run over one server; ``on_line`` gets one line per model as it goes."""

    def __init__(
        self,
        session: Session,
        checks: ChecksFile,
        pins: Collection[str],
        on_line: Line | None = None,
    ) -> None:
        self.session = session
        self.checks = checks
        self.pins = set(pins)
        self.on_line = on_line or (lambda line: None)

    @property
    def snapshot(self) -> Snapshot:
        return self.session.syncer.snapshot

    def _digest(self, name: str) -> str | None:
        node = self.snapshot.nodes.get(name)
        return node.facts.digest if node and node.facts else None

    async def prepare(self) -> AutopilotPlan:
        """Ask the registry (the only requests made before the confirm) and plan the run."""
        plan = AutopilotPlan()
        keep = bulk_selection(self.snapshot, self.pins, guesses=False).held  # pinned: not asked
        bases = [
            n.name
            for n in self.snapshot.walk()
            if n.kind is Kind.BASE
            and n.facts is not None
            and not n.facts.remote_host
            and any(self.snapshot.nodes[c].kind is Kind.DERIVATIVE for c in n.children)
        ]
        asked = [b for b in bases if b not in keep]
        answers = await self.session.upstream.check(asked) if asked else {}
        to_pull: list[str] = []
        for name in asked:
            node = self.snapshot.nodes[name]
            answer = answers.get(name)
            if node.state is State.UPDATE_AVAILABLE and answer and answer.digest:
                to_pull.append(name)
                have = _short(self._digest(name))
                plan.pulls.append((name, f"registry has {_short(answer.digest)}, you have {have}"))
            elif answer is not None and answer.error and not answer.local:
                plan.notes.append(
                    Outcome(
                        name,
                        "not checked",
                        f"{name}: not checked upstream: {answer.error}",
                        kind="base",
                        error=answer.error,
                    )
                )
        # Derivatives due now, and those a pull will make stale: parents first.
        coming = {d.name for b in to_pull for d in self.snapshot.descendants(b)}
        due = [
            n
            for n in self.snapshot.walk()
            if n.kind is Kind.DERIVATIVE and (n.state in NEEDS_REBUILD or n.name in coming)
        ]
        guessed = [n.name for n in due if n.unproven and n.name not in keep]
        if guessed:
            await self.session.upstream.check(guessed)  # the registry may settle them
        selection = bulk_selection(self.snapshot, self.pins)
        for node in due:
            node = self.snapshot.nodes[node.name]
            if node.unproven and node.name not in selection.held:  # stale once a base is pulled
                selection.hold(node.name, unproven_reason(node))
            if node.name in selection.held:
                plan.notes.append(self._held(node.name, selection.held[node.name]))
                continue
            why = f"{node.state.word}: {node.reason}"
            if node.name in coming and node.state not in NEEDS_REBUILD:
                step = "pulled" if node.base in to_pull else "rebuilt"
                why = f"after {node.base} is {step}"
            plan.rebuilds.append((node.name, why))
        for name in sorted(self.pins):
            if name in bases and not any(o.name == name for o in plan.notes):
                line = f"{name}: held (pinned): not checked upstream, not pulled"
                plan.notes.append(Outcome(name, "held", line, kind="base"))
        return plan

    def _held(self, name: str, why: str) -> Outcome:
        node = self.snapshot.nodes.get(name)
        if node is not None and node.unproven and why == unproven_reason(node):
            return Outcome(
                name,
                "skipped",
                f"{name}: skipped; {unproven_doubt(node)},"
                f" so read its plan and run `ollama-lineage rebuild {name}` alone",
            )
        line = f"{name}: held ({why})"
        if why == "pinned":
            line += f": ollama-lineage unpin {name}"
        return Outcome(name, "held", line)

    async def run(self, plan: AutopilotPlan, *, echo_notes: bool = True) -> Report:
        """Pull, rebuild, check, keep or roll back; ``echo_notes=False`` when the plan's notes
        (held, skipped, not checked) were already shown with it."""
        report = Report(
            self.session.settings.host,
            str(self.checks.path) if self.checks.path else None,
        )
        for note in plan.notes:
            report.outcomes.append(note)
            if echo_notes:
                self.on_line(note.line)
        failed: set[str] = set()
        try:
            for name, _ in plan.pulls:
                await self._pull(report, name, failed)
            await self._rebuild_all(report, plan, failed)
        except Unreachable as exc:
            report.error = str(exc)
        touched = {o.name for o in report.outcomes}
        report.untouched = sum(
            1
            for n in self.snapshot.walk()
            if n.kind is Kind.DERIVATIVE and n.state is State.FRESH and n.name not in touched
        )
        report.finished_at = time.time()
        return report

    def _add(self, report: Report, outcome: Outcome) -> Outcome:
        report.outcomes.append(outcome)
        self.on_line(outcome.line)
        return outcome

    async def _pull(self, report: Report, name: str, failed: set[str]) -> None:
        before = self._digest(name)
        try:
            after = await self.session.rebuilder.pull(name)
        except RebuildError as exc:
            if isinstance(exc.__cause__, Unreachable):
                raise exc.__cause__ from None
            word = "skipped" if isinstance(exc, NoSpace) else "pull failed"
            line = f"{name}: skipped, {exc}" if word == "skipped" else f"{name}: {exc}"
            self._add(report, Outcome(name, word, line, "base", error=str(exc)))
            return
        change = f"{_short(before)} → {_short(after)}"
        explicit = self.checks.explicit(name)
        if not explicit:
            self._add(
                report,
                Outcome(name, "pulled", f"{name}: pulled ({change})", "base", None, before, after),
            )
            return
        results = await run_checks(self.session, name, [c for c in self.checks.for_model(name)])
        bad = [r for r in results if not r.passed]
        if bad:
            failed.add(name)
            first = bad[0]
            line = (
                f"{name}: pulled ({change}) but check {first.check.label} failed:"
                f" {first.why}; reply {_quote(first.reply)}; models built on it are left as"
                " they were"
            )
            outcome = Outcome(name, "checks failed", line, "base", None, before, after)
            outcome.error, outcome.checks = first.why, results
            self._add(report, outcome)
            return
        line = f"{name}: pulled ({change}), {_passed(results)}"
        outcome = Outcome(name, "pulled", line, "base", None, before, after)
        outcome.checks = results
        self._add(report, outcome)

    async def _rebuild_all(self, report: Report, plan: AutopilotPlan, failed: set[str]) -> None:
        done = {o.name for o in report.outcomes}
        await self.session.upstream.settle_guesses()
        selection = bulk_selection(self.snapshot, self.pins)
        for name in selection.todo:
            if name in done or self.snapshot.nodes[name].state not in NEEDS_REBUILD:
                continue  # done, or its parent came back as the version it was built on
            blocker = next(
                (a for a in self._ancestors(name) if a in failed),
                None,
            )
            if blocker is not None:
                failed.add(name)
                word = _BLOCKED.get(_outcome_of(report, blocker), "failed")
                self._add(
                    report,
                    Outcome(
                        name,
                        "skipped",
                        f"{name}: not rebuilt: {blocker} {word} in this run; left as it was",
                        base=self.snapshot.nodes[name].base,
                    ),
                )
                continue
            outcome = await self._rebuild(name)
            self._add(report, outcome)
            if outcome.attention:
                failed.add(name)
        # Models held back once the pulls made them stale, never planned.
        for name, why in selection.left.items():
            if name not in {o.name for o in report.outcomes}:
                self._add(report, self._held(name, why))

    def _ancestors(self, name: str) -> list[str]:
        found = []
        node = self.snapshot.nodes.get(name)
        while node is not None and node.base and node.base not in found:
            found.append(node.base)
            node = self.snapshot.nodes.get(node.base)
        return found

    async def _rebuild(self, name: str) -> Outcome:
        rebuilder = self.session.rebuilder
        before = self._digest(name)
        try:
            plan = await rebuilder.plan(name)
            after = await rebuilder.run(plan)
        except (RebuildError, OllamaError) as exc:
            cause = exc if isinstance(exc, Unreachable) else exc.__cause__
            if isinstance(cause, Unreachable):
                raise cause from None
            if isinstance(exc, NoSpace):
                line = f"{name}: skipped, {exc}"
                return Outcome(name, "skipped", line, digest_before=before, error=str(exc))
            return Outcome(name, "failed", f"{name}: {exc}", digest_before=before, error=str(exc))
        if after == before:
            # No new version: nothing to check against, and no backup of this run to go back to.
            line = f"{name}: unchanged ({_short(after)}): the create gave the model it already had"
            return Outcome(
                name, "unchanged", line, base=plan.base, digest_before=before, digest_after=after
            )
        results: list[CheckResult] = []
        try:
            results = await run_checks(self.session, name, self.checks.for_model(name))
        except Unreachable:
            self.on_line(
                f"{name}: rebuilt from {plan.base} ({_short(before)} → {_short(after)}) but"
                f" not checked: the server went away; if the new version is not wanted:"
                f" ollama-lineage rollback {name}"
            )
            raise
        outcome = Outcome(
            name,
            "kept",
            "",
            base=plan.base,
            digest_before=before,
            digest_after=after,
            backup=plan.backup,
            checks=results,
        )
        change = f"{_short(before)} → {_short(after)}"
        bad = [r for r in results if not r.passed]
        if not bad:
            outcome.line = (
                f"{name}: rebuilt from {plan.base} ({change}), kept: {_passed(results)};"
                f" backup {plan.backup}"
            )
            return outcome
        first = bad[0]
        outcome.error = f"check {first.check.label}: {first.why}"
        try:
            restored = await rebuilder.rollback(name)
        except (RebuildError, OllamaError) as exc:
            cause = exc if isinstance(exc, Unreachable) else exc.__cause__
            if isinstance(cause, Unreachable):
                raise cause from None
            outcome.outcome = "failed"
            outcome.line = (
                f"{name}: rebuilt ({change}) but check {first.check.label} failed:"
                f" {first.why}, and the roll back failed too: {exc}"
            )
            return outcome
        outcome.outcome, outcome.digest_after = "rolled back", restored
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        outcome.line = (
            f"{name}: rolled back to {_short(restored)}: check {first.check.label} failed"
            f" on {_short(after)}: {first.why}{more}; reply {_quote(first.reply)}"
        )
        return outcome


_BLOCKED = {
    "rolled back": "was rolled back",
    "checks failed": "failed its checks",
    "failed": "failed to rebuild",
    "skipped": "was not rebuilt",
}


def _outcome_of(report: Report, name: str) -> str:
    return next((o.outcome for o in report.outcomes if o.name == name), "")


def _passed(results: list[CheckResult]) -> str:
    seconds = sum(r.seconds for r in results)
    skipped = [r for r in results if r.skipped]
    if skipped and len(skipped) == len(results):
        return f"checks skipped ({skipped[0].skipped})"
    labels = "smoke check" if all(r.check.smoke for r in results) else None
    if labels:
        return f"smoke check passed ({seconds:.1f} s)"
    return f"{len(results)} check{'s' if len(results) != 1 else ''} passed ({seconds:.1f} s)"


def check_models_exist(checks: ChecksFile, snapshot: Snapshot, host: str) -> None:
    """A check for a model the server lacks is bad input, refused before anything is pulled."""
    for check in checks.checks:
        node = snapshot.nodes.get(check.model)
        if node is None or node.facts is None or node.kind is Kind.MISSING:
            raise ChecksError(f"{check.where}: no model {check.model} on {host}")
