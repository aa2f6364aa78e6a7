"""Is a TEMPLATE a Go template Ollama will take? Checked before a recipe is stored or sent.

Ollama parses TEMPLATE with Go's text/template (``setTemplate`` in server/create.go) and
refuses the create with "template error: …" when it does not parse, after the app has already
replaced the stored recipe and taken a backup. The mistakes people make are structural: an
unclosed ``{{``, or if/range/with/block/define blocks that do not match their ``end``. This
reads actions the way Go's lexer does (quoted strings, raw strings, comments, trim markers)
and checks that structure; what an action says inside is left to Ollama.
"""

from __future__ import annotations

import re

_OPENS = frozenset({"if", "range", "with", "block", "define"})
_ELSE_IN = frozenset({"if", "range", "with"})
_LEFT_TRIMS = frozenset({"- ", "-\t", "-\n", "-\r"})  # `{{-3}}` is minus three, not a trim
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class TemplateError(ValueError):
    """Go's words for it, and the template's own line (1-based)."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(f"template line {line}: {message}")
        self.line = line


def check_template(text: str) -> None:
    """Raise TemplateError where Go's text/template would fail on structure, or return."""
    stack: list[tuple[str, int]] = []
    at = 0
    while (start := text.find("{{", at)) >= 0:
        line = text.count("\n", 0, start) + 1
        body_start = start + 2
        if text[body_start : body_start + 2] in _LEFT_TRIMS:
            body_start += 1
        body, at = _action(text, body_start, line)
        keyword = _keyword(body)
        if keyword is None:
            if not body.strip():
                raise TemplateError("missing value for command", line)
            continue
        if keyword in _OPENS:
            stack.append((keyword, line))
        elif keyword == "end":
            if not stack:
                raise TemplateError("unexpected {{end}}", line)
            stack.pop()
        elif keyword == "else" and (not stack or stack[-1][0] not in _ELSE_IN):
            raise TemplateError("unexpected {{else}}", line)
    if stack:
        keyword, opened = stack[-1]
        ending = text.count("\n") + 1
        raise TemplateError(
            f"unexpected EOF: the {{{{{keyword}}}}} of line {opened} has no end", ending
        )


def _action(text: str, at: int, line: int) -> tuple[str, int]:
    """The body of the action starting at ``at`` and the index after its ``}}``."""
    stripped = text[at:].lstrip(" \t\r\n")
    if stripped.startswith("/*"):
        close = text.find("*/", at + (len(text) - at - len(stripped)) + 2)
        if close < 0:
            raise TemplateError("unclosed comment", line)
        end = text.find("}}", close + 2)
        if end < 0 or text[close + 2 : end].strip(" -\t\r\n"):
            raise TemplateError("comment ends before closing delimiter", line)
        return "/* */", end + 2
    index = at
    while index < len(text):
        char = text[index]
        if text.startswith("}}", index):
            body = text[at:index]
            if body.endswith((" -", "\t-", "\n-", "\r-")):
                body = body[:-1]
            return body, index + 2
        if char in "\"'":
            index = _quoted(text, index, char, line)
        elif char == "`":
            close = text.find("`", index + 1)
            if close < 0:
                raise TemplateError("unterminated raw quoted string", line)
            index = close + 1
        else:
            index += 1
    raise TemplateError("unclosed action", line)


def _quoted(text: str, index: int, quote: str, line: int) -> int:
    """The index after a "…" or '…' literal that starts at ``index``."""
    index += 1
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "\n":
            break
        if char == quote:
            return index + 1
        index += 1
    what = "quoted string" if quote == '"' else "character constant"
    raise TemplateError(f"unterminated {what}", line)


def _keyword(body: str) -> str | None:
    """The control word an action starts with (``if``, ``end``, …), or None for a plain one."""
    body = body.strip(" \t\r\n")
    if body == "/* */":
        return None
    match = _WORD.match(body)
    if match is None:
        return None
    word = match[0]
    return word if word in _OPENS or word in ("end", "else") else None
