"""The base model of a fine-tune, from its registry entry: a GGUF file dequantised to float32
(transformers reads GGUF tensors with the ``gguf`` package), or an HF directory as it is.

Local files only: the tokenizer and the configuration come from the weights themselves (the
GGUF's metadata, or the directory's own files); nothing is fetched from a hub.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.catalogue import ModelError, ModelSpec


@dataclass
class Base:
    model: Any
    tokenizer: Any
    #: The GGUF architecture name (``gemma3``), for the GGUF LoRA's metadata and tensor names.
    arch: str
    n_layers: int


def load_base(spec: ModelSpec, path: Path, threads: int | None = None) -> Base:
    """The registry model ``spec`` (its verified ``path``) as a float32 torch model."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(threads or os.cpu_count() or 1)
    if spec.format == "gguf":
        folder, name = str(path.parent), path.name
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
        arch = gguf_arch(path)
    elif spec.format == "hf":
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            str(path), dtype=torch.float32, local_files_only=True
        )
        arch = str(model.config.model_type)
    else:
        raise ModelError(
            spec.name,
            f"cannot fine-tune a {spec.format} model",
            "fine-tune its GGUF or HF original (register it) and quantise after",
        )
    # Fine-tuning reads weights in float32 and dropout-free: ``train()`` would only enable
    # dropout the model config may carry, and gradients flow through the adapter alone.
    model.config.use_cache = False
    text = getattr(model.config, "text_config", model.config)
    return Base(model, tokenizer, arch, int(text.num_hidden_layers))


def gguf_arch(path: Path) -> str:
    from gguf import GGUFReader

    field = GGUFReader(path).fields["general.architecture"]
    return str(field.contents())
