"""Where the server, the database and Ollama's models folder are: the same OLLAMA_HOST forms
the ollama CLI accepts."""

from __future__ import annotations

import contextlib
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_PORT = 11434
DEFAULT_REGISTRY = "https://registry.ollama.ai"
APP_NAME = "ollama-lineage"


class ConfigError(ValueError):
    """A setting the user gave that cannot be used."""


def parse_host(raw: str | None) -> str:
    """Turn OLLAMA_HOST-style input into a base URL, as ollama's envconfig.Host does.

    Accepts ``host``, ``host:port``, ``:port``, ``[::1]:port`` and ``http(s)://…``; empty means
    the default ``http://127.0.0.1:11434``.
    """
    text = (raw or "").strip()
    scheme, sep, hostport = text.partition("://")
    default_port = DEFAULT_PORT
    if not sep:
        scheme, hostport = "http", text
        if text == "ollama.com":
            scheme, hostport = "https", "ollama.com:443"
    elif scheme == "http":
        default_port = 80
    elif scheme == "https":
        default_port = 443
    else:
        raise ConfigError(f"unsupported scheme in Ollama host {raw!r}: use http:// or https://")
    hostport, _, path = hostport.partition("/")
    host, port = _split_host_port(hostport, default_port)
    if ":" in host:
        host = f"[{host}]"
    url = f"{scheme}://{host}:{port}"
    return f"{url}/{path}".rstrip("/") if path else url


def _split_host_port(hostport: str, default_port: int) -> tuple[str, int]:
    host, port_text = "", ""
    if hostport.startswith("["):
        inside, _, rest = hostport[1:].partition("]")
        host, port_text = inside, rest.removeprefix(":")
    elif hostport.count(":") == 1:
        host, port_text = hostport.split(":")
    else:
        host = hostport
    if not port_text:
        port = default_port
    elif port_text.isdigit() and 0 <= int(port_text) <= 65535:
        port = int(port_text)
    else:
        raise ConfigError(f"invalid port {port_text!r} in Ollama host {hostport!r}")
    with contextlib.suppress(ValueError):
        host = str(ipaddress.ip_address(host)) if host else "127.0.0.1"
    return host, port


def default_db_path() -> Path:
    """The database lives in the user's data dir (platformdirs comes with Textual)."""
    override = os.environ.get("OLLAMA_LINEAGE_DB")
    if override:
        return Path(override)
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False)) / "lineage.sqlite3"


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know, resolved once from flags and environment."""

    host: str
    db_path: Path
    registry: str = DEFAULT_REGISTRY
    poll_seconds: float = 2.0
    upstream_every: float = 3600.0
    keep_backups: int = 1
    keep_history_days: float = 90.0  # History forgets older events (each model's last kept)
    timeout: float = 30.0
    models_dir: Path | None = None  # Ollama's models folder, read instead of /api/show
    name: str = ""  # the host's name in a hosts file, for runs over several servers

    @property
    def host_key(self) -> str:
        """Rows in the store are per server, so one database serves several hosts."""
        parts = urlsplit(self.host)
        return f"{parts.hostname}:{parts.port}"

    @property
    def label(self) -> str:
        """How messages name this server: its hosts-file name, else host:port."""
        return self.name or self.host_key


def candidate_dirs(env: Mapping[str, str] | None = None) -> list[Path]:
    """Where Ollama keeps models: $OLLAMA_MODELS, the user's, the Linux service's."""
    env = os.environ if env is None else env
    found = [Path(env["OLLAMA_MODELS"])] if env.get("OLLAMA_MODELS") else []
    return [*found, Path.home() / ".ollama" / "models", Path("/usr/share/ollama/.ollama/models")]


def find_models_dir(env: Mapping[str, str] | None = None) -> Path | None:
    for folder in candidate_dirs(env):
        if (folder / "manifests").is_dir() and os.access(folder / "manifests", os.R_OK):
            return folder
    return None
