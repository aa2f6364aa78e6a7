"""Files written as ``[[table]]`` entries (checks.toml, hosts.toml), read so that every message
names the file, the line and the key a user has to fix."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


@dataclass(frozen=True)
class Where:
    """Names the place of one entry, or of one of its keys: ``hosts.toml:4: host 2``."""

    path: Path
    table: str
    index: int
    lines: Sequence[str]
    begin: int | None
    end: int

    def __call__(self, key: str | None = None) -> str:
        if self.begin is None:
            return f"{self.path}: {self.table} {self.index}"
        line = _line_of(self.lines, self.begin, self.end, key) if key else self.begin + 1
        return f"{self.path}:{line}: {self.table} {self.index}"


def read_tables(
    text: str, path: Path, table: str, error: type[Exception]
) -> list[tuple[dict[str, Any], Where]]:
    """Every ``[[table]]`` entry with its place; ``error`` for what is not such a file."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        if match := _AT.search(message):
            where = f"{path}:{match[1]}:{match[2]}"
            message = message[: match.start()]
        else:
            where = str(path)
        raise error(f"{where}: not valid TOML: {message}") from None
    lines = text.splitlines()
    header = re.compile(rf"^\s*\[\[\s*\"?{re.escape(table)}\"?\s*\]\]")
    starts = [i for i, line in enumerate(lines) if header.match(line)]
    for key in data:
        if key != table:
            raise error(
                f"{path}:{_line_of(lines, 0, len(lines), key)}: unknown top-level key {key!r};"
                f" write each {table} as a [[{table}]] table"
            )
    tables = data.get(table, [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise error(f"{path}: '{table}' must be [[{table}]] tables")
    if len(starts) != len(tables):
        starts = []  # written some other way (an inline array): no line numbers then
    found = []
    for index, entry in enumerate(tables):
        begin = starts[index] if starts else None
        end = starts[index + 1] if starts and index + 1 < len(starts) else len(lines)
        found.append((entry, Where(path, table, index + 1, lines, begin, end)))
    return found


def _line_of(lines: Sequence[str], begin: int, end: int, key: str | None) -> int:
    """The 1-based line where ``key =`` is written within a table; its header otherwise."""
    if key:
        pattern = re.compile(rf"^\s*(?:{re.escape(key)}|\"{re.escape(key)}\")\s*=")
        for number in range(begin, end):
            if pattern.match(lines[number]):
                return number + 1
    return begin + 1
