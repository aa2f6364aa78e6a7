"""The one table of states: word, symbol and CSS class, so the tree reads without colour."""

from __future__ import annotations

from enum import Enum


class State(Enum):
    """Each value is (word, symbol); the CSS class is derived from the word."""

    CURRENT = ("current", "●")
    UPDATE_AVAILABLE = ("update available", "↑")
    MISSING = ("missing", "∅")
    FRESH = ("fresh", "✓")
    STALE = ("stale", "!")
    STALE_UPSTREAM = ("stale upstream", "~")
    DRIFTED = ("drifted", "≠")
    EDITED = ("edited", "✎")
    ROLLED_BACK = ("rolled back", "↶")
    ORPHANED = ("orphaned", "○")
    UNTRACKED = ("untracked", "?")
    BUILDING = ("building", "↻")
    FAILED = ("failed", "✗")
    BACKUP = ("backup", "≡")
    REMOTE = ("remote", "☁")
    UNREADABLE = ("unreadable", "⚠")

    def __init__(self, word: str, symbol: str) -> None:
        self.word = word
        self.symbol = symbol

    @property
    def css_class(self) -> str:
        return "state-" + self.name.lower().replace("_", "-")

    @property
    def needs_attention(self) -> bool:
        """What `status` exits 1 for: something the user should act on."""
        return self in ATTENTION


ATTENTION = frozenset(
    {
        State.STALE,
        State.STALE_UPSTREAM,
        State.DRIFTED,
        State.EDITED,
        State.ROLLED_BACK,
        State.ORPHANED,
        State.FAILED,
    }
)
