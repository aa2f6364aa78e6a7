"""What the stand-in registry publishes: realistic upstream models, one version at a time.

Each version gets a new weights blob (a short stand-in body with a realistic declared size);
even versions also change the template, so a rebuild has something visible to diff. The
weights' GGUF header (metadata, hundreds of tensor infos) is built once per recipe and
shared by every model using it, so a show is as big as a real one (tens of KB) while a
fleet of a thousand models stays cheap.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from typing import Any

from .gguf import FILE_TYPES, GGUF, human_number

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

# A GGUF's own chat template (Jinja), as HF models ship it: it replays tool calls, which
# the Go TEMPLATE above cannot, so Ollama prefers it (shouldPreferChatTemplate).
JINJA_TEMPLATE = """{%- if tools %}<|im_start|>system
# Tools
{%- for tool in tools %}{{ tool | tojson }}{%- endfor %}<|im_end|>
{%- endif %}
{%- for message in messages %}<|im_start|>{{ message.role }}
{{ message.content }}
{%- if message.tool_calls %}{%- for call in message.tool_calls %}<tool_call>
{{ call.function | tojson }}
</tool_call>{%- endfor %}{%- endif %}<|im_end|>
{% endfor %}
{%- if add_generation_prompt %}<|im_start|>assistant
{% endif %}"""

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


# A long license, as real ones are (Llama's and Gemma's run to 8-12 KB).
_LONG_LICENSE = _APACHE + "".join(
    f"\n{n}. Section {n}. " + "Permission is granted subject to the conditions below. " * 2
    for n in range(1, 70)
)


# A vision encoder's tensors, embedded in a model GGUF (as gemma3 and llama4 ship them).
VISION_TENSORS = [
    {"name": "v.patch_embd.weight", "type": "F16", "shape": [14, 14, 3, 1152]},
    {"name": "v.position_embd.weight", "type": "F16", "shape": [1152, 4096]},
    {"name": "v.post_layernorm.weight", "type": "F32", "shape": [1152]},
]


@dataclass(frozen=True)
class Arch:
    """Transformer shapes, enough to list a real model's tensors and metadata."""

    vocab: int
    embed: int
    ffn: int
    blocks: int
    heads: int
    kv_heads: int
    context: int
    qkv_bias: bool = False
    tied: bool = False


@dataclass(frozen=True)
class Recipe:
    """The fixed part of an upstream model; versions vary the weights (and template)."""

    family: str
    arch: Arch
    quantization: str
    weights_size: int
    template: str
    params: dict[str, Any] = field(hash=False)
    license: str = ""

    @property
    def parameter_size(self) -> str:
        return human_number(header_for(self).parameter_count)


RECIPES: dict[str, Recipe] = {
    "qwq:latest": Recipe(
        "qwen2",
        Arch(152064, 5120, 27648, 64, 40, 8, 40960, qkv_bias=True),
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
        Arch(128256, 3072, 8192, 28, 24, 8, 131072, tied=True),
        "Q4_K_M",
        2019377376,
        _LLAMA_TEMPLATE,
        {"stop": ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]},
        "LLAMA 3.2 COMMUNITY LICENSE AGREEMENT\n"
        "Llama 3.2 Version Release Date: September 25, 2024\n",
    ),
    "llama3.2:3b-instruct-fp16": Recipe(
        "llama",
        Arch(128256, 3072, 8192, 28, 24, 8, 131072, tied=True),
        "F16",
        6433687776,
        _LLAMA_TEMPLATE,
        {"stop": ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]},
        "LLAMA 3.2 COMMUNITY LICENSE AGREEMENT\n",
    ),
    "qwen3:8b": Recipe(
        "qwen3",
        Arch(151936, 4096, 12288, 36, 32, 8, 40960),
        "Q4_K_M",
        5225373440,
        _QWEN_TEMPLATE,
        {"repeat_penalty": 1, "stop": ["<|im_start|>", "<|im_end|>"], "temperature": 0.6},
        _APACHE,
    ),
    "mistral:7b": Recipe(
        "llama",
        Arch(32768, 4096, 14336, 32, 32, 8, 32768),
        "Q4_0",
        4113289792,
        _MISTRAL_TEMPLATE,
        {"stop": ["[INST]", "[/INST]"]},
        _APACHE,
    ),
    "phi4:latest": Recipe(
        "phi3",
        Arch(100352, 5120, 17920, 40, 40, 10, 16384),
        "Q4_K_M",
        9053114566,
        _PHI_TEMPLATE,
        {"stop": ["<|im_start|>", "<|im_end|>", "<|im_sep|>"]},
        "Microsoft.\nMIT License\n",
    ),
}

_GENERIC = [
    ("llama", Arch(128256, 4096, 14336, 32, 32, 8, 131072), 4920734272),
    ("qwen2", Arch(152064, 3584, 18944, 28, 28, 4, 32768, qkv_bias=True), 4683073184),
    ("gemma3", Arch(262144, 2560, 10240, 34, 8, 4, 131072, tied=True), 3338792672),
]


