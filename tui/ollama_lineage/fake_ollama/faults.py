"""Injected trouble for tests: latency, failing the N-th call of a route, malformed bodies,
answers of another shape (a newer or odder server)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

FAIL_MODES = ("status", "midstream", "drop")
MALFORMED_KINDS = ("garbage", "truncated")
# Given the route and one JSON object the server is about to send, the object to send instead.
Reshape = Callable[[str, dict[str, Any]], dict[str, Any]]


@dataclass
class Failure:
    remaining: int
    status: int
    error: str
    mode: str


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latency: dict[str | None, float] = {}
        self._failures: dict[str, list[Failure]] = {}
        self._malformed: dict[str, list[str]] = {}
        self.reshape: Reshape | None = None

    def set_latency(self, seconds: float, route: str | None = None) -> None:
        with self._lock:
            self._latency[route] = float(seconds)

    def latency(self, route: str) -> float:
        """The route's own delay wins over the all-routes one."""
        with self._lock:
            return self._latency.get(route, self._latency.get(None, 0.0))

    def fail(self, route: str, nth: int, status: int, error: str, mode: str) -> None:
        if mode not in FAIL_MODES:
            raise ValueError(f"mode must be one of {FAIL_MODES}")
        if nth < 1:
            raise ValueError("nth must be >= 1")
        with self._lock:
            self._failures.setdefault(route, []).append(Failure(nth, status, error, mode))

    def take_failure(self, route: str) -> Failure | None:
        """Count this call against every pending failure of the route; return one now due."""
        with self._lock:
            pending = self._failures.get(route, [])
            for failure in pending:
                failure.remaining -= 1
            due = [f for f in pending if f.remaining <= 0]
            pending[:] = [f for f in pending if f.remaining > 0]
            return due[0] if due else None

    def malformed(self, route: str, kind: str, times: int) -> None:
        if kind not in MALFORMED_KINDS:
            raise ValueError(f"kind must be one of {MALFORMED_KINDS}")
        with self._lock:
            self._malformed.setdefault(route, []).extend([kind] * times)

    def take_malformed(self, route: str) -> str | None:
        with self._lock:
            queue = self._malformed.get(route)
            return queue.pop(0) if queue else None
