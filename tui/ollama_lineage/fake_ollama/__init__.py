"""Stand-in Ollama: a real HTTP server on loopback speaking Ollama's JSON API, for tests
and the app's --demo mode."""

from .errors import ApiError
from .server import FakeOllama, RecordedRequest, run_server

__all__ = ["ApiError", "FakeOllama", "RecordedRequest", "run_server"]
