"""Checks: what a model must answer before a new version of it is kept.

A TOML file of ``[[check]]`` tables, several per model::

    [[check]]
    model = "qwq:latest_20K"
    name = "json answer"                # optional: how reports and history name it
    prompt = "Reply with a JSON object with a key answer."
    options = { temperature = 0, seed = 1 }
    contains = "answer"                 # a string or a list: each must be in the reply
    not_contains = "I cannot"           # a string or a list: none may be in the reply
    regex = '^\\s*\\{'                   # searched in the reply (Python syntax)
    json = true                         # the reply, stripped, parses as JSON
    max_seconds = 60                    # the whole generate, load included

A model the file does not name gets a smoke check: a short prompt answered with a non-empty
reply in time. The file is read and every check validated before any request: a file that
is not TOML, an unknown key, a value of the wrong type or a regex that does not compile is a
``ChecksError`` naming the file, the line and the key.
"""

from __future__ import annotations

import asyncio
import difflib
import hashlib
import json
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..config import APP_NAME
from ..core.modelfile import DEPRECATED_PARAMETERS, PARAMETER_TYPES
from ..core.names import InvalidModelName, normalize_name
from ..ollama.client import OllamaClient, OllamaError, Unreachable
from ..tomltables import Where, read_tables

# A check without max_seconds still ends: a generate that hangs must not hold up the night.
DEFAULT_LIMIT = 600.0
SMOKE_PROMPT = "Reply with one short sentence: are you ready?"
SMOKE_OPTIONS: Mapping[str, Any] = {"num_predict": 32, "temperature": 0, "seed": 1}
SMOKE_SECONDS = 120.0
# Tokens a check or a compare side may generate unless it says otherwise (options.num_predict):
# enough to judge a reply, never 400 s of a slow model answering "abc".
NUM_PREDICT = 256
REPLY_KEPT = 8000  # characters of a reply kept in the database and the report

_KEYS = ("model", "name", "prompt", "options", "contains", "not_contains", "regex", "json")
KNOWN_KEYS = (*_KEYS, "max_seconds")
# What Ollama's generate accepts in `options` besides what a Modelfile PARAMETER can say.
_RUNTIME_OPTIONS: Mapping[str, type] = {"numa": bool, "use_mlock": bool, "low_vram": bool}


class ChecksError(Exception):
    """The checks file cannot be used; the message names the file, line and key."""


@dataclass(frozen=True)
class Check:
    model: str
    prompt: str
    options: Mapping[str, Any] = field(default_factory=dict)
    contains: tuple[str, ...] = ()
    not_contains: tuple[str, ...] = ()
    regex: re.Pattern[str] | None = None
    json: bool = False
    max_seconds: float | None = None
    name: str = ""
    number: int = 0  # 1-based among this model's checks; 0 for the smoke check
    where: str = ""  # "checks.toml:12", for messages

    @property
    def smoke(self) -> bool:
        return self.number == 0

    @property
    def label(self) -> str:
        """How a line of output names the check: its name, else its number and prompt."""
        if self.name:
            return f'"{self.name}"'
        if self.smoke:
            return "smoke"
        prompt = " ".join(self.prompt.split())
        short = prompt if len(prompt) <= 32 else prompt[:31] + "…"
        return f'#{self.number} "{short}"'

    @property
    def key(self) -> str:
        """Stable while the check is unchanged: last results are looked up by it."""
        if self.smoke:
            return "smoke"
        material = json.dumps(
            [
                self.prompt,
                dict(self.options),
                self.contains,
                self.not_contains,
                self.regex.pattern if self.regex else None,
                self.json,
                self.max_seconds,
            ],
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(material.encode()).hexdigest()[:16]

    @property
    def limit(self) -> float:
        return self.max_seconds if self.max_seconds is not None else DEFAULT_LIMIT

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "name": self.name or None,
            "model": self.model,
            "prompt": self.prompt,
            "options": dict(self.options),
            "contains": list(self.contains),
            "not_contains": list(self.not_contains),
            "regex": self.regex.pattern if self.regex else None,
            "json": self.json,
            "max_seconds": self.max_seconds,
            "smoke": self.smoke,
        }


def smoke_check(model: str) -> Check:
    return Check(
        model=model,
        prompt=SMOKE_PROMPT,
        options=dict(SMOKE_OPTIONS),
        max_seconds=SMOKE_SECONDS,
    )


