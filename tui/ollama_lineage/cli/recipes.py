"""Recipes as code: export, plan and apply a folder of Modelfiles."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime

from ..config import ConfigError
from ..ollama.client import OllamaError
from ..services.pins import pins_of
from ..services.rebuild import RebuildError
from ..services.recipes import (
    Action,
    Applied,
    Change,
    FolderPlan,
    apply_change,
    as_listed,
    export_all,
    for_ollama_create,
    plan_folder,
)
from ..services.session import Session
from .common import (
    EXIT_ATTENTION,
    EXIT_INTERRUPTED,
    EXIT_OK,
    UsageError,
    confirm,
    indent,
    print_progress,
    stop_on_signal,
)


async def export(session: Session, args: argparse.Namespace) -> int:
    if args.all_dir is not None:
        if args.name or args.output:
            raise ConfigError("export --all DIR writes every recipe: give no NAME and no -o")
        exported = await export_all(session, args.all_dir)
        for name, why in exported.skipped.items():
            print(f"skipped {name}: {why}", file=sys.stderr)
        print(f"wrote {len(exported.written)} recipes to {args.all_dir}")
        return EXIT_OK
    if not args.name:
        raise ConfigError("name a model to export, or pass --all DIR")
    stored = await session.rebuilder.recipe(args.name)
    text = for_ollama_create(stored.text, session.settings.models_dir)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        print(text, end="")
    return EXIT_OK


async def recipe(session: Session, args: argparse.Namespace) -> int:
    """The current recipe, then each earlier one numbered from the newest; ``--revert N``
    makes one current again (checked as any recipe is; the model then reads ``edited``)."""
    current = await session.rebuilder.recipe(args.name)
    versions = await session.store.recipe_versions(session.settings.host_key, args.name)
    if args.revert is not None:
        if not 1 <= args.revert <= len(versions):
            raise UsageError(
                f"{args.name} has {len(versions)} earlier recipe(s): --revert takes 1"
                f" to {len(versions)}"
                if versions
                else f"{args.name} has no earlier recipe to go back to"
            )
        _, base, text = versions[args.revert - 1]
        stored = await session.rebuilder.track(args.name, base, text)
        state = session.syncer.snapshot.nodes[args.name].state.word
        print(f"{args.name}: earlier recipe {args.revert} is current again ({state})")
        print(stored.text, end="")
        return EXIT_OK
    print(f"# {args.name}: current recipe")
    print(current.text, end="")
    for number, (replaced, _, text) in enumerate(versions, 1):
        when = datetime.fromtimestamp(replaced).strftime("%Y-%m-%d %H:%M:%S")
        print(
            f"\n# {number}: replaced {when} (ollama-lineage recipe {args.name} --revert {number})"
        )
        print(text, end="")
    return EXIT_OK


async def plan(session: Session, args: argparse.Namespace) -> int:
    plan = await plan_folder(session, args.folder, prune=args.prune, pins=await pins_of(session))
    if args.json:
        print(json.dumps({"host": session.settings.host, **plan.as_json()}, indent=2))
    else:
        print_plan(plan)
    return EXIT_ATTENTION if plan.changes else EXIT_OK


def print_plan(plan: FolderPlan) -> None:
    width = max((len(c.name) for c in plan.changes), default=0)
    held = plan.held
    for change in plan.changes:
        print(f"{change.action.symbol} {change.name:<{width}}  {change.reason}")
        for line in change.diff:
            print(f"    {line}")
        for note in change.notes:
            print(f"    note: {note}")
        if change.name in held:
            print(f"    held back: {_held_line(change.name, held[change.name])}")
    for warning in plan.warnings:
        print(f"note: {warning}")
    print(plan.summary)


async def apply(session: Session, args: argparse.Namespace) -> int:
    plan = await plan_folder(session, args.folder, prune=args.prune, pins=await pins_of(session))
    if not plan.changes:
        print(plan.summary)
        return EXIT_OK
    if not args.yes:
        print_plan(plan)
        if not confirm("apply these changes? [y/N] ", "apply"):
            print("nothing applied")
            return EXIT_OK
    assert plan.selection is not None
    selection = plan.selection
    done = {action: 0 for action in Action}
    with stop_on_signal() as stop:
        for index, change in enumerate(plan.changes):
            if stop.asked:
                print(f"stopped after {index} of {len(plan.changes)}; run again to continue")
                return EXIT_INTERRUPTED
            selection.hold_if_built_on_held(change.name, _resolved_base(session, change))
            if change.name in selection.held:
                why = _held_line(change.name, selection.held[change.name])
                print(f"{change.action.symbol} {change.name}: held back, {why}")
                continue
            if args.verbose and change.action is not Action.DELETE:
                recipe = args.folder[
                    next(k for k in args.folder if k.lower() == change.name.lower())
                ]
                print(f"{change.action.symbol} {change.name}: create request")
                request = as_listed(session, recipe.recipe).create_request(change.name)
                print(indent(json.dumps(request, indent=2)))
            try:
                applied = await apply_change(
                    session, change, args.folder, print_progress if args.verbose else None
                )
            except asyncio.CancelledError:  # a second Ctrl-C: the rebuilder put it back
                print(f"{change.name}: interrupted; the old model is back")
                print(f"stopped after {index} of {len(plan.changes)}; run again to continue")
                return EXIT_INTERRUPTED
            except (RebuildError, OllamaError) as exc:
                print(f"{change.action.symbol} {change.name}: {exc}", file=sys.stderr)
                selection.hold(change.name, "failed", which="failed in this run")
                continue
            done[change.action] += 1
            print(f"{change.action.symbol} {change.name}: {_applied_line(applied)}")
    held = {c.name for c in plan.changes if c.name in selection.held}
    print(
        f"Apply {'stopped short' if held else 'complete'}: {done[Action.CREATE]} created, "
        f"{done[Action.REBUILD] + done[Action.DRIFT]} rebuilt, "
        f"{done[Action.DELETE]} deleted" + (f"; {len(held)} held back." if held else ".")
    )
    return EXIT_ATTENTION if held else EXIT_OK


def _resolved_base(session: Session, change: Change) -> str | None:
    return session.syncer.resolve(change.base) if change.base else None


def _held_line(name: str, why: str) -> str:
    return f"{why} (ollama-lineage unpin {name} to apply it)" if why == "pinned" else why


def _applied_line(applied: Applied) -> str:
    change, digest = applied.change, (applied.digest or "")[:12]
    if change.action is Action.CREATE:
        return f"created from {change.base} ({digest})"
    if change.action is Action.DELETE:
        return "deleted"
    return f"rebuilt from {change.base} ({digest}), backup {applied.backup}"
