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
        """Something the user should look at: the TUI's jump key and colours."""
        return self in ATTENTION

    @property
    def left_to_do(self) -> bool:
        """What `status` exits 1 for: something a command can act on. An orphan is listed,
        but has no base to rebuild from: a server with one can still be all done."""
        return self in ATTENTION and self is not State.ORPHANED


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
