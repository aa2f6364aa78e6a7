"""Several servers: ``--host`` given more than once, or a hosts file naming them.

```toml
[[host]]
name = "gpu"
url = "gpu-box:11434"          # any form OLLAMA_HOST takes
models_dir = "/srv/ollama/models"   # optional: that server's models folder, if readable here
```
A bad entry is refused with its file, line and key before any request goes out.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import APP_NAME, ConfigError, parse_host

if TYPE_CHECKING:
    from .tomltables import Where

KNOWN_KEYS = ("name", "url", "models_dir")


@dataclass(frozen=True)
class Host:
    name: str
    url: str
    models_dir: Path | None = None


def default_hosts_path(env: Mapping[str, str] | None = None) -> Path:
    """``OLLAMA_LINEAGE_HOSTS``, else ``hosts.toml`` in the user's config dir."""
    env = os.environ if env is None else env
    if env.get("OLLAMA_LINEAGE_HOSTS"):
        return Path(env["OLLAMA_LINEAGE_HOSTS"])
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME, appauthor=False)) / "hosts.toml"


def load_hosts(path: Path) -> list[Host]:
    from .tomltables import read_tables

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such hosts file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the hosts file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    hosts: list[Host] = []
    for table, where in read_tables(text, path, "host", ConfigError):
        host = _host(table, where)
        _refuse_twice(host, hosts, where)
        hosts.append(host)
    if not hosts:
        raise ConfigError(f"{path}: no [[host]] tables")
    return hosts


def _host(table: Mapping[str, Any], where: Where) -> Host:
    for key in table:
        if key not in KNOWN_KEYS:
            raise ConfigError(f"{where(key)}: unknown key {key!r} (known: {', '.join(KNOWN_KEYS)})")
    for key in KNOWN_KEYS:
        if key in table and not (isinstance(table[key], str) and table[key].strip()):
            raise ConfigError(f"{where(key)}: {key} must be a non-empty string, not {table[key]!r}")
    for key in ("name", "url"):
        if key not in table:
            raise ConfigError(f'{where()}: no {key}; each host needs {key} = "..."')
    try:
        url = parse_host(table["url"])
    except ConfigError as exc:
        raise ConfigError(f"{where('url')}: {exc}") from None
    folder = Path(table["models_dir"]).expanduser() if "models_dir" in table else None
    return Host(table["name"].strip(), url, folder)


def _refuse_twice(host: Host, earlier: Sequence[Host], where: Where) -> None:
    for other in earlier:
        if other.name.casefold() == host.name.casefold():
            raise ConfigError(f"{where('name')}: the name {host.name!r} is given twice")
        if other.url == host.url:
            raise ConfigError(f"{where('url')}: {host.url} is given twice ({other.name} has it)")


def choose_hosts(
    given: Sequence[str], hosts_file: Path | None, env: Mapping[str, str]
) -> list[Host]:
    """The servers a run works on: each ``--host`` (a name from the hosts file, or an address),
    else every host in the hosts file, else ``OLLAMA_HOST`` as the ollama CLI reads it."""
    named = load_hosts(hosts_file) if hosts_file is not None else []
    if not given:
        return named or [_address(env.get("OLLAMA_HOST", ""))]
    chosen: list[Host] = []
    for text in given:
        host = next((h for h in named if h.name.casefold() == text.casefold()), None)
        host = host or _address(text)
        if any(h.url == host.url for h in chosen):
            raise ConfigError(f"--host {text}: {host.url} is given twice")
        chosen.append(host)
    return chosen


def _address(text: str) -> Host:
    url = parse_host(text)
    return Host(url.split("://", 1)[-1], url)
