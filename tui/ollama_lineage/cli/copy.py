"""`copy NAME --to HOST`: the model made on another server from its recipe, bases first."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import replace

from ..config import Settings
from ..core.disk import human_bytes
from ..hosts import choose_hosts
from ..services.copy import Copier
from ..services.rebuild import RebuildError, Refused
from ..services.session import Session, open_session
from .common import (
    EXIT_ATTENTION,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    UsageError,
    confirm,
    stop_on_signal,
)


async def copy(session: Session, args: argparse.Namespace) -> int:
    target = _target(session.settings, args)
    if target.host_key == session.settings.host_key:
        raise UsageError(f"--to {args.to} is the server {args.name} is on")
    from .run import first_poll, writer_lock

    async with writer_lock(target, args), open_session(target, store=session.store) as there:
        await first_poll(there)
        return await _copy(Copier(session, there), args)


async def _copy(copier: Copier, args: argparse.Namespace) -> int:
    plan = await copier.plan(args.name, with_children=args.with_children)
    for step in plan.steps:
        print(step.line(copier.there))
    if not args.yes and not confirm("  copy? [y/N] ", "copy"):
        print(f"{plan.name}: not copied")
        return EXIT_OK
    same = True
    with stop_on_signal() as stop:
        for index, step in enumerate(plan.steps):
            if stop.asked:
                print(f"stopped after {index} of {len(plan.steps)}; run again to continue")
                return EXIT_INTERRUPTED
            try:
                done = await copier.do(step, _Sending())
            except asyncio.CancelledError:
                print(f"{step.name}: interrupted; run again to continue")
                return EXIT_INTERRUPTED
            except RebuildError as exc:
                print(f"{step.name}: {exc}", file=sys.stderr)
                left = len(plan.steps) - index - 1
                if left:
                    print(f"copy stopped: {left} built on it not copied")
                return EXIT_ERROR if isinstance(exc, Refused) else EXIT_ATTENTION
            print(done.line, flush=True)
            same = same and done.same
    return EXIT_OK if same else EXIT_ATTENTION


class _Sending:
    """A progress line per blob, at most one a second: bytes so far, of all, and the rate."""

    def __init__(self) -> None:
        self._started: dict[str, float] = {}
        self._said = 0.0

    def __call__(self, digest: str, sent: int, size: int) -> None:
        started = self._started.setdefault(digest, time.monotonic())
        now = time.monotonic()
        if sent < size and now - self._said < 1.0:
            return
        self._said = now
        rate = human_bytes(int(sent / max(now - started, 1e-3)))
        line = f"  sending {digest[:19]}: {human_bytes(sent)} of {human_bytes(size)}"
        print(f"{line}, {rate}/s", flush=True)


def _target(source: Settings, args: argparse.Namespace) -> Settings:
    """``--to``: a name from the hosts file, or an address; its own models_dir if the file
    gives one (it is only read on the source side)."""
    from . import hosts_file

    (host,) = choose_hosts([args.to], hosts_file(args), os.environ)
    return replace(source, host=host.url, name=host.name, models_dir=host.models_dir)
