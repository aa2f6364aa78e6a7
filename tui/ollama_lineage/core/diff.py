"""Rows for the side-by-side Modelfile diff and the parameter comparison table.

Plain data, so the TUI only paints what is computed here and the CLI can print it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from .modelfile import ParamValue, format_scalar

RowKind = Literal["same", "changed", "removed", "added"]


@dataclass(frozen=True)
class DiffRow:
    left_no: int | None
    left: str
    right_no: int | None
    right: str
    kind: RowKind


def _lines(text: str) -> list[str]:
    """Split on '\\n' only: templates may hold other line separators that are not lines."""
    return text.removesuffix("\n").split("\n") if text else []


def _paired(a: list[str], i1: int, i2: int, b: list[str], j1: int, j2: int) -> Iterator[DiffRow]:
    """Pair a 'replace' block line by line; the longer side's tail is removed/added."""
    for offset in range(max(i2 - i1, j2 - j1)):
        i, j = i1 + offset, j1 + offset
        if i < i2 and j < j2:
            yield DiffRow(i + 1, a[i], j + 1, b[j], "changed")
        elif i < i2:
            yield DiffRow(i + 1, a[i], None, "", "removed")
        else:
            yield DiffRow(None, "", j + 1, b[j], "added")


def side_by_side(left: str, right: str) -> list[DiffRow]:
    """Align two texts for display, with 1-based line numbers on each side."""
    a, b = _lines(left), _lines(right)
    rows: list[DiffRow] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows.extend(DiffRow(i + 1, a[i], j1 + i - i1 + 1, a[i], "same") for i in range(i1, i2))
        else:  # delete and insert are replace blocks with one empty side
            rows.extend(_paired(a, i1, i2, b, j1, j2))
    return rows


@dataclass(frozen=True)
class DiffSummary:
    added: int
    removed: int
    changed: int

    def __str__(self) -> str:
        counts = (self.changed, "changed"), (self.added, "added"), (self.removed, "removed")
        parts = [f"{count} {label}" for count, label in counts if count]
        return ", ".join(parts) or "no changes"


def summarize(rows: Sequence[DiffRow]) -> DiffSummary:
    """Count the rows of each kind, for the one-line summary in the rebuild plan."""
    kinds = [row.kind for row in rows]
    return DiffSummary(kinds.count("added"), kinds.count("removed"), kinds.count("changed"))


@dataclass(frozen=True)
class ParamRow:
    name: str
    base: str
    derived: str
    after: str
    overridden: bool  # derived differs from base (the derivative's own setting)
    changes_on_rebuild: bool  # after differs from derived (a rebuild would change it)


def format_value(value: ParamValue | None) -> str:
    """One cell of the table: "" when absent, list items joined with ", "."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(value)
    return format_scalar(value)


def parameter_table(
    base: Mapping[str, ParamValue],
    derived: Mapping[str, ParamValue],
    after: Mapping[str, ParamValue],
) -> list[ParamRow]:
    """One row per parameter named anywhere, sorted, flagging overrides and rebuild changes."""
    return [
        ParamRow(
            name=name,
            base=format_value(base.get(name)),
            derived=format_value(derived.get(name)),
            after=format_value(after.get(name)),
            overridden=base.get(name) != derived.get(name),
            changes_on_rebuild=derived.get(name) != after.get(name),
        )
        for name in sorted({*base, *derived, *after})
    ]
