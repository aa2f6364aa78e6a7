"""The hosts file: every bad entry refused with its file, line and key, before any request."""

from __future__ import annotations

from pathlib import Path

import pytest

from ollama_lineage.config import ConfigError
from ollama_lineage.hosts import Host, choose_hosts, load_hosts

GOOD = """\
[[host]]
name = "gpu"
url = "gpu-box"

[[host]]
name = "laptop"
url = "http://127.0.0.1:11435"
models_dir = "~/models"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hosts.toml"
    path.write_text(text)
    return path


def test_a_good_file_names_each_host_with_its_url_as_ollama_host_reads_it(tmp_path: Path) -> None:
    hosts = load_hosts(write(tmp_path, GOOD))
    assert hosts == [
        Host("gpu", "http://gpu-box:11434"),
        Host("laptop", "http://127.0.0.1:11435", Path("~/models").expanduser()),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            GOOD.replace('url = "gpu-box"', 'url = "gpu-box"\nport = 1'),
            ":4: host 1: unknown key 'port'",
        ),
        (GOOD.replace('url = "gpu-box"\n', ""), ":1: host 1: no url; each host needs url"),
        (GOOD.replace('"gpu-box"', '"gpu-box:99999"'), ":3: host 1: invalid port '99999'"),
        (GOOD.replace('"gpu-box"', '"ftp://gpu-box"'), ":3: host 1: unsupported scheme"),
        (GOOD.replace('"laptop"', '"GPU"'), ":6: host 2: the name 'GPU' is given twice"),
        (
            GOOD.replace("http://127.0.0.1:11435", "gpu-box:11434"),
            ":7: host 2: http://gpu-box:11434 is given twice (gpu has it)",
        ),
        (GOOD.replace('name = "gpu"', "name = 3"), ":2: host 1: name must be a non-empty string"),
        (GOOD.replace('"gpu"', '"gpu'), ":2:"),  # not TOML: the parser's line
        ("hosts = 1\n", ":1: unknown top-level key 'hosts'"),
        ("", "no [[host]] tables"),
    ],
)
def test_bad_entries_are_refused_with_file_line_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_hosts(path)
    assert str(caught.value).startswith(str(path)) and message in str(caught.value)


def test_a_missing_hosts_file_given_on_purpose_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such hosts file"):
        load_hosts(tmp_path / "nope.toml")


def test_host_flags_take_names_from_the_file_or_addresses(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    chosen = choose_hosts(["LAPTOP", "10.0.0.9:11434"], path, {})
    assert [(h.name, h.url) for h in chosen] == [
        ("laptop", "http://127.0.0.1:11435"),
        ("10.0.0.9:11434", "http://10.0.0.9:11434"),
    ]
    assert [h.name for h in choose_hosts([], path, {})] == ["gpu", "laptop"]
    assert choose_hosts([], None, {"OLLAMA_HOST": ":11500"}) == [
        Host("127.0.0.1:11500", "http://127.0.0.1:11500")
    ]
    with pytest.raises(ConfigError, match="given twice"):
        choose_hosts(["gpu", "gpu-box:11434"], path, {})
