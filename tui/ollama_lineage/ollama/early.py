"""The first request, sent while the app is still starting.

The entry point imports this module and little else before it asks for the listing, so the
server works on it while Python imports asyncio, the store and the rest (or Textual).
"""

from __future__ import annotations

import http.client
import threading
from urllib.parse import urlsplit

from .. import __version__

USER_AGENT = f"ollama-lineage/{__version__}"


class EarlyGet:
    """A GET sent while the app is still starting, on a connection of its own; the first
    request for that path takes its answer, or its failure, instead of asking again."""

    def __init__(self, base_url: str, path: str, timeout: float) -> None:
        self.path = path
        self._answer: tuple[int, bytes] | None = None
        self._failure: Exception | None = None
        self._thread = threading.Thread(
            target=self._fetch, args=(base_url, timeout), name="early-get", daemon=True
        )
        self._thread.start()

    def answer(self) -> tuple[int, bytes]:
        self._thread.join()
        if self._failure is not None:
            raise self._failure
        assert self._answer is not None
        return self._answer

    def _fetch(self, base_url: str, timeout: float) -> None:
        connection = connect(base_url, timeout)
        try:
            path = urlsplit(base_url).path.rstrip("/") + self.path
            connection.request("GET", path, headers={"User-Agent": USER_AGENT})
            response = connection.getresponse()
            self._answer = response.status, response.read()
        except Exception as exc:  # handed to whoever asks: the app reports it as it would
            self._failure = exc
        finally:
            connection.close()


def connect(base_url: str, timeout: float) -> http.client.HTTPConnection:
    parts = urlsplit(base_url)
    https = parts.scheme == "https"
    kind = http.client.HTTPSConnection if https else http.client.HTTPConnection
    port = parts.port or (443 if https else 80)
    return kind(parts.hostname or "127.0.0.1", port, timeout=timeout)
