"""Running one command: a session, its first poll, then the command's own module."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import shlex
import sys
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager

from ..config import Settings
from ..core.lineage import Kind
from ..ollama.client import ApiError, OllamaError
from ..ollama.plain_http import EarlyGet
from ..services.session import Session, open_session
from .common import UsageError

# Each command: the module that runs it (imported then) and its coroutine there.
COMMANDS = {
    "status": ("status", "status"),
    "track": ("models", "track"),
    "rebuild": ("models", "rebuild"),
    "pull": ("models", "pull"),
    "copy": ("copy", "copy"),
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
    "disk": ("disk", "disk"),
}
CommandRun = Callable[[Session, argparse.Namespace], Awaitable[int]]


def run_command(args: argparse.Namespace, settings: Settings, listing: EarlyGet | None) -> int:
    return asyncio.run(_run(args, settings, listing))


async def _run(args: argparse.Namespace, settings: Settings, listing: EarlyGet | None) -> int:
    module, name = COMMANDS[args.command]
    run: CommandRun = getattr(importlib.import_module(f"{__package__}.{module}"), name)
    async with contextlib.AsyncExitStack() as stack:
        # A command that changes models: one at a time per server (copy changes the --to
        # server, whose lock it takes itself).
        if hasattr(args, "wait") and args.command != "copy":
            await stack.enter_async_context(writer_lock(settings, args))
        # A writer that may have waited for another reads the server afresh: the listing
        # sent at start predates the other's changes (it would rebuild a model again).
        early = None if getattr(args, "wait", 0) > 0 else listing
        return await _run_in_session(run, args, settings, early)


def writer_lock(
    settings: Settings, args: argparse.Namespace
) -> AbstractAsyncContextManager[object]:
    """The server's writer lock for this run, waiting up to ``--wait`` and saying for whom."""
    from ..services.lock import acquire

    return acquire(
        settings.db_path,
        settings.host_key,
        command_line(args),
        args.wait,
        on_wait=lambda line: print(line, file=sys.stderr, flush=True),
    )


async def _run_in_session(
    run: CommandRun, args: argparse.Namespace, settings: Settings, listing: EarlyGet | None
) -> int:
    async with open_session(settings, early=listing) as session:
        await first_poll(session)
        _resolve_names(args, session)
        _require_models(args, session)
        if hasattr(args, "wait"):  # a writer: it writes History, and keeps it bounded
            await session.prune_history()
        return await run(session, args)


# Options that say where, not what: left out of the command a waiting writer is shown.
_WHERE = {"--host", "--db", "--registry", "--models-dir", "--wait"}


def command_line(args: argparse.Namespace) -> str:
    """What this run is doing, as typed from the command on (``rebuild --all-stale``)."""
    words: list[str] = list(getattr(args, "argv", None) or [args.command])
    if args.command in words:
        words = words[words.index(args.command) :]
    kept: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word in _WHERE:
            skip = True
        elif word.split("=", 1)[0] not in _WHERE:
            kept.append(word)
    return shlex.join(kept)


async def first_poll(session: Session) -> None:
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
    "copy": ("name",),
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
