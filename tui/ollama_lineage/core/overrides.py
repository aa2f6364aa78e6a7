"""From model specs to recipes: what a derivative overrides, what a rebuild must produce.

A create copies every layer of its base and then applies the request: parameters are merged,
template/system/renderer/parser replaced, licenses and adapters appended, messages replaced,
the weights re-quantized when asked. A recipe is the request that reproduces a child from its
base; ``predict`` is what the server will hold after it, so a rebuild can be checked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .modelfile import ParamValue, Recipe
from .spec import ModelSpec

_SINGLES = ("template", "system", "renderer", "parser", "requires")


def full_spec(spec: ModelSpec, name: str) -> Recipe:
    """Everything a model carries, as a Modelfile whose FROM is ``name`` (not a blob path)."""
    return Recipe(
        base=name,
        parameters=dict(spec.parameters),
        template=spec.template,
        system=spec.system,
        adapters=spec.adapters,
        license=spec.licenses,
        messages=spec.messages,
        renderer=spec.renderer,
        parser=spec.parser,
        requires=spec.requires,
    )


def derive_recipe(child: ModelSpec, base: ModelSpec, base_name: str) -> Recipe:
    """The child's overrides: whatever differs from the base version it was built from."""
    parameters: dict[str, ParamValue] = {
        key: value for key, value in child.parameters.items() if base.parameters.get(key) != value
    }
    singles = {
        key: getattr(child, key) if getattr(child, key) != getattr(base, key) else None
        for key in _SINGLES
    }
    # Licenses are appended by every create: the base's come first, the child's own after.
    own_licenses = child.licenses[len(base.licenses) :]
    differs = child.quantization and base.quantization and child.quantization != base.quantization
    return Recipe(
        base=base_name,
        parameters=parameters,
        adapters=tuple(a for a in child.adapters if a not in base.adapters),
        license=own_licenses,
        messages=child.messages if child.messages != base.messages else (),
        quantize=child.quantization if differs else None,
        **singles,
    )


def predict(base: ModelSpec, recipe: Recipe) -> ModelSpec:
    """What ``/api/create`` from the base with this recipe leaves on the server."""
    # Ollama skips an empty value (``SYSTEM ""``): the base's stays, as with none at all.
    singles = {key: getattr(recipe, key) or getattr(base, key) for key in _SINGLES}
    return replace(
        base,
        weights=None if recipe.quantize else base.weights,  # a new blob, not known in advance
        adapters=base.adapters + tuple(a for a in recipe.adapters if a not in base.adapters),
        parameters={**base.parameters, **recipe.parameters},
        licenses=base.licenses + recipe.license,
        messages=recipe.messages or base.messages,
        quantization=(recipe.quantize or base.quantization).upper(),
        parent_model="",
        **singles,
    )


@dataclass(frozen=True)
class Mismatch:
    """One way a created model differs from what its plan promised."""

    field: str
    expected: str
    got: str

    def __str__(self) -> str:
        return f"{self.field}: expected {self.expected}, got {self.got}"


def verify(
    expected: ModelSpec,
    got: ModelSpec,
    *,
    base_weights: str | None,
    replaced_weights: str | None = None,
) -> list[Mismatch]:
    """Field by field; empty when the server made exactly what the plan said.

    Re-quantized weights are a new blob nobody can predict: they must be neither the base's
    (the quantization was skipped) nor, when the base moved, the ones being replaced.
    """
    found: list[Mismatch] = []

    def check(name: str, want: object, have: object) -> None:
        if want != have:
            found.append(Mismatch(name, _short(want), _short(have)))

    if expected.weights is not None:
        check("weights", expected.weights, got.weights)
    elif got.weights == base_weights:
        found.append(Mismatch("weights", "re-quantized weights", "the base's weights unchanged"))
    elif got.weights == replaced_weights:
        found.append(Mismatch("weights", "weights from the new base", "the old weights"))
    if expected.quantization and got.quantization:  # empty: the server did not say
        check("quantization", expected.quantization.upper(), got.quantization.upper())
    check("adapters", expected.adapters, got.adapters)
    for key in _SINGLES:
        check(key, getattr(expected, key), getattr(got, key))
    check("parameters", dict(expected.parameters), dict(got.parameters))
    check("license", expected.licenses, got.licenses)
    check("messages", expected.messages, got.messages)
    return found


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def with_weights(spec: Recipe, weights_blob: str | None) -> str:
    """The Modelfile headed by the weights it runs on: a new base often changes only those."""
    head = f"# weights {weights_blob[:12]}\n" if weights_blob else ""
    return head + spec.to_modelfile()
