"""Modelfiles as recipes: parse Ollama's grammar, render it back, build create requests.

The grammar follows Ollama's `parser/parser.go` (case-insensitive commands,
comments only at line start, one layer of `"`/`\"\"\"` quotes, no escapes), but a
recipe is stricter than `ollama create`: FROM must be a model *name* (the app
rebuilds from names, never from client-side files) and errors carry line numbers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple, TypeAlias

from .gotemplate import TemplateError, check_template
from .names import InvalidModelName, normalize_name

ParamValue: TypeAlias = int | float | bool | str | list[str]

_INT_PARAMS = (
    "num_ctx",
    "num_batch",
    "num_gpu",
    "main_gpu",
    "num_thread",
    "num_keep",
    "seed",
    "num_predict",
    "top_k",
    "repeat_last_n",
    "draft_num_predict",
)
_FLOAT_PARAMS = (
    "temperature",
    "top_p",
    "min_p",
    "typical_p",
    "repeat_penalty",
    "presence_penalty",
    "frequency_penalty",
)
PARAMETER_TYPES: dict[str, type] = {
    **dict.fromkeys(_INT_PARAMS, int),
    **dict.fromkeys(_FLOAT_PARAMS, float),
    "use_mmap": bool,
    "stop": list,
}
# Old servers still report these in /api/show; Ollama's CLI warns and drops them.
DEPRECATED_PARAMETERS: frozenset[str] = frozenset(
    {
        "penalize_newline",
        "low_vram",
        "f16_kv",
        "logits_all",
        "vocab_only",
        "use_mlock",
        "mirostat",
        "mirostat_tau",
        "mirostat_eta",
        "numa",
    }
)

_COMMANDS = (
    "from",
    "license",
    "template",
    "system",
    "adapter",
    "draft",
    "renderer",
    "parser",
    "parameter",
    "message",
    "requires",
)
_UNSUPPORTED = frozenset({"draft"})
_INVALID_COMMAND = (
    "command must be one of "
    + ", ".join(f'"{c}"' for c in _COMMANDS[:-1])
    + f', or "{_COMMANDS[-1]}"'
)
_INVALID_ROLE = 'message role must be one of "system", "user", or "assistant"'
_ROLES = frozenset({"system", "user", "assistant"})

# Go's unicode.IsSpace, which strings.TrimSpace uses on every value.
_GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)
_COMMAND_LINE = re.compile(r"([A-Za-z]+)(?:[ \t](.*))?", re.DOTALL)
_HEAD_AND_REST = re.compile(r"[ \t]*([^ \t]+)[ \t](.*)")
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_PARAM_NAME = re.compile(r"[A-Za-z0-9_]+")
_INT_TEXT = re.compile(r"([+-]?)0*([0-9]{1,19})")  # bounded: int() refuses 4300+ digits
_FLOAT_TEXT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_BOOL_TEXT = {
    **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
    **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False),
}
_FLOAT32_MAX = 3.4028234663852886e38
_DIGEST = re.compile(r"(?:.*[/\\])?sha256[:-]([0-9a-f]{64})")
_SEMVER = re.compile(r"v?[0-9]+(\.[0-9]+){0,2}(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?")
_QUANTIZE = re.compile(r"^[ \t]*#[ \t]*quantize[ \t]+([A-Za-z0-9_]+)", re.MULTILINE)
# A file's name ends in its format; a model's tag may too (`qwq:q4.gguf`), after its colon.
_PATH_LIKE = re.compile(
    r"[./~\\]|[A-Za-z]:[\\/]|.*\\|.*/blobs/|[^:]*\.(gguf|safetensors|bin)$", re.I
)


class ModelfileError(ValueError):
    """A Modelfile problem, with the 1-based line it was found on when there is one."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line is not None else message)
        self.line = line
        self.message = message


