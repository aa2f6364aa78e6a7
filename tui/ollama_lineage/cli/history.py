"""`history`: builds, pulls and rollbacks, of one model or all since a time."""

from __future__ import annotations

import argparse
import json
import re
import time
from datetime import datetime

from ..config import ConfigError
from ..services.session import Session
from .common import EXIT_OK, UsageError

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")


_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str, now: float | None = None) -> float:
    """``30m``, ``24h``, ``7d``, ``2w`` ago, or an ISO date/time (local time): a Unix time."""
    now = time.time() if now is None else now
    match = _DURATION.fullmatch(text.strip().lower())
    if match:
        return now - float(match[1]) * _UNIT_SECONDS[match[2]]
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise ConfigError(
            f"invalid --since value {text!r}: use e.g. 30m, 24h, 7d or 2026-01-31"
        ) from None


async def history(session: Session, args: argparse.Namespace) -> int:
    since_text = args.since or (None if args.name else "24h")
    since = parse_since(since_text) if since_text else None
    events = await session.store.history(session.settings.host_key, args.name, since=since)
    unknown = args.name and not events and args.name not in session.syncer.snapshot.nodes
    if unknown and not await session.store.history(session.settings.host_key, args.name, limit=1):
        raise UsageError(f"no model {args.name} on {session.settings.host}, and no history of it")
    if args.json:
        print(json.dumps([e.__dict__ for e in events], indent=2))
        return EXIT_OK
    if not events:
        scope = args.name or f"any model on {session.settings.host}"
        print(f"no history for {scope}" + (f" since {since_text}" if since_text else ""))
    width = max((len(e.name) for e in events), default=0)
    for e in events:
        when = datetime.fromtimestamp(e.started_at).strftime("%Y-%m-%d %H:%M:%S")
        change = f"{(e.digest_before or '-')[:12]} → {(e.digest_after or '-')[:12]}"
        extra = f" from {e.base}" if e.base else ""
        who = "" if args.name else f"{e.name:<{width}}  "
        print(f"{when}  {who}{e.kind:<13} {e.status:<8} {change}{extra}  {e.error or ''}".rstrip())
    return EXIT_OK
