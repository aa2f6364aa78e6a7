"""The update gate: autopilot, checks, pin and unpin."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime

from ..core.lineage import Kind
from ..services.autopilot import (
    Autopilot,
    Report,
    check_against_backup,
    check_models_exist,
    model_checks,
    run_checks,
)
from ..services.checks import CheckResult, ChecksFile
from ..services.disk import plan_cost
from ..services.pins import pins_of
from ..services.session import Session
from .common import EXIT_ATTENTION, EXIT_ERROR, EXIT_OK, UsageError


async def autopilot(session: Session, args: argparse.Namespace) -> int:
    checks: ChecksFile = args.checks_file.renamed(session.syncer.resolve)
    check_models_exist(checks, session.syncer.snapshot, session.settings.host)
    out = sys.stderr if args.json else sys.stdout

    def say(line: str) -> None:
        print(line, file=out, flush=True)

    pilot = Autopilot(session, checks, await pins_of(session), say)
    plan = await pilot.prepare()
    asked = False
    if not args.yes and not plan.nothing_to_do:
        for line in plan.lines():
            print(line, flush=True)
        pulls = [name for name, _ in plan.pulls]
        print(await plan_cost(session, pulls, [n for n, _ in plan.rebuilds]), flush=True)
        if not sys.stdin.isatty():
            print(
                "error: not asking on a non-interactive input: pass --yes to run autopilot",
                file=sys.stderr,
            )
            return EXIT_ERROR
        if input("go ahead? [y/N] ").strip().lower() not in {"y", "yes"}:
            print("nothing done")
            return EXIT_OK
        asked = True
    report = await pilot.run(plan, echo_notes=not asked)
    return _finish_autopilot(report, args, say)


def _finish_autopilot(report: Report, args: argparse.Namespace, say: Callable[[str], None]) -> int:
    if report.error:
        say(f"error: {report.error}")
    say(report.summary)
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    code = report.exit_code
    if args.notify:
        failure = notify(args.notify, report.as_json())
        if failure:
            print(f"warning: --notify {failure}", file=sys.stderr)
            code = max(code, EXIT_ATTENTION)
    return code


def notify(command: str, report: dict[str, object]) -> str | None:
    """Run the user's command with the JSON report on stdin; why it failed, or None."""
    env = {**os.environ, "OLLAMA_LINEAGE_EXIT_CODE": str(report.get("exit_code"))}
    try:
        done = subprocess.run(
            command,
            shell=True,
            input=json.dumps(report, indent=2),
            text=True,
            timeout=120,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"command did not finish within 120 s: {command}"
    except OSError as exc:
        return f"command could not run ({exc.strerror}): {command}"
    if done.returncode != 0:
        return f"command exited {done.returncode}: {command}"
    return None


async def checks(session: Session, args: argparse.Namespace) -> int:
    checks: ChecksFile = args.checks_file.renamed(session.syncer.resolve)
    check_models_exist(checks, session.syncer.snapshot, session.settings.host)
    names = args.names or checks.named()
    if not names:
        where = checks.path or "the checks file"
        print(f"no checks in {where}: every model gets the smoke check; name a model to see it")
        return EXIT_OK
    if args.run:
        return await _run_checks(session, checks, names, args)
    listing = {name: await model_checks(session, checks, name) for name in names}
    if args.json:
        print(
            json.dumps(
                {
                    name: [
                        {**s.check.as_json(), "last": s.last.__dict__ if s.last else None}
                        for s in statuses
                    ]
                    for name, statuses in listing.items()
                },
                indent=2,
            )
        )
        return EXIT_OK
    for name, statuses in listing.items():
        print(name)
        for status in statuses:
            last = status.last
            if last is None:
                result = "never run"
            else:
                when = datetime.fromtimestamp(last.ran_at).strftime("%Y-%m-%d %H:%M")
                verdict = "passed" if last.passed else "failed: " + "; ".join(last.failures)
                result = f"{verdict} ({when}, {last.seconds:.1f} s on {(last.digest or '-')[:12]})"
            print(f"  {status.check.label}  {result}")
    return EXIT_OK


async def _run_checks(
    session: Session, checks: ChecksFile, names: list[str], args: argparse.Namespace
) -> int:
    def line(side: str, result: CheckResult) -> None:
        verdict = "passed" if result.passed else f"FAILED: {result.why}"
        if result.skipped:
            verdict = f"skipped: {result.skipped}"
        timing = f"{result.seconds:.1f} s, load {result.load_seconds:.1f} s"
        if result.tokens_per_second:
            timing += f", {result.tokens_per_second:.1f} tok/s"
        if result.cut:
            timing += ", cut at the token cap"
        if not args.json:
            print(f"{side}{result.check.label}: {verdict} ({timing})", flush=True)

    failed = False
    report: dict[str, object] = {}
    for name in names:
        if not args.json:
            print(name)
        if args.against_backup:
            pairs = await check_against_backup(
                session,
                checks,
                name,
                on_result=lambda side, r: line(("  old " if side == 0 else "  new "), r),
            )
            failed |= any(not p.new.passed for p in pairs)
            report[name] = [{"old": p.old.as_json(), "new": p.new.as_json()} for p in pairs]
        else:
            results = await run_checks(
                session, name, checks.for_model(name), on_result=lambda r: line("  ", r)
            )
            failed |= any(not r.passed for r in results)
            report[name] = [r.as_json() for r in results]
    if args.json:
        print(json.dumps(report, indent=2))
    return EXIT_ATTENTION if failed else EXIT_OK


async def pin(session: Session, args: argparse.Namespace) -> int:
    snapshot = session.syncer.snapshot
    node = snapshot.nodes[args.name]
    if node.kind is Kind.BACKUP:
        raise UsageError(f"{args.name} is a backup; pin the model it backs up, {node.base}")
    added = await session.store.pin(session.settings.host_key, args.name)
    under = [d.name for d in snapshot.descendants(args.name) if d.kind is not Kind.BACKUP]
    also = f" and what is built on it ({', '.join(under)})" if under else ""
    state = "pinned" if added else "already pinned"
    print(f"{args.name} {state}: autopilot and rebuild --all-stale leave it{also} alone")
    return EXIT_OK


async def unpin(session: Session, args: argparse.Namespace) -> int:
    host = session.settings.host_key
    pins = await session.store.pins(host)
    name = next((p for p in pins if p.casefold() == args.name.casefold()), args.name)
    if await session.store.unpin(host, name):
        print(f"{name} unpinned: autopilot and rebuild --all-stale handle it again")
    else:
        print(f"{name} was not pinned")
    return EXIT_OK
