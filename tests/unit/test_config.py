import pytest

from ollama_lineage.config import ConfigError, parse_host


@pytest.mark.parametrize(
    ("raw", "url"),
    [
        (None, "http://127.0.0.1:11434"),
        ("", "http://127.0.0.1:11434"),
        ("gpu-box", "http://gpu-box:11434"),
        ("gpu-box:8080", "http://gpu-box:8080"),
        (":9999", "http://127.0.0.1:9999"),
        ("0.0.0.0", "http://0.0.0.0:11434"),
        ("[::1]:11500", "http://[::1]:11500"),
        ("http://gpu-box", "http://gpu-box:80"),
        ("https://gpu-box", "https://gpu-box:443"),
        ("https://gpu-box:8443/ollama", "https://gpu-box:8443/ollama"),
        ("  127.0.0.1:11500  ", "http://127.0.0.1:11500"),
    ],
)
def test_host_forms_match_the_ollama_cli(raw: str | None, url: str) -> None:
    assert parse_host(raw) == url


@pytest.mark.parametrize("raw", ["gpu-box:notaport", "gpu-box:70000", "ftp://gpu-box"])
def test_bad_hosts_are_refused_with_the_reason(raw: str) -> None:
    with pytest.raises(ConfigError, match=r"port|scheme"):
        parse_host(raw)
