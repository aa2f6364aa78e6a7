"""Recipes from what /api/show says: overrides, the after-rebuild prediction, weights."""

from ollama_lineage.core.modelfile import Recipe
from ollama_lineage.core.overrides import derive_recipe, predict_after, with_weights

STOP = 'stop                           "<|im_end|>"'
BASE = {
    "parameters": "num_ctx                        4096\n" + STOP,
    "template": "{{ .Prompt }}",
    "system": "",
    "license": "Apache 2.0",
}
CHILD = {
    **BASE,
    "parameters": "num_ctx                        20000\n" + STOP + "\nnum_thread   16",
    "system": "You are terse.",
}


def test_the_recipe_is_only_what_differs_from_the_base():
    recipe = derive_recipe(CHILD, BASE, "qwq:latest")
    assert recipe == Recipe(
        base="qwq:latest", parameters={"num_ctx": 20000, "num_thread": 16}, system="You are terse."
    )


def test_a_rebuild_takes_the_new_base_and_keeps_the_overrides():
    new_base = {**BASE, "template": "{{ .System }} {{ .Prompt }}", "parameters": "top_k 40"}
    after = predict_after(new_base, derive_recipe(CHILD, BASE, "qwq:latest"))
    assert after.template == "{{ .System }} {{ .Prompt }}"
    assert after.system == "You are terse."
    assert after.parameters == {"top_k": 40, "num_ctx": 20000, "num_thread": 16}


def test_the_weights_head_the_text_so_a_weights_only_change_shows():
    spec = Recipe(base="qwq:latest")
    assert with_weights(spec, "ab" * 32).splitlines()[0] == "# weights abababababab"
    assert with_weights(spec, None) == spec.to_modelfile()
