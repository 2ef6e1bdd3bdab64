"""A PEFT LoRA written as a GGUF LoRA adapter for llama.cpp, from the base model's own names.

llama.cpp reads an adapter GGUF of ``general.type = adapter``, ``adapter.type = lora``, its
``adapter.lora.alpha``, and for each adapted weight ``<weight>.lora_a`` (rank × in) and
``<weight>.lora_b`` (out × rank), ``<weight>`` being the base GGUF's tensor name. The names come
from the ``gguf`` package's own map of HF names to GGUF names for the architecture: no
converter script, no hub, only the base model's architecture and block count.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

#: ``…layers.3.self_attn.q_proj.lora_A.weight`` → (``model.layers.3.self_attn.q_proj``, ``A``).
_LORA_NAME = re.compile(
    r"^(?:base_model\.model\.)?(?P<module>.+)\.lora_(?P<ab>[AB])(?:\.\w+)?\.weight$"
)


def gguf_lora_tensors(state: dict[str, Any], arch: str, n_layers: int) -> dict[str, np.ndarray]:
    """GGUF tensor name → float32 array, for a PEFT adapter ``state`` dict."""
    import gguf

    arch_id = next(a for a, name in gguf.MODEL_ARCH_NAMES.items() if name == arch)
    names = gguf.get_tensor_name_map(arch_id, n_layers)
    out: dict[str, np.ndarray] = {}
    for key, tensor in state.items():
        m = _LORA_NAME.match(key)
        if m is None:
            raise ValueError(f"not a LoRA weight: {key}")
        module = m["module"]
        if not module.startswith("model."):
            module = "model." + module.split("model.", 1)[-1]
        base = names.get_name(module)
        if base is None:
            raise ValueError(f"no {arch} GGUF tensor for {module}")
        suffix = "lora_a" if m["ab"] == "A" else "lora_b"
        out[f"{base}.weight.{suffix}"] = tensor.detach().float().cpu().numpy()
    return out


def write_gguf_lora(
    path: Path, state: dict[str, Any], *, arch: str, n_layers: int, alpha: float
) -> Path:
    """Write ``state`` (PEFT) to ``path`` as a GGUF LoRA of an ``arch`` base."""
    from gguf import GGUFWriter

    tensors = gguf_lora_tensors(state, arch, n_layers)
    tmp = path.with_name(path.name + ".part")
    writer = GGUFWriter(tmp, arch)
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(alpha))
    for name in sorted(tensors):
        writer.add_tensor(name, tensors[name])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(path)
    return path
