"""Ollama model names: parse, normalise, compare, and name backups.

Mirrors `types/model/name.go` so that the app agrees with the server on which
strings name the same model (Ollama looks names up case-insensitively and
fills in `registry.ollama.ai`, `library` and `latest`).
"""

from __future__ import annotations

import functools
import re
import string
from dataclasses import dataclass, replace
from datetime import datetime

DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"

BACKUP_MARK = ".bak-"
_MAX_TAG = 80
_BACKUP_TAG = re.compile(r"(.+)" + re.escape(BACKUP_MARK) + r"\d{8}-\d{6}")

_FIRST = frozenset(string.ascii_letters + string.digits + "_")
_ALLOWED = {
    "host": _FIRST | frozenset(".:-"),
    "namespace": _FIRST | frozenset("-"),
    "model": _FIRST | frozenset(".-"),
    "tag": _FIRST | frozenset(".-"),
}
_MAX_LEN = {"host": 350, "namespace": 80, "model": 80, "tag": _MAX_TAG}


class InvalidModelName(ValueError):
    """A string Ollama would reject as a model name; the message says which part is wrong."""

    def __init__(self, raw: str, reason: str) -> None:
        super().__init__(f"invalid model name {raw!r}: {reason}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ModelName:
    """A fully qualified name, each part in the case the user typed."""

    host: str
    namespace: str
    model: str
    tag: str

    def shortest(self) -> str:
        """Ollama's DisplayShortest: the form the server echoes (`qwq:latest`)."""
        if self.host.lower() != DEFAULT_HOST:
            prefix = f"{self.host}/{self.namespace}/"
        elif self.namespace.lower() != DEFAULT_NAMESPACE:
            prefix = f"{self.namespace}/"
        else:
            prefix = ""
        return f"{prefix}{self.model}:{self.tag}"

    def manifest_path(self) -> str:
        """Path of this name's manifest on its registry (the route Ollama's app HEADs)."""
        return f"v2/{self.namespace}/{self.model}/manifests/{self.tag}"

    def manifest_file(self) -> str:
        """Path of this name's manifest under Ollama's ``models/manifests`` folder."""
        return f"{self.host}/{self.namespace}/{self.model}/{self.tag}"


def _cut_last(raw: str, text: str, sep: str, kind: str) -> tuple[str, str] | None:
    """Split at the last `sep`; an empty side is an error, as in Ollama's cutPromised."""
    before, found, after = text.rpartition(sep)
    if not found:
        return None
    if not after:
        raise InvalidModelName(raw, f"empty {kind}")
    return before, after


def _check_part(raw: str, kind: str, part: str) -> None:
    if not part:
        raise InvalidModelName(raw, f"empty {kind}")
    if len(part) > _MAX_LEN[kind]:
        raise InvalidModelName(raw, f"{kind} is longer than {_MAX_LEN[kind]} characters")
    if part[0] not in _FIRST:
        raise InvalidModelName(raw, f"{kind} {part!r} must start with a letter, digit or '_'")
    bad = next((c for c in part if c not in _ALLOWED[kind]), None)
    if bad is not None:
        raise InvalidModelName(raw, f"{kind} {part!r} must not contain {bad!r}")


def _split(raw: str) -> dict[str, str]:
    """Cut `[scheme://][host/][namespace/]model[:tag]` from the right, like Ollama."""
    _, scheme, after_scheme = raw.partition("://")
    if scheme and after_scheme.count("/") < 2:
        raise InvalidModelName(raw, "a scheme must be followed by host/namespace/model")
    parts = {"host": DEFAULT_HOST, "namespace": DEFAULT_NAMESPACE, "tag": DEFAULT_TAG}
    rest = raw
    if rest.rfind(":") > rest.rfind("/"):
        rest, parts["tag"] = rest.rsplit(":", 1)
    cut = _cut_last(raw, rest, "/", "model")
    if cut is None:
        parts["model"] = rest
        return parts
    rest, parts["model"] = cut
    cut = _cut_last(raw, rest, "/", "namespace")
    if cut is None:
        parts["namespace"] = rest
        return parts
    rest, parts["namespace"] = cut
    scheme, found, host = rest.partition("://")
    parts["host"] = host if found else scheme
    return parts


@functools.lru_cache(maxsize=1 << 14)
def parse_model_name(raw: str) -> ModelName:
    """Parse and validate `raw` with Ollama's rules, filling in the defaults.

    Cached: every poll names every model (and every parent) again. A ModelName is
    immutable, so sharing one is safe."""
    parts = _split(raw)
    for kind in ("host", "namespace", "model", "tag"):
        _check_part(raw, kind, parts[kind])
    return ModelName(parts["host"], parts["namespace"], parts["model"], parts["tag"])


def normalize_name(raw: str) -> str:
    """The canonical display form, e.g. `qwq` -> `qwq:latest`."""
    return parse_model_name(raw).shortest()


def same_model(a: str, b: str) -> bool:
    """Whether Ollama would resolve `a` and `b` to one model; an invalid name matches nothing."""
    try:
        return normalize_name(a).lower() == normalize_name(b).lower()
    except InvalidModelName:
        return False


def backup_name(name: str, when: datetime) -> str:
    """`<model>:<tag>.bak-YYYYMMDD-HHMMSS`, so a backup sorts right after its original.

    Only siblings whose tag extends the original's with '-' (`7b-instruct`, as
    '-' < '.') or with a '.' part sorting before `bak` can land in between.
    The original tag is cut short when needed to keep the tag within Ollama's
    80 characters; only then do ordering and `backup_origin` lose exactness.
    """
    parsed = parse_model_name(name)
    stamp = (
        f"{when.year:04d}{when.month:02d}{when.day:02d}-"
        f"{when.hour:02d}{when.minute:02d}{when.second:02d}"
    )
    suffix = BACKUP_MARK + stamp
    return replace(parsed, tag=parsed.tag[: _MAX_TAG - len(suffix)] + suffix).shortest()


def backup_origin(name: str) -> str | None:
    """The name a `backup_name` result was made from, or None when `name` is no backup."""
    parsed = parse_model_name(name)
    match = _BACKUP_TAG.fullmatch(parsed.tag)
    if match is None:
        return None
    return replace(parsed, tag=match[1]).shortest()
