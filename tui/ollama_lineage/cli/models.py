"""Commands that change one model: track, rebuild, pull, rollback, compare."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from ..core.lineage import NEEDS_REBUILD
from ..services.pins import Selection, bulk_selection, pins_of
from ..services.rebuild import RebuildError, Refused
from ..services.session import Session
from .common import (
    EXIT_ATTENTION,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    UsageError,
    confirm,
    indent,
    print_progress,
    stop_on_signal,
)


async def track(session: Session, args: argparse.Namespace) -> int:
    text = args.file.read_text(encoding="utf-8") if args.file else None
    stored = await session.rebuilder.track(args.child, args.base, text, force=args.force)
    if args.force and stored.link.base_digest is None:
        print(f"warning: {args.child} never had {args.base}'s weights; a rebuild replaces them")
    node = session.syncer.snapshot.nodes[args.child]
    print(f"{args.child} tracked from {stored.link.base}: {node.state.word}")
    print(stored.text, end="")
    return EXIT_OK


async def rebuild(session: Session, args: argparse.Namespace) -> int:
    selection = None
    names = args.names
    if args.all_stale:
        await session.upstream.settle_guesses()
        selection = bulk_selection(session.syncer.snapshot, await pins_of(session))
        names = selection.todo
        for name, why in selection.left.items():
            hint = f" (ollama-lineage unpin {name} to rebuild it)" if why == "pinned" else ""
            print(f"{name}: held back, {why}{hint}")
    if not names:
        if selection is None:
            print("name a model or pass --all-stale")
            return EXIT_ERROR
        return _summary(selection, "nothing to rebuild")
    recipes = await session.store.recipes(session.settings.host_key)
    for name in names:
        if name not in recipes:
            node = session.syncer.snapshot.nodes[name]
            raise UsageError(
                f"{name} has no recipe to rebuild from ({node.state.word}); adopt it first: "
                f"ollama-lineage track {name} --from BASE"
            )
    failures = refusals = rebuilt = 0
    with stop_on_signal() as stop:
        for index, name in enumerate(names):
            if stop.asked:
                print(f"stopped after {index} of {len(names)}; run again to continue")
                return EXIT_INTERRUPTED
            if selection is not None and name in selection.held:  # its parent failed or was skipped
                print(f"{name}: held back, {selection.held[name]}")
                continue
            node = session.syncer.snapshot.nodes[name]
            if selection is not None and node.state not in NEEDS_REBUILD:
                # Its parent, rebuilt above, came back as the version it was built from.
                print(f"{name}: nothing to rebuild, now {node.state.word}")
                continue
            plan = await session.rebuilder.plan(name)
            notes = []
            if plan.guessed:
                notes.append("note: recipe guessed (the base version it was made from is unknown)")
            if plan.stale_base and plan.stale_base not in names:
                notes.append(
                    f"note: {plan.stale_base} is itself out of date; --all-stale goes parents first"
                )
            if args.verbose or not args.yes:
                head = f"{name}: create from {plan.base} ({plan.base_digest[:12]})"
                print(f"{head}, backup {plan.backup}")
                if args.verbose:
                    print(indent(json.dumps(plan.request, indent=2)))
                for note in notes:
                    print(f"  {note}")
            if not args.yes and not confirm("  rebuild? [y/N] "):
                print(f"{name}: skipped")
                if selection is not None:
                    selection.hold(name, "skipped", which="skipped in this run")
                continue
            before = session.syncer.snapshot.nodes[name].facts
            try:
                digest = await session.rebuilder.run(plan, print_progress if args.verbose else None)
            except asyncio.CancelledError:  # a second Ctrl-C: the rebuilder put it back
                print(f"{name}: interrupted; the old model is back")
                print(f"stopped after {index} of {len(names)}; run again to continue")
                return EXIT_INTERRUPTED
            except RebuildError as exc:
                failures += 1
                refusals += isinstance(exc, Refused)
                print(f"{name}: {exc}", file=sys.stderr)
                if selection is not None:
                    selection.hold(name, "failed", which="failed in this run")
                continue
            rebuilt += 1
            state = session.syncer.snapshot.nodes[name].state.word
            was = before.digest[:12] if before else "-"
            line = (
                f"{name}: rebuilt from {plan.base} ({was} → {digest[:12]}, {state}), "
                f"backup {plan.backup}"
            )
            if before and before.digest == digest:
                line = f"{name}: unchanged ({digest[:12]}, {state}): the same model; no backup kept"
            print("; ".join([line, *notes]) if args.yes and not args.verbose else line)
    if selection is not None:
        return _summary(selection, f"rebuilt {rebuilt}")
    if refusals and refusals == failures:  # refused before anything was sent (no room)
        return EXIT_ERROR
    return EXIT_ATTENTION if failures else EXIT_OK


def _summary(selection: Selection, done: str) -> int:
    """A bulk run's last line; exit 1 when it left anything stale (held, failed, skipped)."""
    left = len(selection.left)
    print(f"{done}; {left} held back" if left else done)
    return EXIT_ATTENTION if left else EXIT_OK


async def pull(session: Session, args: argparse.Namespace) -> int:
    digest = await session.rebuilder.pull(args.name, print_progress)
    print(f"{args.name} is now {digest[:12]}")
    snapshot = session.syncer.snapshot
    stale = [n.name for n in snapshot.descendants(args.name) if n.state.needs_attention]
    if stale:
        print("now out of date: " + ", ".join(stale))
    return EXIT_OK


async def rollback(session: Session, args: argparse.Namespace) -> int:
    backups = await session.store.backups_of(session.settings.host_key, args.name)
    question = f"roll {args.name} back to {backups[-1] if backups else '-'}? [y/N] "
    if backups and not args.yes and not confirm(question, "roll back"):
        print("nothing rolled back")
        return EXIT_OK
    digest = await session.rebuilder.rollback(args.name)
    print(f"{args.name} rolled back to {digest[:12]}")
    return EXIT_OK


async def compare(session: Session, args: argparse.Namespace) -> int:
    from ..services.compare import compare_models, latest_backup

    backup = await latest_backup(session, args.name)
    options = {"seed": args.seed, "temperature": 0, "num_predict": args.num_predict}
    results = await compare_models(
        session, backup, args.name, args.prompt, options, max_seconds=args.max_seconds
    )
    for side in results:
        print(f"== {side.model}  {side.stats}")
        print(side.text)
    return EXIT_OK
