"""`/api/tags` read one model at a time.

``json.loads`` of a 10,000-model listing holds every entry as dicts at once (~15 MB on top of
the 4 MB body); the poll keeps only the entries that changed, so each one is decoded, handed
on and dropped before the next.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any

_DECODER = json.JSONDecoder()
_BLANK = " \t\n\r"


class NotAListing(ValueError):
    """Valid JSON that is not ``{"models": [...]}``: ``what`` names the value sent instead
    (``"list"``), or is empty for an object without a model list."""

    def __init__(self, what: str = "") -> None:
        super().__init__(what)
        self.what = what


def listed_models(text: str) -> Generator[Any, None, None]:
    """Each element of the top-level object's ``models`` array, in order.

    Raises ``json.JSONDecodeError`` on malformed JSON (it may come after some models were
    yielded: a caller keeps nothing until the end) and ``NotAListing`` on another shape.
    """
    at = _skip(text, 0)
    if not text.startswith("{", at):
        value, _ = _DECODER.raw_decode(text, at)
        raise NotAListing(type(value).__name__)
    at = _skip(text, at + 1)
    found = False
    while not text.startswith("}", at):
        key, end = _DECODER.raw_decode(text, at)
        if not isinstance(key, str):
            raise json.JSONDecodeError("expected a key", text, at)
        at = _expect(text, end, ":")
        if key == "models" and text.startswith("[", at):
            found = True
            at = yield from _elements(text, at + 1)
        else:
            _, at = _DECODER.raw_decode(text, at)
            if key == "models":
                raise NotAListing()
        at = _skip(text, at)
        if text.startswith(",", at):
            at = _skip(text, at + 1)
        elif not text.startswith("}", at):
            raise json.JSONDecodeError("expected ',' or '}'", text, at)
    if _skip(text, at + 1) != len(text):
        raise json.JSONDecodeError("extra data", text, at + 1)
    if not found:
        raise NotAListing()


def _elements(text: str, at: int) -> Generator[Any, None, int]:
    """The array's elements; returns the index after its closing bracket."""
    at = _skip(text, at)
    if text.startswith("]", at):
        return at + 1
    while True:
        value, at = _DECODER.raw_decode(text, at)
        yield value
        at = _skip(text, at)
        if text.startswith("]", at):
            return at + 1
        at = _expect(text, at, ",")


def _expect(text: str, at: int, mark: str) -> int:
    at = _skip(text, at)
    if not text.startswith(mark, at):
        raise json.JSONDecodeError(f"expected {mark!r}", text, at)
    return _skip(text, at + 1)


def _skip(text: str, at: int) -> int:
    while at < len(text) and text[at] in _BLANK:
        at += 1
    return at
