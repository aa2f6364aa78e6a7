"""GGUF headers: read the metadata and tensor infos Ollama shows, write headers to match.

Ollama reads the model file for show's `model_info`, `tensors` and `capabilities` and for a
created model's details, so the stand-in reads uploaded files the same way (fs/ggml). The
writer makes header-only files: the stand-in's published weights and quantized layers
need metadata and tensor infos, never tensor data.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass, field
from typing import Any

from .gofmt import go_json

MAGIC = b"GGUF"
_SCALARS = {  # GGUF value type -> struct format
    0: "B",
    1: "b",
    2: "H",
    3: "h",
    4: "I",
    5: "i",
    6: "f",
    7: "?",
    10: "Q",
    11: "q",
    12: "d",
}
_STRING, _ARRAY = 8, 9
# ggml tensor types (TensorType.String in fs/ggml/type.go) by id
TENSOR_TYPES = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    6: "Q5_0",
    7: "Q5_1",
    8: "Q8_0",
    9: "Q8_1",
    10: "Q2_K",
    11: "Q3_K",
    12: "Q4_K",
    13: "Q5_K",
    14: "Q6_K",
    15: "Q8_K",
    30: "BF16",
}
# llama_ftype names (FileType.String); id 0 is F32 but KV().FileType() treats 0 as unknown
FILE_TYPES = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    32: "BF16",
}
# what ParseFileType accepts for `quantize`, and the tensor type 2-D weights get
QUANTIZE = {"F32": 0, "F16": 1, "Q8_0": 7, "Q4_K_S": 14, "Q4_K_M": 15, "Q4_K": 15, "BF16": 32}
_QUANT_TENSOR = {7: 8, 14: 12, 15: 12, 1: 1, 0: 0, 32: 30}
_FLOAT_TYPES = ("F32", "F16", "BF16")
BITS = {0: 32, 1: 16, 32: 16, 7: 8.5, 14: 4.6, 15: 4.85}


class GGUFError(ValueError):
    """Not a GGUF file, or a truncated one."""


@dataclass
class GGUF:
    """The header of a GGUF file: metadata in file order and tensor infos."""

    kv: dict[str, Any]
    tensors: list[dict[str, Any]] = field(default_factory=list)

    @functools.cached_property
    def tensors_json(self) -> str:
        """Encoded once: fleet models share a header, and the list is most of a show."""
        return go_json(self.tensors)

    @property
    def architecture(self) -> str:
        return str(self.kv.get("general.architecture", ""))

    @property
    def parameter_count(self) -> int:
        return int(self.kv.get("general.parameter_count", 0))

    @property
    def file_type(self) -> str:
        """KV().FileType().String(): id 0 (F32) reads as "unknown", as in Ollama."""
        ft = int(self.kv.get("general.file_type", 0))
        return FILE_TYPES.get(ft, "unknown") if ft > 0 else "unknown"

    def listed(self) -> tuple[str, int, int]:
        """readModelListGGUF, the tags route's quick scan: file type (id 0 names "F32"),
        context and embedding length, read in file order up to the first tokenizer key."""
        arch, file_type, context, embedding = "", "", 0, 0
        for key, value in self.kv.items():
            if key == "general.architecture":
                arch = str(value)
            elif key == "general.file_type":
                file_type = FILE_TYPES.get(int(value), "unknown")
            elif arch and key.startswith("tokenizer."):
                break
            elif key == f"{arch}.context_length":
                context = int(value)
            elif key == f"{arch}.embedding_length":
                embedding = int(value)
        return file_type, context, embedding

    @property
    def is_adapter(self) -> bool:
        return self.kv.get("general.type") == "adapter"

    @property
    def chat_template(self) -> str:
        return str(self.kv.get("tokenizer.chat_template", ""))

    def arch_value(self, key: str) -> Any:
        return self.kv.get(f"{self.architecture}.{key}")

    def model_info(self, verbose: bool) -> dict[str, Any]:
        """show's model_info: non-verbose shows leave every non-empty array unread (null)."""
        info = {}
        for key, value in self.kv.items():
            if key in ("general.name", "tokenizer.chat_template"):
                continue
            info[key] = None if isinstance(value, list) and value and not verbose else value
        return dict(sorted(info.items()))


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, fmt: str) -> Any:
        size = struct.calcsize("<" + fmt)
        if self.at + size > len(self.data):
            raise GGUFError("unexpected EOF")
        (value,) = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += size
        return value

    def string(self) -> str:
        length = self.take("Q")
        if self.at + length > len(self.data):
            raise GGUFError("unexpected EOF")
        text = self.data[self.at : self.at + length].decode("utf-8", "replace")
        self.at += length
        return text

    def value(self, kind: int) -> Any:
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item_kind, count = self.take("I"), self.take("Q")
            return [self.value(item_kind) for _ in range(count)]
        if kind not in _SCALARS:
            raise GGUFError(f"invalid type: {kind}")
        value = self.take(_SCALARS[kind])
        return _float32(value) if kind == 6 else value


def _float32(value: float) -> float:
    """The shortest decimal that round-trips as float32, as Go's JSON prints a float32."""
    for digits in range(1, 10):
        short = float(f"{value:.{digits}g}")
        if struct.pack("<f", short) == struct.pack("<f", value):
            return short
    return value


