"""`status`: the tree as plain text (symbol and word) or JSON, for people and cron."""

from __future__ import annotations

import argparse
import functools
import json
import re
import time

from ..core.lineage import NEEDS_REBUILD, Node, Snapshot
from ..services.pins import PIN_MARK, bulk_selection, pins_of
from ..services.session import Session
from .common import EXIT_ATTENTION, EXIT_OK


async def status(session: Session, args: argparse.Namespace) -> int:
    snapshot, pins = await settled(session, args)
    settings = session.settings
    if args.matrix:
        from ..core.matrix import HostView
        from .matrix import print_matrix

        recipes = await session.store.recipe_texts(settings.host_key)
        view = HostView(settings.label, snapshot, recipes)
        print_matrix([view], as_json=args.json or args.format == "json")
    elif args.json or args.format == "json":
        print(json_listing(settings.host, as_json(snapshot, pins)))
    elif args.format == "prometheus":
        from .metrics import HostReading, prometheus

        name = settings.name or settings.host_key
        print(prometheus([HostReading(name, settings.host, snapshot, time.time())]))
    else:
        print(render_tree(snapshot, pins))
    return exit_code(snapshot)


async def settled(session: Session, args: argparse.Namespace) -> tuple[Snapshot, set[str]]:
    """The snapshot once the registry had its say, and the pins."""
    if args.check_upstream:
        await session.upstream.check_all()
    elif any(n.unproven and n.state in NEEDS_REBUILD for n in session.syncer.snapshot.walk()):
        # Never called stale on trust: a derivative known only from Ollama's parent_model
        # may be a pulled model its publisher built (asked once; the answer is stored).
        await session.upstream.settle_guesses(again=False)
    return session.syncer.snapshot, await pins_of(session)


def exit_code(snapshot: Snapshot) -> int:
    attention = any(n.state.left_to_do for n in snapshot.walk())
    return EXIT_ATTENTION if attention else EXIT_OK


def json_listing(host: str, models: list[dict[str, object]]) -> str:
    """One model a line: as easy to read and to grep as indented JSON, and ten times faster
    to write (``indent`` makes the json module fall back to pure Python)."""
    return f'{{\n  "host": {json.dumps(host)},\n  "models": {models_json(models, "  ")}\n}}'


def hosts_listing(hosts: list[tuple[str, str, str | None, str]]) -> str:
    """``{"hosts": [{"name", "host", "error", "models"}]}``, one model a line; each host's
    models come as ``models_json`` made them."""
    entries = []
    for name, url, error, models in hosts:
        head = (
            f'"name": {json.dumps(name)}, "host": {json.dumps(url)}, "error": {json.dumps(error)}'
        )
        entries.append(f'    {{{head},\n     "models": {models or "[]"}}}')
    return '{\n  "hosts": [\n' + ",\n".join(entries) + "\n  ]\n}"


def models_json(models: list[dict[str, object]], indent: str) -> str:
    rows = ",\n".join(f"{indent}  {json.dumps(model)}" for model in models)
    return f"[\n{rows}\n{indent}]" if models else "[]"


def as_json(
    snapshot: Snapshot, pins: frozenset[str] | set[str] = frozenset()
) -> list[dict[str, object]]:
    """``held``: why a bulk rebuild leaves the model alone (a pin, a lineage taken on trust,
    either of them above it), or null; ``guessed`` and ``unconfirmed`` say which trust."""
    held = bulk_selection(snapshot, pins).held
    return [
        {
            "name": n.name,
            "kind": n.kind.value,
            "state": n.state.word,
            "base": n.base,
            "reason": cli_reason(n),
            "digest": n.facts.digest if n.facts else None,
            "depth": n.depth,
            "pinned": n.name in pins,
            "guessed": n.guessed,
            "unconfirmed": n.unproven and not n.guessed,
            "held": held.get(n.name),
        }
        for n in snapshot.walk()
    ]


def render_tree(snapshot: Snapshot, pins: frozenset[str] | set[str] = frozenset()) -> str:
    """Plain text with symbol and word, readable without colour (cron mail, NO_COLOR).

    A pinned model carries the pin mark after its name and "pinned" before its reason.
    """
    width = (
        max(
            (len(n.name) + 2 * n.depth + (2 if n.name in pins else 0) for n in snapshot.walk()),
            default=10,
        )
        + 2
    )
    lines = []
    for node in snapshot.walk():
        label = "  " * node.depth + node.name
        reason = cli_reason(node)
        if node.name in pins:
            label += f" {PIN_MARK}"
            reason = f"pinned ({PIN_MARK}); {reason}"
        lines.append(f"{node.state.symbol} {label:<{width}} {node.state.word:<16} {reason}")
    return "\n".join(lines) if lines else "(no models on the server)"


# The tree's reasons name TUI keys ("press p to pull", "(t, track)"); the CLI names commands.
_KEY_HINTS = (
    (re.compile(r"press \w to (\w+)"), r"run: ollama-lineage \1 {name}"),
    (re.compile(r"\((?:\w|ctrl\+\w), (\w+)\)"), r"(ollama-lineage \1)"),
    (re.compile(r"(\w+) it with \w\b"), r"\1 it: ollama-lineage \1 {name}"),
)


def cli_reason(node: Node) -> str:
    return _cli_text(node.reason).replace(_NAME, node.name)


_NAME = "\0name\0"  # where the model's name goes; no reason holds a NUL


@functools.lru_cache(maxsize=1024)
def _cli_text(reason: str) -> str:
    """Cached by reason alone: a fleet has a few dozen, and the substitutions are slow."""
    text = reason
    for pattern, replacement in _KEY_HINTS:
        if pattern.search(text):
            text = pattern.sub(replacement.replace("{name}", _NAME), text)
    if "(ollama-lineage track)" in text:
        text = text.replace("ollama-lineage track", f"ollama-lineage track {_NAME} --from BASE")
    return text
