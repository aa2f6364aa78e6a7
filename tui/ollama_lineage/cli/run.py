"""Running one command: a session, its first poll, then the command's own module."""

from __future__ import annotations

import argparse
import asyncio
import importlib
from collections.abc import Awaitable, Callable

from ..config import Settings
from ..core.lineage import Kind
from ..ollama.client import ApiError, OllamaError
from ..ollama.early import EarlyGet
from ..services.session import Session, open_session
from .common import UsageError

# Each command: the module that runs it (imported then) and its coroutine there.
COMMANDS = {
    "status": ("status", "status"),
    "track": ("models", "track"),
    "rebuild": ("models", "rebuild"),
    "pull": ("models", "pull"),
    "rollback": ("models", "rollback"),
    "compare": ("models", "compare"),
    "history": ("history", "history"),
    "export": ("recipes", "export"),
    "recipe": ("recipes", "recipe"),
    "plan": ("recipes", "plan"),
    "apply": ("recipes", "apply"),
    "autopilot": ("autopilot", "autopilot"),
    "checks": ("autopilot", "checks"),
    "pin": ("autopilot", "pin"),
    "unpin": ("autopilot", "unpin"),
}
CommandRun = Callable[[Session, argparse.Namespace], Awaitable[int]]


def run_command(args: argparse.Namespace, settings: Settings, listing: EarlyGet) -> int:
    return asyncio.run(_run(args, settings, listing))


async def _run(args: argparse.Namespace, settings: Settings, listing: EarlyGet) -> int:
    module, name = COMMANDS[args.command]
    run: CommandRun = getattr(importlib.import_module(f"{__package__}.{module}"), name)
    async with open_session(settings, early=listing) as session:
        await _first_poll(session)
        _resolve_names(args, session)
        _require_models(args, session)
        return await run(session, args)


async def _first_poll(session: Session) -> None:
    """Ollama always answers /api/tags; a 404 there means some other server on that port."""
    try:
        await session.syncer.poll()
    except ApiError as exc:
        if exc.status in (404, 405) and session.syncer.requests["show"] == 0:
            raise OllamaError(
                f"{session.settings.host} does not look like an Ollama server "
                f"(HTTP {exc.status}); check --host or OLLAMA_HOST"
            ) from None
        raise


# The commands that act on a model the server must already have, and the arguments naming it.
_NEEDS_MODEL = {
    "track": ("child", "base"),
    "rebuild": ("names",),
    "rollback": ("name",),
    "compare": ("name",),
    "export": ("name",),
    "recipe": ("name",),
    "pin": ("name",),
    "checks": ("names",),
}


def _require_models(args: argparse.Namespace, session: Session) -> None:
    nodes = session.syncer.snapshot.nodes
    for attr in _NEEDS_MODEL.get(args.command, ()):
        value = getattr(args, attr, None)
        for name in value if isinstance(value, list) else [value] if value else []:
            node = nodes.get(name)
            if node is None or node.facts is None or node.kind is Kind.MISSING:
                raise UsageError(f"no model {name} on {session.settings.host}")


def _resolve_names(args: argparse.Namespace, session: Session) -> None:
    """`QWQ` means `qwq:latest`, as it does to the ollama CLI."""
    resolve = session.syncer.resolve
    for attr in ("child", "base", "name"):
        if getattr(args, attr, None):
            setattr(args, attr, resolve(getattr(args, attr)))
    if getattr(args, "names", None):
        args.names = [resolve(n) for n in args.names]