def read(data: bytes) -> GGUF:
    """Decode the header (version 2 or 3, little-endian), as ggml.Decode does."""
    r = _Reader(data)
    if data[:4] != MAGIC:
        raise GGUFError("invalid file magic")
    r.at = 4
    if r.take("I") not in (2, 3):
        raise GGUFError("unsupported GGUF version")
    n_tensors, n_kv = r.take("Q"), r.take("Q")
    kv: dict[str, Any] = {}
    for _ in range(n_kv):
        key = r.string()
        kv[key] = r.value(r.take("I"))
    tensors = []
    count = 0
    for _ in range(n_tensors):
        name = r.string()
        dims = [r.take("Q") for _ in range(r.take("I"))]
        kind = r.take("I")
        r.take("Q")  # offset
        tensors.append({"name": name, "type": TENSOR_TYPES.get(kind, str(kind)), "shape": dims})
        elements = 1
        for dim in dims:
            elements *= dim
        count += elements
    kv["general.parameter_count"] = count
    return GGUF(kv, tensors)


def _encode_value(value: Any) -> tuple[int, bytes]:
    if isinstance(value, bool):
        return 7, struct.pack("<?", value)
    if isinstance(value, int):
        return (
            (4, struct.pack("<I", value))
            if 0 <= value < 1 << 32
            else (11, struct.pack("<q", value))
        )
    if isinstance(value, float):
        return 6, struct.pack("<f", value)
    if isinstance(value, str):
        raw = value.encode()
        return _STRING, struct.pack("<Q", len(raw)) + raw
    items = [_encode_value(item) for item in value]
    kind = items[0][0] if items else _STRING
    return _ARRAY, struct.pack("<IQ", kind, len(items)) + b"".join(part for _, part in items)


def write(kv: dict[str, Any], tensors: list[dict[str, Any]]) -> bytes:
    """A header-only GGUF v3 (no tensor data): enough for every reader in the stand-in."""
    out = [MAGIC, struct.pack("<IQQ", 3, len(tensors), len(kv))]
    for key, value in kv.items():
        kind, payload = _encode_value(value)
        raw = key.encode()
        out.append(struct.pack("<Q", len(raw)) + raw + struct.pack("<I", kind) + payload)
    kinds = {name: kind for kind, name in TENSOR_TYPES.items()}
    for tensor in tensors:
        raw = tensor["name"].encode()
        dims = tensor["shape"]
        out.append(
            struct.pack("<Q", len(raw)) + raw + struct.pack(f"<I{len(dims)}Q", len(dims), *dims)
        )
        out.append(struct.pack("<IQ", kinds[tensor["type"]], 0))
    return b"".join(out)


def _llama_cpp_order(tensor: dict[str, Any]) -> tuple[int, str]:
    """llama.cpp writes tensors by name, the ones outside blocks first, blocks by number."""
    name = tensor["name"]
    if name.startswith("blk."):
        number, _, rest = name[4:].partition(".")
        return int(number) if number.isdigit() else 0, rest
    return -1, name


def rewritten(header: GGUF, file_type: int | None = None) -> GGUF:
    """The header llama-quantize writes (a copy when `file_type` is None): tensors in its
    order, 2-D weights in the new type, and the file type and quantization version moved
    to the end of the metadata."""
    tensors = sorted(header.tensors, key=_llama_cpp_order)
    if file_type is None:
        file_type = int(header.kv.get("general.file_type", 0))
    else:
        kind = TENSOR_TYPES[_QUANT_TENSOR[file_type]]
        tensors = [
            {**t, "type": kind} if len(t["shape"]) > 1 and t["type"] in _FLOAT_TYPES else t
            for t in tensors
        ]
    skip = ("general.parameter_count", "general.file_type", "general.quantization_version")
    kv = {k: v for k, v in header.kv.items() if k not in skip}
    kv |= {"general.quantization_version": 2, "general.file_type": file_type}
    return GGUF(kv, tensors)


def is_quantize_output(header: GGUF) -> bool:
    """A file llama-quantize wrote already (its metadata and tensor order): its copy of such
    a file is the same bytes, as a real 0.33 showed for a layer sent to another server."""
    again = rewritten(header)
    skip = "general.parameter_count"  # counted when read, not where the file has it
    return [k for k in header.kv if k != skip] == [k for k in again.kv if k != skip] and [
        t["name"] for t in header.tensors
    ] == [t["name"] for t in again.tensors]


def has_compat_tensors(header: GGUF) -> bool:
    """Tensors Ollama patches in for vision/audio/MTP: such files skip llama-quantize."""
    return any(t["name"].startswith(("a.", "mm.", "mtp.", "s.", "v.")) for t in header.tensors)


def human_number(count: int) -> str:
    """format.HumanNumber: 6240 -> "6K", 3_212_749_888 -> "3.2B"."""
    for unit, scale, decimals in (("B", 1e9, 1), ("M", 1e6, 2)):
        if count >= scale:
            number = count / scale
            return f"{number:.0f}{unit}" if number.is_integer() else f"{number:.{decimals}f}{unit}"
    if count >= 1000:
        return f"{count / 1000:.0f}K"
    return str(count)
