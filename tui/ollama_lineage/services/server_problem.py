"""What is wrong with the server, in words a user can act on: for the status line and banner.

A host that is down must not read as an empty, healthy server, and a port that is not Ollama
must not put its error page on screen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..ollama.client import ApiError, OllamaError, ProtocolError, Unreachable

_ERRNO = re.compile(r"^\[Errno -?\d+\]\s*")


@dataclass(frozen=True)
class ServerProblem:
    summary: str  # "cannot reach HOST (connection refused)": fits the status line
    advice: str = ""  # what to do next, for the banner

    def __str__(self) -> str:
        return f"{self.summary}; {self.advice}" if self.advice else self.summary


def host_label(url: str) -> str:
    return url.split("://", 1)[-1].rstrip("/")


def server_problem(host: str, exc: OllamaError) -> ServerProblem:
    """Ollama always answers /api/tags, so an HTTP 404 or 405 while polling means another
    kind of server on that port; a body that is not Ollama's is never shown raw."""
    label = host_label(host)
    check = "check --host or OLLAMA_HOST"
    if isinstance(exc, Unreachable):
        why = _ERRNO.sub("", exc.why or "no answer") or "no answer"
        why = why[:1].lower() + why[1:]
        return ServerProblem(f"cannot reach {label} ({why})", f"is `ollama serve` running? {check}")
    if isinstance(exc, ApiError) and exc.status in (404, 405):
        return ServerProblem(f"{label} is not an Ollama server (HTTP {exc.status})", check)
    if isinstance(exc, ApiError) and exc.status:
        said = str(exc).removeprefix("Ollama: ").strip()
        said = "" if said.startswith("<") else f": {said.splitlines()[0][:80]}"
        return ServerProblem(f"{label} answered HTTP {exc.status}{said}")
    if isinstance(exc, ProtocolError):
        return ServerProblem(f"{label} does not answer as Ollama does", check)
    return ServerProblem(f"{label}: {exc}")
