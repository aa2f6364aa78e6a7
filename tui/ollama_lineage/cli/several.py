"""One command over several servers: `status` asks them all at once, each in its own process
with its own timeouts, so a host that is down or hangs costs only its own section; commands
that change models go host by host, each under its own writer lock, each reported under its
name."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pickle
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from ..config import Settings
from ..core.lineage import Snapshot
from ..core.matrix import HostView
from ..ollama.client import OllamaError
from ..services.server_problem import server_problem
from ..services.session import open_session
from .common import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, UsageError
from .status import as_json, exit_code, hosts_listing, models_json, render_tree, settled


def run_on_hosts(args: argparse.Namespace, hosts: list[Settings]) -> int:
    if args.command == "status":
        return _status(args, [_in_a_process(args, settings) for settings in hosts])
    if getattr(args, "json", False):
        raise UsageError(
            f"{args.command} --json reads one server; over several, status --json has them all"
        )
    from . import report_error
    from .run import run_command

    code = EXIT_OK
    for number, settings in enumerate(hosts):
        print(f"{'' if number == 0 else chr(10)}== {settings.name} ({settings.host})", flush=True)
        try:
            result = run_command(args, settings, None)
        except Exception as exc:
            result = report_error(exc, args)
        if result == EXIT_INTERRUPTED:
            return result
        code = max(code, result)
    return code


@dataclass(frozen=True)
class _HostStatus:
    settings: Settings
    error: str | None = None
    exit_code: int = EXIT_OK
    # Its tree as printed (text, or its models' JSON), made in the process that read it: a
    # snapshot pickled there and unpickled here cost three hosts ~50 ms one after another.
    section: str = ""
    snapshot: Snapshot | None = None  # only for the matrix and the metrics, which join hosts
    polled_at: float | None = None
    recipes: Mapping[str, str] = field(default_factory=dict)


class _Child(NamedTuple):
    pid: int
    answer: int  # the pipe its pickled _HostStatus comes back on


def _in_a_process(args: argparse.Namespace, settings: Settings) -> _Child:
    """Read one host in a forked process. A cold status is CPU work (every show parsed and
    stored), so in one process three hosts took three times one; forked after the imports,
    each host has a core when there is one, and the database is the only thing they share."""
    read, write = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write)
        return _Child(pid, read)
    os.close(read)
    try:
        try:
            found: object = asyncio.run(_status_of(args, settings))
        except BaseException as exc:  # told to the parent, which raises it
            found = exc
        with os.fdopen(write, "wb") as out:
            out.write(_pickled(found))
    finally:
        os._exit(0)


def _pickled(found: object) -> bytes:
    try:
        return pickle.dumps(found)
    except Exception:  # an exception that does not pickle: its words still reach the user
        return pickle.dumps(RuntimeError(f"{type(found).__name__}: {found}"))


def _collect(children: list[_Child]) -> list[_HostStatus]:
    """Each child's answer in the hosts' order; an error in one is raised here, as it would
    have been in one process. Children not yet heard when this ends (Ctrl-C, an error) are
    stopped."""
    answers: list[object] = []
    try:
        for child in children:
            with os.fdopen(child.answer, "rb") as answer:
                data = answer.read()
            os.waitpid(child.pid, 0)
            answers.append(pickle.loads(data) if data else RuntimeError("a host's reader died"))
    finally:
        for child in children[len(answers) :]:
            with contextlib.suppress(OSError):
                os.close(child.answer)
            with contextlib.suppress(ProcessLookupError, ChildProcessError):
                os.kill(child.pid, signal.SIGTERM)
                os.waitpid(child.pid, 0)
    for result in answers:
        if isinstance(result, BaseException):
            raise result
    return [result for result in answers if isinstance(result, _HostStatus)]


def _status(args: argparse.Namespace, children: list[_Child]) -> int:
    """Every reachable host is printed; exit 2 when any could not be read, else 1 or 0."""
    found = _collect(children)
    if args.matrix:
        from .matrix import print_matrix

        views = [HostView(h.settings.label, h.snapshot, h.recipes) for h in found]
        print_matrix(views, as_json=args.json or args.format == "json")
    elif args.format == "prometheus":
        from .metrics import HostReading, prometheus

        readings = [
            HostReading(h.settings.name, h.settings.host, h.snapshot, h.polled_at) for h in found
        ]
        print(prometheus(readings))
    elif _as_json(args):
        listed = [(h.settings.name, h.settings.host, h.error, h.section) for h in found]
        print(hosts_listing(listed))
    else:
        sections = []
        for h in found:
            body = f"error: {h.error}" if h.error else h.section
            sections.append(f"== {h.settings.name} ({h.settings.host})\n{body}")
        print("\n\n".join(sections))
    if any(h.error for h in found):
        return EXIT_ERROR
    return max(h.exit_code for h in found)


def _as_json(args: argparse.Namespace) -> bool:
    return bool(args.json or args.format == "json")


async def _status_of(args: argparse.Namespace, settings: Settings) -> _HostStatus:
    async with open_session(settings) as session:
        try:
            await session.syncer.poll()
            snapshot, pins = await settled(session, args)
        except OllamaError as exc:
            return _HostStatus(settings, error=server_problem(settings.host, exc).summary)
        # Only the matrix compares recipes: a plain status over several hosts reads none.
        store = session.store
        recipes = await store.recipe_texts(settings.host_key) if args.matrix else {}
        joined = args.matrix or args.format == "prometheus"
        return _HostStatus(
            settings,
            exit_code=exit_code(snapshot),
            section="" if joined else _section(args, snapshot, frozenset(pins)),
            snapshot=snapshot if joined else None,
            polled_at=time.time(),
            recipes=recipes,
        )


def _section(args: argparse.Namespace, snapshot: Snapshot, pins: frozenset[str]) -> str:
    """The host's tree as ``_status`` prints it: its models' JSON, or the text tree."""
    if _as_json(args):
        return models_json(as_json(snapshot, pins), "     ")
    return render_tree(snapshot, pins)
