"""Recipes as code: export, plan and apply a folder of Modelfiles."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

from ..config import ConfigError
from ..ollama.client import OllamaError
from ..services.rebuild import RebuildError
from ..services.recipes import (
    Action,
    Applied,
    FolderPlan,
    apply_change,
    export_all,
    for_ollama_create,
    plan_folder,
)
from ..services.session import Session
from .common import (
    EXIT_ATTENTION,
    EXIT_OK,
    UsageError,
    confirm,
    indent,
    print_progress,
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
    plan = await plan_folder(session, args.folder, prune=args.prune)
    if args.json:
        print(json.dumps({"host": session.settings.host, **plan.as_json()}, indent=2))
    else:
        print_plan(plan)
    return EXIT_ATTENTION if plan.changes else EXIT_OK


def print_plan(plan: FolderPlan) -> None:
    width = max((len(c.name) for c in plan.changes), default=0)
    for change in plan.changes:
        print(f"{change.action.symbol} {change.name:<{width}}  {change.reason}")
        for line in change.diff:
            print(f"    {line}")
        for note in change.notes:
            print(f"    note: {note}")
    for warning in plan.warnings:
        print(f"note: {warning}")
    print(plan.summary)


async def apply(session: Session, args: argparse.Namespace) -> int:
    plan = await plan_folder(session, args.folder, prune=args.prune)
    if not plan.changes:
        print(plan.summary)
        return EXIT_OK
    if not args.yes:
        print_plan(plan)
        if not confirm("apply these changes? [y/N] ", "apply"):
            print("nothing applied")
            return EXIT_OK
    done: list[str] = []
    for change in plan.changes:
        if args.verbose and change.action is not Action.DELETE:
            recipe = args.folder[next(k for k in args.folder if k.lower() == change.name.lower())]
            print(f"{change.action.symbol} {change.name}: create request")
            print(indent(json.dumps(recipe.recipe.create_request(change.name), indent=2)))
        try:
            applied = await apply_change(
                session, change, args.folder, print_progress if args.verbose else None
            )
        except (RebuildError, OllamaError) as exc:
            left = len(plan.changes) - len(done) - 1
            print(f"{change.action.symbol} {change.name}: {exc}", file=sys.stderr)
            print(
                f"apply stopped: {len(done)} done, {change.name} failed, {left} not started",
                file=sys.stderr,
            )
            return EXIT_ATTENTION
        done.append(change.name)
        print(f"{change.action.symbol} {change.name}: {_applied_line(applied)}")
    print(
        f"Apply complete: {plan.count(Action.CREATE)} created, "
        f"{plan.count(Action.REBUILD) + plan.count(Action.DRIFT)} rebuilt, "
        f"{plan.count(Action.DELETE)} deleted."
    )
    return EXIT_OK


def _applied_line(applied: Applied) -> str:
    change, digest = applied.change, (applied.digest or "")[:12]
    if change.action is Action.CREATE:
        return f"created from {change.base} ({digest})"
    if change.action is Action.DELETE:
        return "deleted"
    return f"rebuilt from {change.base} ({digest}), backup {applied.backup}"