@dataclass(frozen=True)
class ChecksFile:
    """Every check of one file, by model; ``path`` is None when there is no file."""

    path: Path | None
    checks: tuple[Check, ...] = ()

    def named(self) -> list[str]:
        """The models the file names, in file order."""
        return list(dict.fromkeys(c.model for c in self.checks))

    def explicit(self, model: str) -> list[Check]:
        wanted = model.casefold()
        return [c for c in self.checks if c.model.casefold() == wanted]

    def for_model(self, model: str) -> list[Check]:
        """The file's checks for ``model``, or the smoke check when it names none."""
        mine = self.explicit(model)
        return [replace_model(c, model) for c in mine] if mine else [smoke_check(model)]

    def renamed(self, resolve: Any) -> ChecksFile:
        """The same checks with each model spelled as the server spells it."""
        return ChecksFile(self.path, tuple(replace_model(c, resolve(c.model)) for c in self.checks))


def replace_model(check: Check, model: str) -> Check:
    return replace(check, model=model)


def default_checks_path() -> Path:
    """``OLLAMA_LINEAGE_CHECKS``, else ``checks.toml`` in the user's config dir."""
    override = os.environ.get("OLLAMA_LINEAGE_CHECKS")
    if override:
        return Path(override)
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME, appauthor=False)) / "checks.toml"


