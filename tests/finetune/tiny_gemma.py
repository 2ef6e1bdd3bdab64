"""A tiny random-weight Gemma-3 GGUF, written in the test: the shipped model's tokenizer and
metadata, its dimensions shrunk (2 blocks, width 64), every weight random.

llama.cpp serves it and transformers reads it like the real one, so a fine-tune of it goes
through every step a real one does — in seconds, not minutes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from gguf import GGUFReader, GGUFValueType, GGUFWriter

ARCH = "gemma3"
DIMS = {
    f"{ARCH}.embedding_length": 64,
    f"{ARCH}.block_count": 2,
    f"{ARCH}.feed_forward_length": 128,
    f"{ARCH}.attention.head_count": 2,
    f"{ARCH}.attention.head_count_kv": 1,
    f"{ARCH}.attention.key_length": 32,
    f"{ARCH}.attention.value_length": 32,
    f"{ARCH}.context_length": 2048,
    f"{ARCH}.attention.sliding_window": 64,
}
SKIP = {"general.file_type", "general.quantization_version", "general.size_label", "general.name"}


def write_tiny_gemma(source: Path, out: Path, seed: int = 0) -> Path:
    """``out``: a random Gemma-3 with ``source``'s tokenizer and metadata (shrunk)."""
    reader = GGUFReader(source)
    writer = GGUFWriter(out, ARCH)
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture" or key in SKIP:
            continue
        if key in DIMS:
            writer.add_uint32(key, DIMS[key])
            continue
        kind = field.types[0]
        value = field.contents()
        if kind == GGUFValueType.ARRAY:
            writer.add_key_value(key, value, kind, sub_type=field.types[-1])
        else:
            writer.add_key_value(key, value, kind)
    writer.add_string("general.name", "tiny random gemma3 (tests)")
    rng = np.random.default_rng(seed)
    d, ff, layers = DIMS[f"{ARCH}.embedding_length"], DIMS[f"{ARCH}.feed_forward_length"], 2
    heads, kv, hd = 2, 1, 32
    vocab = len(reader.fields["tokenizer.ggml.tokens"].data)

    def w(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.1).astype(np.float32)

    def norm(n: int) -> np.ndarray:
        return np.ones(n, dtype=np.float32)

    # numpy shapes are (rows, columns): a weight of ggml shape [in, out] is (out, in) here.
    writer.add_tensor("token_embd.weight", w(vocab, d).astype(np.float16))
    writer.add_tensor("output_norm.weight", norm(d))
    for i in range(layers):
        b = f"blk.{i}"
        tensors = {
            "attn_norm": norm(d),
            "attn_q": w(heads * hd, d),
            "attn_k": w(kv * hd, d),
            "attn_v": w(kv * hd, d),
            "attn_q_norm": norm(hd),
            "attn_k_norm": norm(hd),
            "attn_output": w(d, heads * hd),
            "post_attention_norm": norm(d),
            "ffn_norm": norm(d),
            "ffn_gate": w(ff, d),
            "ffn_up": w(ff, d),
            "ffn_down": w(d, ff),
            "post_ffw_norm": norm(d),
        }
        for name, data in tensors.items():
            writer.add_tensor(f"{b}.{name}.weight", data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out
