"""Read a stored manifest back the way Ollama's GetModel, ShowHandler and tags present it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .gguf import GGUF
from .gofmt import go_value
from .media import ADAPTER, LICENSE, MESSAGES, MODEL, PARAMS, SYSTEM, TEMPLATE

DEFAULT_TEMPLATE = "{{ .Prompt }}"
# parsers (model/parsers) that report tool or thinking support
_NO_TOOL_PARSERS = {"passthrough", "olmo3-think"}
_THINKING_PARSERS = {
    "qwen3",
    "qwen3-thinking",
    "qwen3-vl-thinking",
    "deepseek3",
    "gemma4",
    "olmo3-think",
    "lfm2-thinking",
    "harmony",
}


@dataclass
class ModelView:
    """The parts of a manifest that show, tags and generate need, decoded once."""

    weights: str = ""
    parent: str = ""
    template: str = DEFAULT_TEMPLATE
    system: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    licenses: list[str] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    adapters: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    header: GGUF | None = None
    has_go_template: bool = False

    @property
    def renderer(self) -> str:
        return str(self.config.get("renderer", ""))

    @property
    def parser(self) -> str:
        return str(self.config.get("parser", ""))


def read_model(
    manifest: dict[str, Any],
    blob: Callable[[str], bytes],
    header: Callable[[str], GGUF | None],
) -> ModelView:
    view = ModelView(config=json.loads(blob(manifest["config"]["digest"])))
    for layer in manifest["layers"]:
        kind, digest = layer["mediaType"], layer["digest"]
        if kind == MODEL:
            view.weights, view.parent = digest, layer.get("from", "")
            view.header = header(digest)
        elif kind == ADAPTER:
            view.adapters.append(digest)
        elif kind == TEMPLATE:
            view.template = blob(digest).decode()
            view.has_go_template = True
        elif kind == SYSTEM:
            view.system = blob(digest).decode()
        elif kind == PARAMS:
            view.params.update(json.loads(blob(digest)))
        elif kind == LICENSE:
            view.licenses.append(blob(digest).decode())
        elif kind == MESSAGES:
            view.messages.extend(json.loads(blob(digest)))
    return view


def details(view: ModelView, parent_model: str) -> dict[str, Any]:
    """show's details: the config's; an unknown file type is looked up in the GGUF."""
    config = view.config
    quantization = config.get("file_type", "")
    if quantization in ("", "unknown") and view.header is not None:
        quantization = view.header.file_type
    return {
        "parent_model": parent_model,
        "format": config.get("model_format", ""),
        "family": config.get("model_family", ""),
        "families": config.get("model_families"),
        "parameter_size": config.get("model_type", ""),
        "quantization_level": quantization,
    }


def listed_details(view: ModelView, parent_model: str) -> dict[str, Any]:
    """The tags route's details: its own GGUF scan names F32 and adds the lengths."""
    config = view.config
    out = details(view, parent_model)
    out["quantization_level"] = config.get("file_type", "")
    file_type, context, embedding = view.header.listed() if view.header else ("", 0, 0)
    if out["quantization_level"] in ("", "unknown") and file_type not in ("", "unknown"):
        out["quantization_level"] = file_type
    context = config.get("context_length") or context
    embedding = config.get("embedding_length") or embedding
    if context:
        out["context_length"] = context
    if embedding:
        out["embedding_length"] = embedding
    return out


def native_chat_template(view: ModelView) -> str:
    """selectedModelTemplate: the GGUF's Jinja template when the model runs in native chat
    mode: no renderer or parser, and no Go TEMPLATE, or one that cannot replay tool calls
    while the Jinja one can (shouldPreferChatTemplate)."""
    header = view.header
    if header is None or not header.chat_template or view.renderer or view.parser:
        return ""
    jinja, go = header.chat_template, view.template
    prefer = "tool_calls" in jinja and ".Tools" in go and ".ToolCalls" not in go
    return jinja if prefer or not view.has_go_template else ""


def quote(value: str) -> str:
    """parser.quote(): only values with a newline or edge spaces get quoted."""
    if "\n" in value or value.startswith(" ") or value.endswith(" "):
        return f'"""{value}"""' if '"' in value else f'"{value}"'
    return value


def _items(params: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(k, item) for k, v in params.items() for item in (v if isinstance(v, list) else [v])]


def modelfile(short_name: str, view: ModelView, models_dir: str) -> str:
    """Model.String() under the "# FROM <own name>" header; FROM is never quoted."""

    def path(digest: str) -> str:
        return f"{models_dir}/blobs/{digest.replace(':', '-')}"

    lines = [
        '# Modelfile generated by "ollama show"',
        "# To build a new Modelfile based on this, replace FROM with:",
        f"# FROM {short_name}",
        "",
        f"FROM {path(view.weights)}",
        *(f"ADAPTER {quote(path(digest))}" for digest in view.adapters),
        f"TEMPLATE {quote(view.template)}",
    ]
    if view.system:
        lines.append(f"SYSTEM {quote(view.system)}")
    if view.renderer:
        lines.append(f"RENDERER {quote(view.renderer)}")
    if view.parser:
        lines.append(f"PARSER {quote(view.parser)}")
    lines += [f"PARAMETER {k} {quote(go_value(v, sharp=False))}" for k, v in _items(view.params)]
    lines += [f"LICENSE {quote(text)}" for text in view.licenses]
    lines += [f"MESSAGE {m['role']} {quote(m['content'])}" for m in view.messages]
    return "\n".join(lines) + "\n"


def parameters(view: ModelView) -> str:
    return "\n".join(f"{k:<30} {go_value(v, sharp=True)}" for k, v in _items(view.params))


def capabilities(view: ModelView) -> list[str]:
    """Model.Capabilities for the common cases: GGUF kind, template variables, parser."""
    header = view.header
    caps = list(view.config.get("capabilities") or [])

    def add(cap: str) -> None:
        if cap not in caps:
            caps.append(cap)

    jinja = native_chat_template(view)
    if "tools" in jinja:
        add("tools")
    if header is not None and header.arch_value("pooling_type") is not None:
        add("embedding")
    else:
        add("completion")
    if header is not None and header.arch_value("vision.block_count") is not None:
        add("vision")
    if ".Tools" in view.template:
        add("tools")
    if ".Suffix" in view.template:
        add("insert")
    if "<think>" in view.template or "<think>" in jinja:
        add("thinking")
    if view.parser and view.parser not in _NO_TOOL_PARSERS:
        add("tools")
    if view.parser in _THINKING_PARSERS:
        add("thinking")
    return caps
