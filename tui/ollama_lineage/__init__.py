"""Keep Ollama derivative models in step with the bases they were built from."""

__version__ = "0.1.0"
