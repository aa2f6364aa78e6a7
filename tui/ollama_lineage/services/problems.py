"""A failure nobody foresaw, said in one line and kept in the History."""

from __future__ import annotations

from ..core.modelfile import ModelfileError
from ..ollama.client import OllamaError
from .rebuild import RebuildError
from .session import Session
from .store import StoreError


def describe(exc: BaseException) -> str:
    """One line for any failure: our own errors say what to do; others name their kind."""
    if isinstance(exc, (RebuildError, OllamaError, ModelfileError, StoreError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def record_problem(session: Session, flow: str, name: str | None, exc: BaseException) -> None:
    """Expected failures are recorded by the services themselves; anything else is kept as a
    failed event of ``flow``, unless the database itself is what failed."""
    if isinstance(exc, (RebuildError, OllamaError)):
        return
    try:
        store, host = session.store, session.settings.host_key
        event = await store.start_event(host, name or "-", flow)
        await store.finish_event(event, "failed", error=describe(exc))
    except Exception:  # the notice the app shows is enough
        return