@dataclass(frozen=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True)
class Recipe:
    """A derivative's Modelfile reduced to FROM <base name> + only its overrides."""

    base: str
    parameters: dict[str, ParamValue] = field(default_factory=dict)
    template: str | None = None
    system: str | None = None
    adapters: tuple[str, ...] = ()
    license: tuple[str, ...] = ()
    messages: tuple[Message, ...] = ()
    renderer: str | None = None
    parser: str | None = None
    requires: str | None = None
    # `ollama create -q`: not a Modelfile command, so the recipe keeps it as a comment line.
    quantize: str | None = None

    def to_modelfile(self) -> str:
        """Canonical text in Ollama's command order, so diffs against the server's stay small."""
        return "".join(line + "\n" for line in self._lines())

    def _lines(self) -> Iterator[str]:
        if self.quantize:
            yield f"# quantize {self.quantize}  (ollama create -q {self.quantize})"
        yield f"FROM {self.base}"
        yield from (f"ADAPTER {_quote(a)}" for a in self.adapters)
        if self.template is not None:
            yield f"TEMPLATE {_quote(self.template)}"
        if self.system is not None:
            yield f"SYSTEM {_quote(self.system)}"
        if self.renderer is not None:
            yield f"RENDERER {_quote(self.renderer)}"
        if self.parser is not None:
            yield f"PARSER {_quote(self.parser)}"
        for name in sorted(self.parameters):
            value = self.parameters[name]
            for item in value if isinstance(value, list) else [value]:
                yield f"PARAMETER {name} {_quote(format_scalar(item))}"
        yield from (f"LICENSE {_quote(text)}" for text in self.license)
        yield from (f"MESSAGE {m.role} {_quote(m.content)}" for m in self.messages)
        if self.requires is not None:
            yield f"REQUIRES {_quote(self.requires)}"

    def create_request(self, name: str) -> dict[str, Any]:
        """The JSON body of `POST /api/create` that builds `name` from this recipe."""
        body: dict[str, Any] = {"model": name, "from": self.base}
        if self.parameters:
            body["parameters"] = {
                k: list(v) if isinstance(v, list) else v for k, v in self.parameters.items()
            }
        if self.template is not None:
            body["template"] = self.template
        if self.system is not None:
            body["system"] = self.system
        if self.license:
            body["license"] = list(self.license)
        if self.messages:
            body["messages"] = [{"role": m.role, "content": m.content} for m in self.messages]
        if self.adapters:
            # Ollama wants {file name: digest}; a .gguf name spares it sniffing the blob.
            body["adapters"] = {f"{d.replace(':', '-')}.gguf": d for d in self.adapters}
        for key in ("renderer", "parser", "requires", "quantize"):
            if (value := getattr(self, key)) is not None:
                body[key] = value
        return body


def format_scalar(value: int | float | bool | str) -> str:
    """Text that parses back to `value`: `20000` not `20000.0`, `true` not `True`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return str(value)


def _needs_quotes(value: str) -> bool:
    """Ollama's quote() rule, widened to the cases its own output would not read back.

    Ollama only looks for `\\n` and a leading/trailing ' '; a value starting with
    `"` or edged with another space character (a tab) would lose characters.
    """
    return "\n" in value or value.startswith('"') or value.strip(_GO_SPACE) != value


def _quote(value: str) -> str:
    if not _needs_quotes(value):
        return value
    return f'"""{value}"""' if '"' in value else f'"{value}"'


def _unquote(value: str) -> str | None:
    """Strip one layer of quotes; None while a quoted value is still open."""
    if value.startswith('"""'):
        return value[3:-3] if len(value) >= 6 and value.endswith('"""') else None
    if value.startswith('"'):
        return value[1:-1] if len(value) >= 2 and value.endswith('"') else None
    return value


def _parse_int(raw: str) -> int | None:
    match = _INT_TEXT.fullmatch(raw)
    if match is None:
        return None
    value = int(match[1] + match[2])
    return value if -(2**63) <= value < 2**63 else None


def _parse_float(raw: str) -> float | None:
    if _FLOAT_TEXT.fullmatch(raw) is None or abs(float(raw)) > _FLOAT32_MAX:
        return None
    return float(raw)


def coerce_parameter(name: str, raw: str, *, line: int | None = None) -> ParamValue:
    """Type one PARAMETER value like Ollama's api.FormatParams (`stop` stays one string)."""
    if name in DEPRECATED_PARAMETERS:
        raise ModelfileError(
            f"parameter '{name}' is deprecated and Ollama drops it; remove the line", line
        )
    kind = PARAMETER_TYPES.get(name)
    if kind is None:
        raise ModelfileError(f"unknown parameter '{name}'", line)
    if kind is list:
        return raw
    parsed: ParamValue | None
    if kind is int:
        parsed = _parse_int(raw)
    elif kind is float:
        parsed = _parse_float(raw)
    else:
        parsed = _BOOL_TEXT.get(raw)
    if parsed is None:
        # Name the parameter and the value; Ollama's own words follow in brackets.
        pattern = _DIGITS if kind is int else _FLOAT_TEXT if kind is float else None
        why = _NOT_A[kind]
        if pattern is not None and pattern.fullmatch(raw):
            why = "is out of range"
        raise ModelfileError(
            f'PARAMETER {name}: "{raw}" {why} (invalid {kind.__name__} value)', line
        )
    return parsed


