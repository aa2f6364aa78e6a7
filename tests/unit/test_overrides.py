"""Recipes from what a real Ollama showed: overrides, the prediction of a rebuild, verification.

The shows are the recordings of Ollama 0.33.0-rc2 (tests/conformance/recordings), so these
tests hold the core to what a real server says, not to what we think it says.
"""

import json
from dataclasses import replace
from pathlib import Path

from ollama_lineage.core.modelfile import Message, Recipe
from ollama_lineage.core.overrides import derive_recipe, full_spec, predict, verify, with_weights
from ollama_lineage.core.spec import ModelSpec, parse_show
from ollama_lineage.ollama.plain_http import without_tensors

RECORDED = Path(__file__).parents[1] / "conformance" / "recordings" / "ollama-0.33.0-rc2"


def recorded_show(step: str) -> ModelSpec:
    (path,) = RECORDED.glob(f"*-{step}.json")
    return parse_show(json.loads(path.read_text())["response"]["body"])


BASE_V1 = recorded_show("show-qwq-latest")
BASE_V2 = recorded_show("show-base-after-update")
CUSTOM = recorded_show("show-qwq-custom")
CUSTOM_REBUILT = recorded_show("show-custom-after-rebuild")


def test_a_recipe_holds_everything_the_user_put_in_the_model() -> None:
    recipe = derive_recipe(CUSTOM, BASE_V1, "qwq:latest")
    assert recipe == Recipe(
        base="qwq:latest",
        parameters={
            "num_ctx": 8192,
            "stop": ["[INST]"],
            "top_k": 20,
            "use_mmap": False,
            "seed": 42,
            "num_predict": 1000000,
        },
        template="[INST] {{ if .System }}{{ .System }} {{ end }}{{ .Prompt }} [/INST]",
        system="Answer in one line.\nNever apologise.",
        adapters=(CUSTOM.adapters[0],),
        license=("CHILD ADDENDUM",),  # only the child's own: the base's comes with the base
        messages=(Message("user", "Who are you?"), Message("assistant", 'A tiny "model".')),
    )


def test_the_prediction_of_a_rebuild_is_what_the_real_server_made() -> None:
    recipe = derive_recipe(CUSTOM, BASE_V1, "qwq:latest")
    assert verify(predict(BASE_V2, recipe), CUSTOM_REBUILT, base_weights=BASE_V2.weights) == []


def test_verification_names_each_field_a_create_got_wrong() -> None:
    recipe = derive_recipe(CUSTOM, BASE_V1, "qwq:latest")
    lost = replace(CUSTOM_REBUILT, adapters=(), licenses=CUSTOM_REBUILT.licenses * 2)
    found = {m.field for m in verify(predict(BASE_V2, recipe), lost, base_weights=None)}
    assert found == {"adapters", "license"}


def test_the_weights_head_the_text_so_a_weights_only_change_shows() -> None:
    spec = Recipe(base="qwq:latest")
    assert with_weights(spec, "ab" * 32).splitlines()[0] == "# weights abababababab"
    assert with_weights(spec, None) == spec.to_modelfile()


def test_cutting_the_tensor_list_keeps_every_other_field_of_a_real_show() -> None:
    (path,) = RECORDED.glob("*-show-verbose.json")
    show = json.loads(path.read_text())["response"]["body"]
    cut = json.loads(without_tensors(json.dumps(show, separators=(",", ":"))))  # as Go writes
    assert cut.pop("tensors") == [] and show.pop("tensors")
    assert cut == show


def test_a_recipe_never_copies_the_bases_messages() -> None:
    """Messages are replaced wholesale by a create: the base's come with the base."""
    greeting = (Message("user", "hi"), Message("assistant", "hello"))
    base = replace(BASE_V1, messages=greeting)
    inherited = replace(CUSTOM, messages=greeting)
    assert derive_recipe(inherited, base, "qwq:latest").messages == ()
    own = replace(CUSTOM, messages=(*greeting, Message("user", "and you?")))
    assert derive_recipe(own, base, "qwq:latest").messages == own.messages


def test_each_weights_mismatch_says_what_was_expected_and_what_came() -> None:
    """The words the rebuild's error shows when the create made other weights than planned."""
    planned = replace(BASE_V2, weights="sha256:aaa")
    made = replace(BASE_V2, weights="sha256:bbb")
    assert [str(m) for m in verify(planned, made, base_weights=None)] == [
        "weights: expected 'sha256:aaa', got 'sha256:bbb'"
    ]
    requantized = replace(BASE_V2, weights=None)
    assert [str(m) for m in verify(requantized, BASE_V2, base_weights=BASE_V2.weights)] == [
        "weights: expected re-quantized weights, got the base's weights unchanged"
    ]
    old = replace(BASE_V2, weights="sha256:old")
    assert [
        str(m) for m in verify(requantized, old, base_weights="x", replaced_weights="sha256:old")
    ] == ["weights: expected weights from the new base, got the old weights"]


def test_a_long_value_is_cut_to_80_characters_in_a_mismatch() -> None:
    exactly = "x" * 78  # 80 with its quotes: shown whole
    longer = "y" * 79
    found = verify(
        replace(BASE_V2, system=exactly), replace(BASE_V2, system=longer), base_weights=None
    )
    assert [(m.expected, m.got) for m in found] == [(repr(exactly), repr(longer)[:77] + "...")]


def test_a_mismatch_names_its_field_and_an_unsaid_quantization_is_no_mismatch() -> None:
    planned = replace(BASE_V2, weights=None, quantization="Q4_K_M")
    requantized = replace(planned, weights="sha256:new")
    assert verify(planned, replace(requantized, quantization=""), base_weights="other") == []
    made = replace(
        requantized,
        quantization="Q8_0",
        parameters={"num_ctx": 1},
        messages=(Message("user", "hi"),),
    )
    assert [m.field for m in verify(planned, made, base_weights="other")] == [
        "quantization",
        "parameters",
        "messages",
    ]


def test_the_full_spec_is_everything_the_model_carries_from_its_bases_name() -> None:
    """What the plan's diff shows as "now" and "after": every field, FROM the base's name."""
    spec = replace(
        CUSTOM,
        system="Be brief.",
        messages=(Message("user", "hi"),),
        adapters=("sha256:" + "c" * 64,),
        renderer="r1",
        parser="p1",
        requires="0.14.0",
    )
    recipe = full_spec(spec, "qwq:latest")
    assert recipe == Recipe(
        base="qwq:latest",
        parameters=dict(spec.parameters),
        template=spec.template,
        system="Be brief.",
        adapters=spec.adapters,
        license=spec.licenses,
        messages=spec.messages,
        renderer="r1",
        parser="p1",
        requires="0.14.0",
    )