def recipe_for(display: str) -> Recipe:
    """A known recipe, or a deterministic generic one so any name can be published."""
    if display in RECIPES:
        return RECIPES[display]
    pick = int(hashlib.sha256(display.encode()).hexdigest()[:8], 16)
    family, arch, weights = _GENERIC[pick % len(_GENERIC)]
    return Recipe(
        family,
        arch,
        "Q4_K_M",
        weights + pick % 4096,
        _GENERIC_TEMPLATE,
        {"stop": ["<|user|>"]},
        _LONG_LICENSE,
    )


def template_for(recipe: Recipe, version: int) -> str:
    """Even versions ship a revised template, as upstream fixes to chat formats do."""
    if version % 2:
        return recipe.template
    return recipe.template + f"{{{{- /* template revision {version} */ -}}}}"


def config_for(recipe: Recipe) -> dict[str, Any]:
    """The publisher's config blob, in Go's ConfigV2 field order."""
    return {
        "model_format": "gguf",
        "model_family": recipe.family,
        "model_families": [recipe.family],
        "model_type": recipe.parameter_size,
        "file_type": recipe.quantization,
        "architecture": "amd64",
        "os": "linux",
    }


_FILE_TYPE_IDS = {name: ident for ident, name in FILE_TYPES.items()}


def _tensors(arch: Arch, file_type: int) -> list[dict[str, Any]]:
    weight = {0: "F32", 1: "F16", 2: "Q4_0", 7: "Q8_0", 32: "BF16"}.get(file_type, "Q4_K")
    kv_dim = arch.embed // arch.heads * arch.kv_heads

    def t(name: str, *shape: int) -> dict[str, Any]:
        return {"name": name, "type": "F32" if len(shape) == 1 else weight, "shape": list(shape)}

    tensors = [t("token_embd.weight", arch.embed, arch.vocab)]
    for b in range(arch.blocks):
        p = f"blk.{b}."
        tensors += [
            t(p + "attn_norm.weight", arch.embed),
            t(p + "attn_q.weight", arch.embed, arch.embed),
            t(p + "attn_k.weight", arch.embed, kv_dim),
            t(p + "attn_v.weight", arch.embed, kv_dim),
            t(p + "attn_output.weight", arch.embed, arch.embed),
        ]
        if arch.qkv_bias:
            tensors += [
                t(p + "attn_q.bias", arch.embed),
                t(p + "attn_k.bias", kv_dim),
                t(p + "attn_v.bias", kv_dim),
            ]
        tensors += [
            t(p + "ffn_norm.weight", arch.embed),
            t(p + "ffn_gate.weight", arch.embed, arch.ffn),
            t(p + "ffn_up.weight", arch.embed, arch.ffn),
            t(p + "ffn_down.weight", arch.ffn, arch.embed),
        ]
    tensors.append(t("output_norm.weight", arch.embed))
    if not arch.tied:
        tensors.append(t("output.weight", arch.embed, arch.vocab))
    return tensors


def header_for(recipe: Recipe) -> GGUF:
    """The weights' GGUF header: built on first use, then shared by every model, version
    and recipe of the same architecture."""
    return _header(recipe.family, recipe.arch, recipe.quantization)


@functools.cache
def _header(family: str, arch: Arch, quantization: str) -> GGUF:
    file_type = _FILE_TYPE_IDS[quantization]
    tensors = _tensors(arch, file_type)
    count = 0
    for tensor in tensors:
        elements = 1
        for dim in tensor["shape"]:
            elements *= dim
        count += elements
    kv: dict[str, Any] = {
        "general.architecture": family,
        "general.file_type": file_type,
        "general.parameter_count": count,
        "general.quantization_version": 2,
        f"{family}.attention.head_count": arch.heads,
        f"{family}.attention.head_count_kv": arch.kv_heads,
        f"{family}.attention.layer_norm_rms_epsilon": 1e-06,
        f"{family}.block_count": arch.blocks,
        f"{family}.context_length": arch.context,
        f"{family}.embedding_length": arch.embed,
        f"{family}.feed_forward_length": arch.ffn,
        f"{family}.rope.freq_base": 1000000,
        "tokenizer.ggml.bos_token_id": 1,
        "tokenizer.ggml.eos_token_id": 2,
        "tokenizer.ggml.merges": [""] * 6,
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.pre": family,
        "tokenizer.ggml.token_type": [1] * 6,
        "tokenizer.ggml.tokens": [""] * 6,
    }
    return GGUF(kv, tensors)


@functools.cache
def adapter_header(recipe: Recipe) -> GGUF:
    """A rank-8 LoRA for the recipe's attention projections (general.type = adapter)."""
    arch, rank = recipe.arch, 8
    tensors = [
        {"name": f"blk.{b}.attn_{proj}.weight.lora_{ab}", "type": "F32", "shape": shape}
        for b in range(arch.blocks)
        for proj in ("q", "v")
        for ab, shape in (("a", [arch.embed, rank]), ("b", [rank, arch.embed]))
    ]
    kv: dict[str, Any] = {
        "general.architecture": recipe.family,
        "general.type": "adapter",
        "adapter.type": "lora",
        "adapter.lora.alpha": float(rank * 2),
    }
    return GGUF(kv, tensors)
