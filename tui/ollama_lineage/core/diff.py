"""Rows for the side-by-side Modelfile diff and the parameter comparison table.

Plain data, so the TUI only paints what is computed here and the CLI can print it: the
aligned rows, the hunks a reader wants (changes with a little context, the rest folded) and
the changed part of a changed line.
"""

from __future__ import annotations

import difflib
import re
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
class Fold:
    """A run of unchanged lines left out of the hunks: ``… N unchanged lines``."""

    count: int

    def __str__(self) -> str:
        return f"… {self.count} unchanged line{'s' if self.count != 1 else ''}"


Hunked = DiffRow | Fold


def hunks(rows: Sequence[DiffRow], context: int = 2) -> list[Hunked]:
    """Changed rows with ``context`` unchanged rows around each; other runs become one Fold.

    A run of a single unchanged line is shown rather than folded (the fold would take the
    same room). With no change at all, everything folds into one Fold (or nothing if empty).
    """
    near = [False] * len(rows)
    for index, row in enumerate(rows):
        if row.kind != "same":
            for other in range(max(0, index - context), min(len(rows), index + context + 1)):
                near[other] = True
    out: list[Hunked] = []
    hidden: list[DiffRow] = []

    def flush() -> None:
        if len(hidden) == 1:
            out.append(hidden[0])
        elif hidden:
            out.append(Fold(len(hidden)))
        hidden.clear()

    for row, shown in zip(rows, near, strict=True):
        if shown:
            flush()
            out.append(row)
        else:
            hidden.append(row)
    flush()
    return out


# Words (a number like 0.8, a name like qwq:latest and a digest stay whole), runs of blanks,
# and any other single character: the units a changed line is compared in.
_TOKEN = re.compile(r"\w+(?:[.:/-]\w+)*|\s+|.", re.DOTALL)

Span = tuple[int, int]


def changed_spans(left: str, right: str) -> tuple[list[Span], list[Span]]:
    """Where two versions of a line differ: character ranges on each side, word by word."""
    a, b = _TOKEN.findall(left), _TOKEN.findall(right)
    a_at, b_at = _offsets(a), _offsets(b)
    spans: tuple[list[Span], list[Span]] = ([], [])
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if i2 > i1:
            _extend(spans[0], (a_at[i1], a_at[i2]))
        if j2 > j1:
            _extend(spans[1], (b_at[j1], b_at[j2]))
    return spans


def _offsets(tokens: list[str]) -> list[int]:
    offsets = [0]
    for token in tokens:
        offsets.append(offsets[-1] + len(token))
    return offsets


def _extend(spans: list[Span], span: Span) -> None:
    """Adjacent ranges merge, so one edited value reads as one highlight."""
    if spans and spans[-1][1] == span[0]:
        spans[-1] = (spans[-1][0], span[1])
    else:
        spans.append(span)


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
