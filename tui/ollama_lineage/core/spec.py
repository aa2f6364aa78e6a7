"""What a model carries, read once from ``/api/show``: everything a rebuild must reproduce.

A real show is tens of kilobytes (every tensor, the license, model_info); the app keeps only
this. TEMPLATE, SYSTEM, ADAPTER and LICENSE come from the show's ``modelfile`` text, not its
fields: ``template`` can be the GGUF's Jinja template and ``license`` joins every license layer
into one string, so only the Modelfile tells the child's own license from the base's.

Licenses, templates and systems are interned: a fleet of a thousand models shares a few, and
holding its specs then costs a kilobyte a model, not ten.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from .modelfile import Message, ModelfileError, ParamValue, commands, parse_show_parameters

# The digest at the end of a blob path; the path itself may hold spaces (/Volumes/My Drive/…).
_BLOB_DIGEST = re.compile(r"sha256[-:]([0-9a-f]{64})\s*$")


@dataclass(frozen=True)
class ModelSpec:
    """One manifest's content as the app uses it; equal specs build equal models."""

    weights: str | None = None
    adapters: tuple[str, ...] = ()
    template: str | None = None
    system: str | None = None
    parameters: Mapping[str, ParamValue] = field(default_factory=dict)
    licenses: tuple[str, ...] = ()
    messages: tuple[Message, ...] = ()
    renderer: str | None = None
    parser: str | None = None
    requires: str | None = None
    quantization: str = ""
    parent_model: str = ""
    capabilities: tuple[str, ...] = ()
    # Tensor names and shapes, hashed (only when asked for): the same model in another
    # quantization keeps them.
    shape: str = ""

    def to_json(self) -> dict[str, Any]:
        """By hand: dataclasses.asdict deep-copies every field of every spec."""
        data = {f: getattr(self, f) for f in _FIELDS}
        data["parameters"] = dict(self.parameters)
        data["messages"] = [[m.role, m.content] for m in self.messages]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelSpec:
        return cls(
            weights=data.get("weights"),
            adapters=tuple(data.get("adapters") or ()),
            template=data.get("template"),
            system=data.get("system"),
            parameters=dict(data.get("parameters") or {}),
            licenses=tuple(data.get("licenses") or ()),
            messages=tuple(Message(role, content) for role, content in data.get("messages") or ()),
            renderer=data.get("renderer"),
            parser=data.get("parser"),
            requires=data.get("requires"),
            quantization=str(data.get("quantization") or ""),
            parent_model=str(data.get("parent_model") or ""),
            capabilities=tuple(data.get("capabilities") or ()),
            shape=str(data.get("shape") or ""),
        )


_FIELDS = tuple(f.name for f in fields(ModelSpec))


def blob_digest(path: str) -> str | None:
    """The hex digest a FROM or ADAPTER blob path ends with, spaces in the path or not."""
    found = _BLOB_DIGEST.search(path)
    return found.group(1) if found else None


def parse_show(show: Mapping[str, Any], *, with_shape: bool = False) -> ModelSpec:
    """Reduce one ``/api/show`` answer to a ModelSpec; never raises on the server's output.

    The tensor outline costs as much as the rest of the parse, and only adopting a model
    needs it: it is read on request.
    """
    details = show.get("details") if isinstance(show.get("details"), Mapping) else {}
    assert isinstance(details, Mapping)
    from_modelfile = _read_modelfile(str(show.get("modelfile") or ""))
    template = from_modelfile.get("template")
    system = from_modelfile.get("system")
    licenses = from_modelfile.get("licenses")
    if from_modelfile.get("broken"):  # a value Ollama quoted ambiguously: trust the fields
        template = str(show.get("template") or "") or None
        system = str(show.get("system") or "") or None
        licenses = _license_field(show.get("license"))
    return ModelSpec(
        weights=from_modelfile.get("weights"),
        adapters=tuple(from_modelfile.get("adapters") or ()),
        template=template,
        system=system,
        parameters=parse_show_parameters(str(show.get("parameters") or "")),
        licenses=tuple(licenses or ()),
        messages=tuple(
            Message(str(m.get("role", "")), str(m.get("content", "")))
            for m in show.get("messages") or ()
            if isinstance(m, Mapping)
        ),
        renderer=from_modelfile.get("renderer"),
        parser=from_modelfile.get("parser"),
        requires=str(show.get("requires") or "") or None,
        quantization=_quantization(details.get("quantization_level")),
        parent_model=str(details.get("parent_model") or ""),
        capabilities=tuple(str(c) for c in show.get("capabilities") or ()),
        shape=_shape(show.get("tensors")) if with_shape else "",
    )


def _read_modelfile(text: str) -> dict[str, Any]:
    found: dict[str, Any] = {"adapters": [], "licenses": []}
    try:
        for command in commands(text):
            name, value = command.name, command.value
            if name == "from":
                found.setdefault("weights", blob_digest(value))  # later FROMs: projectors
            elif name == "adapter":
                digest = blob_digest(value)
                found["adapters"].append(f"sha256:{digest}" if digest else value)
            elif name == "license":
                found["licenses"].append(sys.intern(value))
            elif name in ("template", "system"):
                found[name] = sys.intern(value)
            elif name in ("renderer", "parser"):
                found[name] = value
    except ModelfileError:
        found["broken"] = True
    if found.get("template") == "":
        found["template"] = None
    return found


def _quantization(value: Any) -> str:
    """Ollama says ``unknown`` for some full-precision files (tags says F32 for the same)."""
    text = str(value or "")
    return "" if text.lower() == "unknown" else text


def _license_field(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value or () if v]


def _shape(tensors: Any) -> str:
    if not isinstance(tensors, list) or not tensors:
        return ""
    outline = [(t.get("name"), t.get("shape")) for t in tensors if isinstance(t, Mapping)]
    return hashlib.sha256(repr(outline).encode()).hexdigest()[:16]
