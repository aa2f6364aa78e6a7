"""Go formatting rules that leak into Ollama's wire format.

Clients parse these bytes, so the stand-in prints numbers, strings, JSON and times the way
Go's fmt, encoding/json and time packages do, not the way Python would.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from decimal import Decimal
from typing import Any

_HTML_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_QUOTE_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}


def _go_numbers(value: Any) -> Any:
    """Integral floats encode without '.0' in Go (float64 from JSON decoding)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, dict):
        return {k: _go_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_go_numbers(v) for v in value]
    return value


def go_json(value: Any, *, sort_keys: bool = False) -> str:
    """json.Marshal: compact, HTML-escaped, UTF-8 kept (no trailing newline)."""
    text = json.dumps(
        _go_numbers(value), separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys
    )
    for char, escaped in _HTML_ESCAPES.items():
        text = text.replace(char, escaped)
    return text


def go_encode(value: Any) -> bytes:
    """json.Encoder.Encode of a map: sorted keys plus the trailing newline."""
    return (go_json(value, sort_keys=True) + "\n").encode()


def go_g(value: float) -> str:
    """strconv.FormatFloat(v, 'g', -1, 64): shortest digits, exponent from 1e+06."""
    if value == 0:
        return "0"
    sign, digits, exp = Decimal(repr(float(value))).normalize().as_tuple()
    assert isinstance(exp, int)
    text = "".join(map(str, digits))
    point = len(text) + exp  # position of the decimal point within text
    x = point - 1
    prefix = "-" if sign else ""
    if x < -4 or x >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{text}"
    if point >= len(text):
        return prefix + text + "0" * (point - len(text))
    return f"{prefix}{text[:point]}.{text[point:]}"


def go_quote(text: str) -> str:
    """strconv.Quote: double quotes, C-style escapes, printable Unicode kept."""
    out = []
    for char in text:
        if char in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[char])
        elif char.isprintable() or char == " ":
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


def go_value(value: Any, *, sharp: bool) -> str:
    """fmt %v (sharp=False) or %#v (sharp=True) of a value decoded from JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return go_g(float(value))
    if isinstance(value, str):
        return go_quote(value) if sharp else value
    return go_json(value)


def rfc3339(ns: int | None = None) -> str:
    """time.Time JSON (RFC3339Nano) in local time: trimmed nanoseconds, 'Z' for UTC."""
    ns = time.time_ns() if ns is None else ns
    seconds, frac = divmod(ns, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds).astimezone()
    fraction = f"{frac:09d}".rstrip("0")
    offset = moment.strftime("%z")
    zone = "Z" if offset in ("+0000", "-0000") else f"{offset[:3]}:{offset[3:]}"
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + zone