_DIGITS = re.compile(r"[+-]?[0-9]+")
_NOT_A: dict[type, str] = {
    int: "is not an integer",
    float: "is not a number",
    bool: "is not true or false",
}


# --- parsing -----------------------------------------------------------------------------


class _Command(NamedTuple):
    line: int
    name: str  # lowercase command
    head: str  # parameter name or message role; "" for other commands
    value: str  # trimmed, one layer of quotes stripped


@dataclass
class _Draft:
    """Mutable accumulator for the commands seen so far."""

    base: str | None = None
    parameters: dict[str, ParamValue] = field(default_factory=dict)
    template: str | None = None
    system: str | None = None
    adapters: list[str] = field(default_factory=list)
    license: list[str] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    singles: dict[str, str] = field(default_factory=dict)  # renderer, parser, requires


def _check_text(text: str, max_bytes: int) -> str:
    """Refuse oversized or binary input, then normalise BOM and line endings."""
    if len(text) > max_bytes or len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise ModelfileError(f"Modelfile is larger than {max_bytes} bytes")
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    bad = _FORBIDDEN.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        raise ModelfileError(f"control character U+{ord(bad[0]):04X} is not allowed", line)
    return text


def _split_head(command: str, rest: str, number: int) -> tuple[str, str]:
    """Cut the parameter name or message role off the first line of a value."""
    match = _HEAD_AND_REST.fullmatch(rest)
    if match is None:
        raise ModelfileError(f"{command.upper()} needs a name and a value", number)
    return match[1], match[2]


def commands(text: str) -> Iterator[_Command]:
    """Tokenise like Ollama: a quoted value runs on over newlines until its quote closes."""
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        number, line = index + 1, lines[index].lstrip(" \t")
        index += 1
        if not line or line.startswith("#"):
            continue
        match = _COMMAND_LINE.fullmatch(line)
        if match is None or match[1].lower() not in _COMMANDS:
            raise ModelfileError(_INVALID_COMMAND, number)
        name, rest = match[1].lower(), match[2]
        if rest is None:
            raise ModelfileError(f"{name.upper()} needs a value", number)
        head = ""
        if name in ("parameter", "message"):
            head, rest = _split_head(name, rest, number)
        value = _unquote(rest.strip(_GO_SPACE))
        pending = [rest]
        while value is None:
            if index >= len(lines):
                raise ModelfileError("unexpected EOF", number)
            pending.append(lines[index])
            index += 1
            # Only a line ending in a quote can close the value: joining and unquoting at every
            # line would make a long license cost more than the rest of a show's parse.
            if pending[-1].rstrip(_GO_SPACE).endswith('"'):
                value = _unquote("\n".join(pending).strip(_GO_SPACE))
        yield _Command(number, name, head, value)


def _add_parameter(draft: _Draft, command: _Command) -> None:
    name = command.head
    if _PARAM_NAME.fullmatch(name) is None:
        raise ModelfileError(f"invalid parameter name '{name}'", command.line)
    value = coerce_parameter(name, command.value, line=command.line)
    if PARAMETER_TYPES[name] is list:
        existing = draft.parameters.setdefault(name, [])
        assert isinstance(existing, list)
        existing.append(str(value))
    else:
        draft.parameters[name] = value


def _from_name(value: str, number: int) -> str:
    if _PATH_LIKE.match(value):
        raise ModelfileError(f"FROM must name a model, not a file path: {value}", number)
    try:
        return normalize_name(value)
    except InvalidModelName as error:
        raise ModelfileError(f"FROM must name a model: {error}", number) from error


def _adapter_digest(value: str, number: int) -> str:
    """ADAPTER must point at a blob the server already has: `sha256:<hex>` or its blob path."""
    match = _DIGEST.fullmatch(value)
    if match is None:
        raise ModelfileError(
            f"ADAPTER must name a blob on the server (sha256:<hex>), not {value!r}", number
        )
    return f"sha256:{match[1]}"


