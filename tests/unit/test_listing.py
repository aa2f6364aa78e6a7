"""The listing read one model at a time says what ``json.loads`` would, or refuses the same."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ollama_lineage.ollama.listing import NotAListing, listed_models

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
layouts = st.sampled_from(
    [
        {"separators": (",", ":")},  # Go's encoding/json
        {"indent": 2},
        {"indent": "\t", "separators": (" , ", " : ")},
    ]
)


@given(
    models=st.lists(values, max_size=6),
    before=st.dictionaries(st.text().filter(lambda k: k != "models"), values, max_size=2),
    after=st.dictionaries(st.text().filter(lambda k: k != "models"), values, max_size=2),
    layout=layouts,
    pad=st.sampled_from(["", " ", "\n", " \r\n\t"]),
)
def test_every_model_comes_out_as_json_loads_reads_it(
    models: list[Any], before: dict[str, Any], after: dict[str, Any], layout: Any, pad: str
) -> None:
    after = {k: v for k, v in after.items() if k not in before}
    text = pad + json.dumps({**before, "models": models, **after}, **layout) + pad
    assert list(listed_models(text)) == json.loads(text)["models"]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage",
        '{"models": [{"name": "a"}, {"name": "b"',  # cut mid-way
        '{"models": [{"name": "a"} {"name": "b"}]}',
        '{"models": [{"name": "a"},]}',
        '{"models": [{"name": "a"}] "x": 1}',
        '{"models" [] }',
        '{"models": []} trailing',
        '{"models": []}{}',
        "{1: []}",
    ],
)
def test_malformed_json_is_refused_as_json_loads_refuses_it(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    with pytest.raises(json.JSONDecodeError):
        list(listed_models(text))


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("[]", "list"),
        ('"models"', "str"),
        ("null", "NoneType"),
        ("{}", ""),
        ('{"error": "not found"}', ""),
        ('{"models": null}', ""),
        ('{"models": {"name": "a"}}', ""),
    ],
)
def test_json_that_is_not_a_listing_says_what_it_was(text: str, what: str) -> None:
    with pytest.raises(NotAListing) as refused:
        list(listed_models(text))
    assert refused.value.what == what


def test_models_come_out_one_at_a_time() -> None:
    """A model is handed on before the next is decoded: the point of the module."""
    models = listed_models('{"models": [{"name": "a"}, {"name": "b"}, oops]}')
    assert next(models) == {"name": "a"}
    assert next(models) == {"name": "b"}
    with pytest.raises(json.JSONDecodeError):
        next(models)
