"""The checks files the autopilot and TUI tests share: one that passes, one that fails.

The stand-in's replies are seeded pseudo-text that starts with a capital and never names a
zebra, so the first check holds and the second does not, on any model.
"""

from __future__ import annotations


def sentence_check(model: str, *, max_seconds: float | None = None) -> str:
    limit = f"max_seconds = {max_seconds:g}\n" if max_seconds is not None else ""
    return f"""\
[[check]]
model = "{model}"
name = "starts a sentence"
prompt = "Say something about context windows."
options = {{ temperature = 0, seed = 1 }}
regex = '^[A-Z]'
not_contains = "zebra"
{limit}"""


def zebra_check(model: str) -> str:
    return f"""\
[[check]]
model = "{model}"
name = "knows zebras"
prompt = "Name a striped animal."
options = {{ temperature = 0, seed = 1 }}
contains = "zebra"
"""
