"""LoRA adapters on the serving side: which one a worker serves, verified, and applied.

llama.cpp (and ExLlama) apply an adapter to a whole context, not to one sequence: every
sequence decoded in a step goes through the same weights. A worker therefore serves ONE adapter
(or none) for its lifetime, chosen by ``inference.adapter``. Grouping batches by adapter inside
one worker would have to drain every running sequence before a switch — stalling continuous
batching and FLASH admission — and would make any cached prefix KV adapter-dependent; a
deployment that needs two adapters runs two workers (their requests name the adapter, and a
worker answers a request for another adapter ``failed``, as it does for another model).

An adapter carries a label (the highest of its training data). A request labelled below it is
refused: the adapter's weights were shaped by data its readers are not cleared for.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.v1 import LABEL_ORDER
from services.catalogue import AdapterSpec, ModelError, ModelSpec, load_registry
from services.inference.registry import verify_model

log = logging.getLogger("vigie.inference")


@dataclass(frozen=True)
class ServedAdapter:
    """The adapter a worker applies to every request, checked against its sha256."""

    name: str
    label: str
    path: Path
    scale: float
    sha256: str


class AdapterError(ModelError):
    """An adapter that cannot be served: unknown, of another model, not verified, or not
    loadable (not recoverable by retrying)."""


def registry_adapter(
    models_file: str | None, signing_key: str | None, name: str, model: ModelSpec
) -> AdapterSpec:
    """The registry's adapter ``name`` of ``model`` for llama.cpp; raises AdapterError."""
    registry = load_registry(Path(models_file) if models_file else None, signing_key)
    try:
        spec = registry.adapter(name)
    except ModelError as exc:
        raise AdapterError(name, "unknown adapter", exc.hint, reason="unknown") from None
    if spec.base != model.name:
        raise AdapterError(
            name,
            f"an adapter of {spec.base}, not of the served model {model.name}",
            "serve its base model or choose an adapter of this one (`vigie models`)",
        )
    return spec


def verify_adapter(spec: AdapterSpec, data_dir: Path) -> ServedAdapter:
    """The adapter's file, its sha256 checked against the registry's; raises AdapterError."""
    try:
        verified = verify_model(spec.weights(), data_dir, install=False)
    except ModelError as exc:
        problem = f"not verified: {exc.problem}"
        hint = (
            "the adapter's file does not match the registry's sha256: it is refused; "
            "re-run `vigie finetune` or restore the file"
            if exc.reason == "mismatch"
            else exc.hint
        )
        raise AdapterError(spec.name, problem, hint, reason=exc.reason) from None
    return ServedAdapter(spec.name, spec.label, verified.path, spec.scale, verified.sha256)


def refusal(adapter: ServedAdapter | None, asked: str | None, label: str) -> str | None:
    """Why a request for ``asked`` (None: whatever is served) at ``label`` is refused here."""
    served = adapter.name if adapter else None
    if asked is not None and asked != served:
        return (
            f"adapter {asked} is not served here (this worker serves "
            f"{served or 'the base weights'}): a worker serves one adapter, inference.adapter"
        )
    if adapter is not None and LABEL_ORDER[adapter.label] > LABEL_ORDER[label]:
        return (
            f"adapter {adapter.name} is labelled {adapter.label}, above the request's {label}: "
            "refused (its weights come from data the request's readers are not cleared for)"
        )
    return None


def load_lora(model: Any, adapter: ServedAdapter) -> Any:
    """Load ``adapter`` (a GGUF LoRA) for ``model``: before the context is created, as
    llama.cpp asks. Raises AdapterError."""
    import llama_cpp

    lora = llama_cpp.llama_adapter_lora_init(model, str(adapter.path).encode())
    if not lora:
        raise AdapterError(
            adapter.name,
            f"llama.cpp could not load {adapter.path} as a LoRA of this model",
            "it must be a GGUF LoRA written for the served model (`vigie finetune`)",
        )
    return lora


def apply_lora(ctx: Any, lora: Any, adapter: ServedAdapter) -> None:
    """Set the loaded adapter on the whole context (every sequence it decodes)."""
    import ctypes

    import llama_cpp

    loras = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(lora)
    scales = (ctypes.c_float * 1)(adapter.scale)
    if llama_cpp.llama_set_adapters_lora(ctx, loras, 1, scales) != 0:
        raise AdapterError(adapter.name, "llama.cpp refused to apply it", "check the adapter")
    log.info("adapter %s (label %s, scale %g) applied", adapter.name, adapter.label, adapter.scale)


def free_lora(lora: Any) -> None:
    import llama_cpp

    if lora:
        llama_cpp.llama_adapter_lora_free(lora)