def _apply(draft: _Draft, command: _Command) -> None:
    name, value, number = command.name, command.value, command.line
    if name in _UNSUPPORTED:
        raise ModelfileError(f"{name.upper()} is not supported in a recipe", number)
    if name == "parameter":
        _add_parameter(draft, command)
    elif name == "message":
        if command.head not in _ROLES:
            raise ModelfileError(_INVALID_ROLE, number)
        draft.messages.append(Message(command.head, value))
    elif name == "from":
        if draft.base is not None:
            raise ModelfileError("a recipe has exactly one FROM line", number)
        draft.base = _from_name(value, number)
    elif name == "adapter":
        draft.adapters.append(_adapter_digest(value, number))
    elif name == "license":
        draft.license.append(value)
    elif name == "template":
        try:
            check_template(value)
        except TemplateError as exc:
            raise ModelfileError(
                f"TEMPLATE is not a Go template Ollama would take: {exc}", number + exc.line - 1
            ) from None
        draft.template = value  # the last one wins, as in Ollama
    elif name == "system":
        draft.system = value
    else:
        if name == "requires" and _SEMVER.fullmatch(value) is None:
            raise ModelfileError("REQUIRES must be a valid semver (e.g. 0.14.0)", number)
        draft.singles[name] = value.removeprefix("v") if name == "requires" else value


def parse_modelfile(text: str, *, max_bytes: int = 1_000_000) -> Recipe:
    """Read a recipe Modelfile; raises ModelfileError naming the line at fault."""
    draft = _Draft()
    text = _check_text(text, max_bytes)
    for command in commands(text):
        _apply(draft, command)
    if draft.base is None:
        raise ModelfileError("no FROM line")
    quantize = _QUANTIZE.search(text)
    return Recipe(
        base=draft.base,
        parameters=draft.parameters,
        template=draft.template,
        system=draft.system,
        adapters=tuple(draft.adapters),
        license=tuple(draft.license),
        messages=tuple(draft.messages),
        renderer=draft.singles.get("renderer"),
        parser=draft.singles.get("parser"),
        requires=draft.singles.get("requires"),
        quantize=quantize[1] if quantize else None,
    )


# --- /api/show "parameters" ------------------------------------------------------------

_GO_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)", re.S)
_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    '"': '"',
    "'": "'",
}


def _go_unquote(text: str) -> str:
    """Decode a Go `%#v` string literal; `\\x`/octal escapes are raw bytes, as in Go."""
    out = bytearray()
    position = 0
    for match in _GO_ESCAPE.finditer(text):
        out += text[position : match.start()].encode("utf-8", "surrogatepass")
        out += _escape_bytes(match[1])
        position = match.end()
    out += text[position:].encode("utf-8", "surrogatepass")
    return out.decode("utf-8", "replace")


def _escape_bytes(escape: str) -> bytes:
    if escape[0] == "x":
        return bytes([int(escape[1:], 16)])
    if escape[0] in "uU" and len(escape) > 1:
        return chr(int(escape[1:], 16)).encode("utf-8", "surrogatepass")
    if escape[0].isdigit() and len(escape) == 3:
        return bytes([int(escape, 8) & 0xFF])
    return _SIMPLE_ESCAPES.get(escape, "\\" + escape).encode("utf-8")


def _show_value(name: str, text: str) -> int | float | bool | str:
    """Best-effort typing of one `%#v` value; never raises (it is the server's output)."""
    if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
        return _go_unquote(text[1:-1])
    if text in ("true", "false"):
        return text == "true"
    try:
        number = Decimal(text)
    except InvalidOperation:
        return text
    if not number.is_finite():
        return text
    integral = number == number.to_integral_value() and abs(number) < 2**63
    if integral and PARAMETER_TYPES.get(name) is not float:
        return int(number)  # Go prints 1000000 as 1e+06
    return float(number)


def parse_show_parameters(text: str) -> dict[str, ParamValue]:
    """Parse `/api/show`'s `parameters` string (`%-30s %#v` lines, one per list item)."""
    result: dict[str, ParamValue] = {}
    for line in text.splitlines():
        name, _, rest = line.strip().partition(" ")
        if not name:
            continue
        value = _show_value(name, rest.strip())
        previous = result.get(name)
        if PARAMETER_TYPES.get(name) is list or previous is not None:
            items = previous if isinstance(previous, list) else _as_items(previous)
            result[name] = [*items, format_scalar(value)]
        else:
            result[name] = value
    return result


def _as_items(value: ParamValue | None) -> list[str]:
    if value is None:
        return []
    return [format_scalar(value)] if not isinstance(value, list) else value
