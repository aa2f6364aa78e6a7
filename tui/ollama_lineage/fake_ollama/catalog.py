"""What the stand-in registry publishes: realistic upstream models, one version at a time.

Each version gets a new weights blob (a short stand-in body with a realistic declared size);
even versions also change the template, so a rebuild has something visible to diff.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

_QWEN_TEMPLATE = """{{- if or .System .Tools }}<|im_start|>system
{{- if .System }}
{{ .System }}
{{- end }}
{{- if .Tools }}

# Tools

You may call one or more functions to assist with the user query.
<tools>
{{- range .Tools }}
{"type": "function", "function": {{ .Function }}}
{{- end }}
</tools>
{{- end }}<|im_end|>
{{ end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 -}}
{{- if eq .Role "user" }}<|im_start|>user
{{ .Content }}<|im_end|>
{{ else if eq .Role "assistant" }}<|im_start|>assistant
{{ .Content }}{{ if not $last }}<|im_end|>
{{ end }}
{{- end }}
{{- if and (ne .Role "assistant") $last }}<|im_start|>assistant
{{ end }}
{{- end }}"""

_LLAMA_TEMPLATE = """<|start_header_id|>system<|end_header_id|>

Cutting Knowledge Date: December 2023

{{ if .System }}{{ .System }}
{{- end }}<|eot_id|>
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if eq .Role "user" }}<|start_header_id|>user<|end_header_id|>

{{ .Content }}<|eot_id|>{{ if $last }}<|start_header_id|>assistant<|end_header_id|>

{{ end }}
{{- else if eq .Role "assistant" }}<|start_header_id|>assistant<|end_header_id|>

{{ .Content }}{{ if not $last }}<|eot_id|>{{ end }}
{{- end }}
{{- end }}"""

_MISTRAL_TEMPLATE = "[INST] {{ if .System }}{{ .System }} {{ end }}{{ .Prompt }} [/INST]"

_PHI_TEMPLATE = """{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 -}}
<|im_start|>{{ .Role }}<|im_sep|>
{{ .Content }}{{ if not $last }}<|im_end|>
{{ end }}
{{- if and (ne .Role "assistant") $last }}<|im_end|>
<|im_start|>assistant<|im_sep|>
{{ end }}
{{- end }}"""

_GENERIC_TEMPLATE = (
    "{{ if .System }}<|system|>\n{{ .System }}\n{{ end }}<|user|>\n{{ .Prompt }}\n<|assistant|>\n"
)

_APACHE = """Apache License
Version 2.0, January 2004
http://www.apache.org/licenses/

TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION
"""


@dataclass(frozen=True)
class Recipe:
    """The fixed part of an upstream model; versions vary the weights (and template)."""

    family: str
    parameter_size: str
    quantization: str
    weights_size: int
    template: str
    params: dict[str, Any]
    license: str = ""
    families: list[str] = field(default_factory=list)


RECIPES: dict[str, Recipe] = {
    "qwq:latest": Recipe(
        "qwen2",
        "32.8B",
        "Q4_K_M",
        19851336256,
        _QWEN_TEMPLATE,
        {
            "repeat_penalty": 1,
            "stop": ["<|im_start|>", "<|im_end|>"],
            "temperature": 0.6,
            "top_k": 40,
            "top_p": 0.95,
        },
        _APACHE,
    ),
    "llama3.2:latest": Recipe(
        "llama",
        "3.2B",
        "Q4_K_M",
        2019377376,
        _LLAMA_TEMPLATE,
        {"stop": ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]},
        "LLAMA 3.2 COMMUNITY LICENSE AGREEMENT\n"
        "Llama 3.2 Version Release Date: September 25, 2024\n",
    ),
    "mistral:7b": Recipe(
        "llama",
        "7.2B",
        "Q4_0",
        4113289792,
        _MISTRAL_TEMPLATE,
        {"stop": ["[INST]", "[/INST]"]},
        _APACHE,
    ),
    "phi4:latest": Recipe(
        "phi3",
        "14.7B",
        "Q4_K_M",
        9053114566,
        _PHI_TEMPLATE,
        {"stop": ["<|im_start|>", "<|im_end|>", "<|im_sep|>"]},
        "Microsoft.\nMIT License\n",
    ),
}

_GENERIC = [
    ("llama", "8.0B", 4920734272),
    ("qwen2", "7.6B", 4683073184),
    ("gemma3", "4.3B", 3338792672),
]


def recipe_for(display: str) -> Recipe:
    """A known recipe, or a deterministic generic one so any name can be published."""
    if display in RECIPES:
        return RECIPES[display]
    pick = int(hashlib.sha256(display.encode()).hexdigest()[:8], 16)
    family, size, weights = _GENERIC[pick % len(_GENERIC)]
    return Recipe(
        family, size, "Q4_K_M", weights + pick % 4096, _GENERIC_TEMPLATE, {"stop": ["<|user|>"]}
    )


def template_for(recipe: Recipe, version: int) -> str:
    """Even versions ship a revised template, as upstream fixes to chat formats do."""
    if version % 2:
        return recipe.template
    return recipe.template + f"{{{{- /* template revision {version} */ -}}}}"


def config_for(recipe: Recipe) -> dict[str, Any]:
    """The config blob fields in Go's ConfigV2 order (rootfs is added with the layers)."""
    return {
        "model_format": "gguf",
        "model_family": recipe.family,
        "model_families": recipe.families or [recipe.family],
        "model_type": recipe.parameter_size,
        "file_type": recipe.quantization,
        "architecture": "amd64",
        "os": "linux",
    }
