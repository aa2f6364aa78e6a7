"""Tiny GGUF files made by code, so a real Ollama can create, show and run models in CI-sized time.

A llama-architecture model of a few kilobytes: random weights, a tiny vocabulary, two blocks.
`seed` gives another version of the same model (the "update" of a base); `f16=True` gives one
to quantize (rows of 32, as q8_0 needs); `write_lora` an adapter for it. Byte tokens cover
ASCII only: the tokenizer needs them for `<|user|>`, and random weights picking a byte above
0x7F would stream text that is not UTF-8, which llama-server answers with a 500.
"""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np

EMBED = 32
FFN = 64
BLOCKS = 2
HEADS = 2
BYTES = [f"<0x{b:02X}>" for b in range(0x80)]
VOCAB = ["<unk>", "<s>", "</s>", *BYTES, *(chr(c) for c in range(0x61, 0x61 + 26)), "▁"]
BOS, EOS = 1, 2


def _tensor_shapes() -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {
        "token_embd.weight": (len(VOCAB), EMBED),
        "output_norm.weight": (EMBED,),
        "output.weight": (len(VOCAB), EMBED),
    }
    for b in range(BLOCKS):
        shapes |= {
            f"blk.{b}.attn_norm.weight": (EMBED,),
            f"blk.{b}.attn_q.weight": (EMBED, EMBED),
            f"blk.{b}.attn_k.weight": (EMBED, EMBED),
            f"blk.{b}.attn_v.weight": (EMBED, EMBED),
            f"blk.{b}.attn_output.weight": (EMBED, EMBED),
            f"blk.{b}.ffn_norm.weight": (EMBED,),
            f"blk.{b}.ffn_gate.weight": (FFN, EMBED),
            f"blk.{b}.ffn_up.weight": (FFN, EMBED),
            f"blk.{b}.ffn_down.weight": (EMBED, FFN),
        }
    return shapes


def _vocab(writer: gguf.GGUFWriter) -> None:
    writer.add_tokenizer_model("llama")
    writer.add_token_list(VOCAB)
    writer.add_token_scores([0.0] * len(VOCAB))
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    types += [gguf.TokenType.BYTE] * len(BYTES)
    types += [gguf.TokenType.NORMAL] * (len(VOCAB) - len(types))
    writer.add_token_types(types)
    writer.add_bos_token_id(BOS)
    writer.add_eos_token_id(EOS)


def write_model(path: Path, *, seed: int = 1, f16: bool = False, name: str = "tiny") -> Path:
    """A llama model; another `seed` is another version with the same shape."""
    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(name)
    writer.add_context_length(256)
    writer.add_embedding_length(EMBED)
    writer.add_block_count(BLOCKS)
    writer.add_feed_forward_length(FFN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(HEADS)
    writer.add_rope_dimension_count(EMBED // HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if f16 else gguf.LlamaFileType.ALL_F32)
    _vocab(writer)
    dtype = np.float16 if f16 else np.float32
    for tensor, shape in _tensor_shapes().items():
        data = rng.standard_normal(shape) * 0.02
        if tensor.endswith("norm.weight"):
            data = np.ones(shape)
        # Norms stay F32, as real F16 GGUFs keep 1-D tensors in full precision.
        writer.add_tensor(tensor, data.astype(np.float32 if len(shape) == 1 else dtype))
    _finish(writer)
    return path


def write_lora(path: Path, *, seed: int = 7, rank: int = 4) -> Path:
    """A LoRA adapter for `write_model`'s attention projections."""
    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(rank))
    for b in range(BLOCKS):
        for proj in ("attn_q", "attn_v"):
            a = rng.standard_normal((rank, EMBED)) * 0.01
            writer.add_tensor(f"blk.{b}.{proj}.weight.lora_a", a.astype(np.float32))
            writer.add_tensor(f"blk.{b}.{proj}.weight.lora_b", np.zeros((EMBED, rank), np.float32))
    _finish(writer)
    return path


def _finish(writer: gguf.GGUFWriter) -> None:
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
