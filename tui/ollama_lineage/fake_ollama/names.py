"""Ollama model names (types/model/name.go), private to the stand-in server.

The app's own names module is written separately; the server keeps its own copy so it
reproduces Ollama's rules without depending on the code it is meant to test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"

_PART = {
    "host": (re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]*"), 350),
    "namespace": (re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*"), 80),
    "model": (re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*"), 80),
    "tag": (re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*"), 80),
}


@dataclass(frozen=True)
class Name:
    host: str
    namespace: str
    model: str
    tag: str

    @property
    def key(self) -> str:
        """Case-insensitive identity, the way Ollama looks manifests up."""
        return f"{self.host}/{self.namespace}/{self.model}:{self.tag}".lower()

    @property
    def display(self) -> str:
        """DisplayShortest: drop default host/namespace, always keep the tag."""
        if self.host.lower() != DEFAULT_HOST:
            prefix = f"{self.host}/{self.namespace}/"
        elif self.namespace.lower() != DEFAULT_NAMESPACE:
            prefix = f"{self.namespace}/"
        else:
            prefix = ""
        return f"{prefix}{self.model}:{self.tag}"


def _valid(kind: str, part: str) -> bool:
    pattern, max_len = _PART[kind]
    return len(part) <= max_len and pattern.fullmatch(part) is not None


def parse_name(raw: str) -> Name | None:
    """Parse `[scheme://][host/][namespace/]model[:tag]`; None when invalid."""
    s = raw.split("://", 1)[1] if "://" in raw else raw
    tag = DEFAULT_TAG
    if s.rfind(":") > s.rfind("/"):
        s, tag = s.rsplit(":", 1)
    parts = s.split("/")
    if len(parts) > 3:
        return None
    model = parts[-1]
    namespace = parts[-2] if len(parts) >= 2 else DEFAULT_NAMESPACE
    host = parts[-3] if len(parts) == 3 else DEFAULT_HOST
    name = Name(host, namespace, model, tag)
    checks = (("host", host), ("namespace", namespace), ("model", model), ("tag", tag))
    return name if all(_valid(kind, part) for kind, part in checks) else None
