"""Short human forms shared by the tree and the detail pane: sizes, ages, digests."""

from __future__ import annotations

from datetime import datetime, timezone


def size(num_bytes: int) -> str:
    if num_bytes <= 0:
        return ""
    if num_bytes >= 1e9:
        return f"{num_bytes / 1e9:.1f}GB"
    if num_bytes >= 1e6:
        return f"{num_bytes / 1e6:.0f}MB"
    return f"{max(1, round(num_bytes / 1e3))}KB"  # tiny test models read "31KB", not "0MB"


def parse_time(stamp: str) -> datetime | None:
    """Ollama writes RFC 3339 with nanoseconds; Python reads microseconds at most."""
    if not stamp:
        return None
    text = stamp.replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits) :]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def age(then: datetime | None, now: datetime) -> str:
    if then is None:
        return ""
    seconds = max(0, int((now - then).total_seconds()))
    for unit, span in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= span:
            return f"{seconds // span}{unit}"
    return "now"


def short_digest(digest: str | None) -> str:
    return (digest or "")[:12] or "-"


def ago(then: datetime | None, now: datetime) -> str:
    text = age(then, now)
    return "just now" if text == "now" else f"{text} ago" if text else ""
