"""One writer per server: a locked file beside the database, and who holds it.

Two runs that change models on one server at once each back up and create the same model
(cron's ``rebuild --all-stale`` and a user's ``rebuild``). Every command and key that changes
a model holds this lock. The operating system's lock (``flock``) goes when its process does,
so a crashed holder never blocks anyone; the JSON record in the file only says who it was.
A process that holds the lock may take it again (the CLI around a whole run, the rebuilder
around each step).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from pathlib import Path

POLL_SECONDS = 0.2  # how often a waiting writer tries again


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str  # the machine's name
    command: str
    since: float

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.since))
        return f"{self.command!r} (pid {self.pid} on {self.host}, since {when})"


class LockBusy(Exception):
    """Another process is changing models on this server: the message names it."""

    def __init__(self, server: str, holder: Holder | None) -> None:
        who = holder.describe() if holder else "(it has not said who it is yet)"
        super().__init__(
            f"another ollama-lineage is changing models on {server}: {who}; "
            "wait for it to finish, or pass --wait SECONDS"
        )
        self.server = server
        self.holder = holder


def lock_path(db_path: Path, server: str) -> Path:
    """Per server, in the database's folder: two databases on one server still exclude."""
    return Path(db_path).parent / f"ollama-lineage-{re.sub(r'[^A-Za-z0-9.-]', '_', server)}.lock"


# What each thread of this process holds: (path, thread) -> ((fd, holder), blocks inside it).
# Per thread: two event loops in one process are two writers, as two processes are.
_held: dict[tuple[Path, int], tuple[tuple[int, Holder], int]] = {}


def holder_of(path: Path) -> Holder | None:
    """The record of the last process that took the lock (None while it is being written)."""
    try:
        data = json.loads(path.read_bytes()[_RECORD_AT:] or b"null")
        return Holder(int(data["pid"]), str(data["host"]), str(data["command"]), data["since"])
    except (OSError, ValueError, TypeError, KeyError):
        return None


@contextlib.asynccontextmanager
async def acquire(
    db_path: Path,
    server: str,
    command: str,
    wait_seconds: float = 0.0,
    on_wait: Callable[[str], None] | None = None,
) -> AsyncIterator[Holder]:
    """Hold ``server``'s writer lock for the block, waiting up to ``wait_seconds`` for it
    (``on_wait`` is told who it waits for, once, so a long wait does not look like a hang);
    ``LockBusy`` names the holder when it is not let go in time."""
    path = lock_path(db_path, server).absolute()
    key = (path, threading.get_ident())
    if key not in _held:
        _held[key] = (await _take(path, server, command, wait_seconds, on_wait), 0)
    fd, holder = _held[key][0]
    _held[key] = ((fd, holder), _held[key][1] + 1)
    try:
        yield holder
    finally:
        taken, depth = _held[key]
        if depth > 1:
            _held[key] = (taken, depth - 1)
        else:
            del _held[key]
            os.ftruncate(fd, _RECORD_AT)
            _unlock(fd)
            os.close(fd)


async def _take(
    path: Path,
    server: str,
    command: str,
    wait_seconds: float,
    on_wait: Callable[[str], None] | None,
) -> tuple[int, Holder]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait_seconds
        told = False
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                raise LockBusy(server, holder_of(path))
            if on_wait and not told:
                holder = holder_of(path)
                who = holder.describe() if holder else "another ollama-lineage"
                on_wait(f"waiting up to {wait_seconds:g} s for {who} on {server}")
                told = True
            await asyncio.sleep(POLL_SECONDS)
        holder = Holder(os.getpid(), socket.gethostname(), command, time.time())
        os.ftruncate(fd, _RECORD_AT)
        os.lseek(fd, _RECORD_AT, os.SEEK_SET)
        os.write(fd, json.dumps(asdict(holder)).encode())
    except BaseException:
        os.close(fd)
        raise
    return fd, holder


_RECORD_AT = 1  # Windows locks bytes: byte 0 is the lock, the record comes after it

if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
