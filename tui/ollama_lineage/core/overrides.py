"""From what ``/api/show`` says to recipes: what a derivative overrides, what a rebuild makes.

Pure functions over raw show JSON, so the CLI, the TUI and the tests share them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .modelfile import Message, ParamValue, Recipe, parse_show_parameters


def full_spec(show: Mapping[str, Any], name: str) -> Recipe:
    """Everything a model carries, as a Modelfile whose FROM is ``name`` (not a blob path)."""
    license_value = show.get("license") or ()
    licenses = (license_value,) if isinstance(license_value, str) else tuple(license_value)
    return Recipe(
        base=name,
        parameters=parse_show_parameters(str(show.get("parameters") or "")),
        template=str(show.get("template") or "") or None,
        system=str(show.get("system") or "") or None,
        license=tuple(str(x) for x in licenses if x),
        messages=tuple(
            Message(str(m.get("role", "")), str(m.get("content", "")))
            for m in show.get("messages") or ()
            if isinstance(m, Mapping)
        ),
    )


def derive_recipe(child: Mapping[str, Any], base: Mapping[str, Any], base_name: str) -> Recipe:
    """The child's overrides: whatever differs from the base version it was built from."""
    mine, theirs = full_spec(child, base_name), full_spec(base, base_name)
    parameters: dict[str, ParamValue] = {
        key: value for key, value in mine.parameters.items() if theirs.parameters.get(key) != value
    }
    return Recipe(
        base=base_name,
        parameters=parameters,
        template=mine.template if mine.template != theirs.template else None,
        system=mine.system if mine.system != theirs.system else None,
        license=mine.license if mine.license != theirs.license else (),
        messages=mine.messages if mine.messages != theirs.messages else (),
    )


def predict_after(base: Mapping[str, Any], recipe: Recipe) -> Recipe:
    """What ``/api/create`` from the base's name with these overrides will produce."""
    spec = full_spec(base, recipe.base)
    return Recipe(
        base=recipe.base,
        parameters={**spec.parameters, **recipe.parameters},
        template=recipe.template if recipe.template is not None else spec.template,
        system=recipe.system if recipe.system is not None else spec.system,
        license=recipe.license or spec.license,
        messages=recipe.messages or spec.messages,
        adapters=recipe.adapters,
    )


def with_weights(spec: Recipe, weights_blob: str | None) -> str:
    """The Modelfile headed by the weights it runs on: a new base often changes only those."""
    head = f"# weights {weights_blob[:12]}\n" if weights_blob else ""
    return head + spec.to_modelfile()
