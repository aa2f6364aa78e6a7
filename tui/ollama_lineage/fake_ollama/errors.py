"""The one exception the stand-in's routes turn into Ollama's `{"error": ...}` answers."""


class ApiError(Exception):
    """An Ollama error: HTTP status plus the message of its `{"error": ...}` body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
