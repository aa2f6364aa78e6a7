"""Enough of Go's text/template parser to reject a TEMPLATE with Ollama's own words.

setTemplate (server/create.go) answers `template error: <text/template's error>`; the
common mistakes are an unclosed action and unbalanced if/range/with ... end blocks.
"""

from __future__ import annotations

import re

from .errors import ApiError

_OPENS = re.compile(r"(if|range|with|block|define)\b")
_END = re.compile(r"end\b")
_ELSE = re.compile(r"else\b")


def check_template(text: str) -> None:
    """Raise ApiError(400, ...) the way template.Parse fails, or return."""

    def fail(line: int, message: str) -> None:
        raise ApiError(400, f"template error: template: :{line}: {message}")

    depth = 0
    at = 0
    while (start := text.find("{{", at)) >= 0:
        line = text.count("\n", 0, start) + 1
        end = text.find("}}", start + 2)
        if end < 0:
            fail(line, "unclosed action")
        action = text[start + 2 : end].strip("- \t\r\n")
        at = end + 2
        if action.startswith("/*"):
            continue
        if _OPENS.match(action):
            depth += 1
        elif _END.match(action):
            if depth == 0:
                fail(line, "unexpected {{end}}")
            depth -= 1
        elif _ELSE.match(action) and depth == 0:
            fail(line, "unexpected {{else}}")
    if depth:
        fail(text.count("\n") + 1, "unexpected EOF")
