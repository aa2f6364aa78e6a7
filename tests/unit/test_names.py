from __future__ import annotations

import string
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ollama_lineage.core.names import (
    BACKUP_MARK,
    InvalidModelName,
    ModelName,
    backup_name,
    backup_origin,
    normalize_name,
    parse_model_name,
    same_model,
)

_FIRST = string.ascii_letters + string.digits + "_"


def _part(rest: str, max_size: int) -> st.SearchStrategy[str]:
    return st.builds(
        str.__add__,
        st.sampled_from(_FIRST),
        st.text(alphabet=_FIRST + rest, max_size=max_size - 1),
    ).filter(lambda s: ".." not in s)


def model_names() -> st.SearchStrategy[ModelName]:
    """Valid names with every part present (shared with test_modelfile)."""
    return st.builds(
        ModelName,
        host=st.one_of(st.just("registry.ollama.ai"), _part(".:-", 30)),
        namespace=st.one_of(st.just("library"), _part("-", 20)),
        model=_part(".-", 30),
        tag=_part(".-", 30),
    )


WHEN = datetime(2025, 3, 14, 9, 26, 53)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("qwq", ModelName("registry.ollama.ai", "library", "qwq", "latest")),
        ("qwq:latest_20K", ModelName("registry.ollama.ai", "library", "qwq", "latest_20K")),
        ("jmorgan/mario:7b", ModelName("registry.ollama.ai", "jmorgan", "mario", "7b")),
        ("localhost:5000/me/m", ModelName("localhost:5000", "me", "m", "latest")),
        ("https://host.io/ns/m:t", ModelName("host.io", "ns", "m", "t")),
        ("http://host.io/ns/m", ModelName("host.io", "ns", "m", "latest")),
        ("https://reg.local:5000/ns/m", ModelName("reg.local:5000", "ns", "m", "latest")),
        (
            "llama3.2:3b-instruct-q4_K_M",
            ModelName("registry.ollama.ai", "library", "llama3.2", "3b-instruct-q4_K_M"),
        ),
    ],
)
def test_parse_fills_defaults_and_splits_parts(raw: str, expected: ModelName) -> None:
    assert parse_model_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty model"),
        ("a/:b", "empty model"),
        ("m:", "empty tag"),
        ("/m", "empty namespace"),
        ("x//m", "empty namespace"),
        ("a/b/c/d", "host 'a/b' must not contain '/'"),
        ("ns.x/m", "namespace 'ns.x' must not contain '.'"),
        ("ns:x/m", "namespace 'ns:x' must not contain ':'"),
        ("a:b:c", "model 'a:b' must not contain ':'"),
        ("-m", "model '-m' must start with a letter, digit or '_'"),
        ("m:.t", "tag '.t' must start with a letter, digit or '_'"),
        ("my model", "model 'my model' must not contain ' '"),
        ("m" * 81, "model is longer than 80 characters"),
        ("m:" + "t" * 81, "tag is longer than 80 characters"),
        ("https://m", "a scheme must be followed by host/namespace/model"),
    ],
)
def test_invalid_names_say_which_part_is_wrong(raw: str, reason: str) -> None:
    with pytest.raises(InvalidModelName) as info:
        parse_model_name(raw)
    assert str(info.value) == f"invalid model name {raw!r}: {reason}"


def test_part_lengths_at_the_limits_are_accepted() -> None:
    assert parse_model_name("m" * 80 + ":" + "t" * 80).tag == "t" * 80
    assert parse_model_name("h" * 350 + "/ns/m").host == "h" * 350


@pytest.mark.parametrize(
    ("raw", "shortest"),
    [
        ("qwq", "qwq:latest"),
        ("registry.ollama.ai/library/qwq:7b", "qwq:7b"),
        ("REGISTRY.ollama.ai/Library/qwq", "qwq:latest"),
        ("registry.ollama.ai/me/qwq", "me/qwq:latest"),
        ("example.com/library/qwq", "example.com/library/qwq:latest"),
        ("Llama3.2", "Llama3.2:latest"),
    ],
)
def test_shortest_drops_only_default_host_and_namespace(raw: str, shortest: str) -> None:
    assert normalize_name(raw) == shortest


def test_manifest_path_is_the_registry_route() -> None:
    assert parse_model_name("qwq").manifest_path() == "v2/library/qwq/manifests/latest"
    assert parse_model_name("h:1/me/m:t").manifest_path() == "v2/me/m/manifests/t"


def test_same_model_ignores_case_and_defaults() -> None:
    assert same_model("LLAMA3.2", "registry.ollama.ai/library/llama3.2:latest")
    assert not same_model("llama3.2", "llama3.2:1b")
    assert not same_model("me/llama3.2", "llama3.2")
    assert not same_model("", "")


@given(model_names())
def test_shortest_parses_back_to_the_same_name(name: ModelName) -> None:
    reparsed = parse_model_name(name.shortest())
    assert reparsed.shortest() == name.shortest()
    assert same_model(name.shortest(), f"{name.host}/{name.namespace}/{name.model}:{name.tag}")


def test_backup_name_format_keeps_host_and_namespace() -> None:
    assert backup_name("qwq", WHEN) == "qwq:latest.bak-20250314-092653"
    assert backup_name("h:5000/me/m:t", WHEN) == "h:5000/me/m:t.bak-20250314-092653"


def test_backup_sorts_right_after_its_original() -> None:
    names = ["qwq:latest", "qwq:latest_20K", "qwq:7b", "qwen:latest", "qwq:latestX", "r:latest"]
    backup = backup_name("qwq:latest", WHEN)
    ordered = sorted([*names, backup])
    assert ordered[ordered.index("qwq:latest") + 1] == backup


def test_only_a_dash_extended_sibling_sorts_between() -> None:
    # '-' < '.', so the one exception to "right after" is a tag extending the original with '-'.
    backup = backup_name("qwq:7b", WHEN)
    assert sorted([backup, "qwq:7b-instruct", "qwq:7b"]) == ["qwq:7b", "qwq:7b-instruct", backup]


def test_backup_origin_inverts_backup_name() -> None:
    backup = backup_name("me/qwq:latest_20K", WHEN)
    assert backup_origin(backup) == "me/qwq:latest_20K"
    assert backup_origin(backup_name(backup, WHEN)) == backup


@pytest.mark.parametrize(
    "name",
    [
        "qwq:latest",
        "qwq:bak-20250314-092653",
        "qwq:x.bak-2025-1",
        "m:v1_bak-20250101-000000",  # the mark is matched literally: `_` is not `.`
    ],
)
def test_backup_origin_is_none_for_ordinary_names(name: str) -> None:
    assert backup_origin(name) is None


def test_backup_of_a_long_tag_truncates_to_a_valid_name() -> None:
    backup = backup_name("m:" + "t" * 80, WHEN)
    tag = parse_model_name(backup).tag
    assert len(tag) == 80
    assert tag == "t" * 60 + BACKUP_MARK + "20250314-092653"
    assert backup_origin(backup) == "m:" + "t" * 60


@given(model_names(), st.datetimes())
def test_backup_is_valid_and_reversible(name: ModelName, when: datetime) -> None:
    original = name.shortest()
    backup = backup_name(original, when)
    assert parse_model_name(backup).tag.startswith(name.tag)
    assert backup_origin(backup) == original
    assert sorted([backup, original]) == [original, backup]