def load_checks(path: Path | None, *, required: bool = True) -> ChecksFile:
    """Read and validate a checks file. ``required=False``: a missing file means no checks."""
    if path is None:
        path = default_checks_path()
        required = False
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if required:
            raise ChecksError(f"{path}: no such checks file") from None
        return ChecksFile(None)
    except OSError as exc:
        raise ChecksError(f"{path}: cannot read the checks file ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ChecksError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    return parse_checks(text, path)


def parse_checks(text: str, path: Path) -> ChecksFile:
    checks: list[Check] = []
    counts: dict[str, int] = {}
    for table, place in read_tables(text, path, "check", ChecksError):
        check = _check(table, place)
        number = counts[check.model.casefold()] = counts.get(check.model.casefold(), 0) + 1
        checks.append(replace(check, number=number, where=place()))
    return ChecksFile(path, tuple(checks))


def _check(table: Mapping[str, Any], where: Where) -> Check:
    for key in table:
        if key not in KNOWN_KEYS:
            near = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise ChecksError(
                f"{where(key)}: unknown key {key!r}{hint} (known: {', '.join(KNOWN_KEYS)})"
            )

    def need(key: str, kind: type | tuple[type, ...], what: str) -> Any:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise ChecksError(f"{where(key)}: {key} must be {what}, not {_kind(value)} ({value!r})")
        return value

    model = need("model", str, "a model name")
    if not model:
        raise ChecksError(f"{where()}: no model; say which model the check is for (model = ...)")
    try:
        model = normalize_name(model)
    except InvalidModelName as exc:
        raise ChecksError(f"{where('model')}: {exc}") from None
    prompt = need("prompt", str, "a string")
    if not prompt or not prompt.strip():
        raise ChecksError(f'{where("prompt")}: no prompt; a check needs prompt = "..."')
    name = need("name", str, "a string") or ""
    options = need("options", dict, "a table, e.g. { temperature = 0, seed = 1 }") or {}
    for option, value in options.items():
        _check_option(option, value, where)
    pattern = need("regex", str, "a string")
    regex = None
    if pattern is not None:
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise ChecksError(
                f"{where('regex')}: regex {pattern!r} does not compile: {exc}"
            ) from None
    seconds = need("max_seconds", (int, float), "a number of seconds")
    if seconds is not None and seconds <= 0:
        raise ChecksError(f"{where('max_seconds')}: max_seconds must be more than 0, not {seconds}")
    return Check(
        model=model,
        prompt=prompt,
        options=dict(options),
        contains=_strings(table, "contains", where),
        not_contains=_strings(table, "not_contains", where),
        regex=regex,
        json=bool(need("json", bool, "true or false")),
        max_seconds=float(seconds) if seconds is not None else None,
        name=name,
    )


def _strings(table: Mapping[str, Any], key: str, where: Where) -> tuple[str, ...]:
    value = table.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ChecksError(
            f"{where(key)}: {key} must be a non-empty string or a list of them, not {value!r}"
        )
    return tuple(value)


def _check_option(option: str, value: Any, where: Where) -> None:
    kind = PARAMETER_TYPES.get(option) or _RUNTIME_OPTIONS.get(option)
    if kind is None and option in DEPRECATED_PARAMETERS:
        kind = type(value)
    if kind is None:
        known = sorted({*PARAMETER_TYPES, *_RUNTIME_OPTIONS})
        near = difflib.get_close_matches(option, known, n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise ChecksError(f"{where('options')}: unknown option {option!r}{hint}")
    if kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is list:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    else:
        ok = isinstance(value, kind)
    if not ok:
        what = {int: "an integer", float: "a number", bool: "true or false"}.get(
            kind, "a list of strings"
        )
        raise ChecksError(
            f"{where('options')}: option {option} must be {what}, not {_kind(value)} ({value!r})"
        )


def _kind(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)


# --- running a check ----------------------------------------------------------------------


@dataclass
class CheckResult:
    """One check run on one model: whether it held, why not, and what the model said."""

    check: Check
    model: str
    digest: str | None = None
    passed: bool = False
    failures: list[str] = field(default_factory=list)
    reply: str = ""
    seconds: float = 0.0
    load_seconds: float = 0.0
    tokens_per_second: float = 0.0
    finished: bool = False  # Ollama sent its final line (timings are known)
    cut: bool = False  # it stopped at the token cap, not at its own end
    skipped: str | None = None  # why it was not run (a model that cannot generate)

    @property
    def why(self) -> str:
        return "; ".join(self.failures)

    def as_json(self) -> dict[str, Any]:
        return {
            "check": self.check.label,
            "key": self.check.key,
            "model": self.model,
            "digest": self.digest,
            "passed": self.passed,
            "failures": list(self.failures),
            "reply": self.reply[:REPLY_KEPT],
            "seconds": round(self.seconds, 3),
            "load_seconds": round(self.load_seconds, 3),
            "tokens_per_second": round(self.tokens_per_second, 2),
            "skipped": self.skipped,
            "cut": self.cut,
        }


async def run_check(
    client: OllamaClient,
    model: str,
    check: Check,
    *,
    keep_alive: float | None = None,
    digest: str | None = None,
) -> CheckResult:
    """Send the check's prompt to ``model`` and judge the reply.

    A server that cannot be reached raises ``Unreachable`` (nothing can be judged); any
    other error from Ollama is a failed check, with the error as the reason.
    """
    result = CheckResult(check, model, digest)
    started = time.monotonic()
    parts: list[str] = []

    options = {"num_predict": NUM_PREDICT, **check.options}

    async def consume() -> None:
        async for chunk in client.generate(model, check.prompt, options, keep_alive):
            parts.append(chunk.response)
            if chunk.done:
                result.finished = True
                result.cut = chunk.done_reason == "length"
                result.load_seconds = chunk.load_duration / 1e9
                result.tokens_per_second = chunk.tokens_per_second

    try:
        await asyncio.wait_for(consume(), check.limit)
    except asyncio.TimeoutError:
        result.failures.append(f"no complete reply within {check.limit:g} s")
    except Unreachable:
        raise
    except OllamaError as exc:
        result.failures.append(f"generate failed: {exc}")
    result.seconds = time.monotonic() - started
    result.reply = "".join(parts)
    if not result.failures:
        result.failures.extend(judge(check, result.reply, result.seconds))
    result.passed = not result.failures
    return result


def judge(check: Check, reply: str, seconds: float) -> list[str]:
    """Every condition of ``check`` the reply breaks, in the order the file lists them."""
    failures = []
    if check.smoke and not reply.strip():
        failures.append("empty reply")
    failures += [f"reply does not contain {s!r}" for s in check.contains if s not in reply]
    failures += [f"reply contains {s!r}" for s in check.not_contains if s in reply]
    if check.regex is not None and not check.regex.search(reply):
        failures.append(f"reply does not match regex {check.regex.pattern!r}")
    if check.json:
        try:
            json.loads(reply.strip())
        except ValueError as exc:
            failures.append(f"reply is not JSON ({exc})")
    if check.max_seconds is not None and seconds > check.max_seconds:
        failures.append(f"took {seconds:.1f} s, more than {check.max_seconds:g} s")
    return failures
