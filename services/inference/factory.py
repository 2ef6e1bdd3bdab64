"""Open the configured engine: registry entry → verified weights → backend on its own thread."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import anyio.to_thread

from services.catalogue import ModelError, ModelSpec, served_spec
from services.config.schema import Config, InferenceConfig
from services.inference.adapters import (
    AdapterError,
    ServedAdapter,
    registry_adapter,
    verify_adapter,
)
from services.inference.engine import Engine
from services.inference.registry import verify_model
from services.inference.runner import RunnerSettings, ThreadedEngine
from services.inference.scheduler import SchedulerSettings

log = logging.getLogger("vigie.inference")


def scheduler_settings(inf: InferenceConfig) -> SchedulerSettings:
    # The reserve comes on top of max_sequences: the KV cache is sized for both.
    return SchedulerSettings(
        max_sequences=inf.max_sequences,
        kv_tokens=inf.sequence_tokens * (inf.max_sequences + inf.reserved_sequences),
        reserved_sequences=inf.reserved_sequences,
    )


async def open_engine(cfg: Config) -> Engine:
    """Verify the registry's signature (when a key is configured) and the served model's
    checksum (cached while the file is unchanged), load it."""
    inf = cfg.inference
    if inf.engine == "stand-in":
        from services.inference.standin import StandInEngine

        log.warning("inference.engine = stand-in: every answer is a placeholder, no model runs")
        return StandInEngine()
    spec = served_spec(inf.models_file, inf.model, inf.models_signing_key)
    if inf.engine == "exllamav2":
        return await open_exllama_engine(cfg, spec)
    if spec.format != "gguf":
        raise ModelError(
            spec.name,
            f"llama.cpp serves GGUF files, this model is {spec.format}",
            "choose a GGUF model (inference.model) or the exllamav2 engine",
        )
    verified = await anyio.to_thread.run_sync(verify_model, spec, Path(cfg.nats.data_dir))
    adapter = await anyio.to_thread.run_sync(served_adapter, cfg, spec)
    from services.inference.llama import INVARIANT_DECODE_GROUP, LlamaCore, LlamaSettings

    scheduler = scheduler_settings(inf)
    settings = LlamaSettings(
        model_path=verified.path,
        model_name=spec.name,
        sequence_tokens=inf.sequence_tokens,
        max_sequences=scheduler.total_sequences,
        threads=inf.threads or os.cpu_count() or 1,
        batch_tokens=inf.batch_tokens,
        chat_template=spec.chat_template,
        context_length=spec.context_length,
        decode_group=INVARIANT_DECODE_GROUP if inf.batch_invariant else None,
        prefix_holders=inf.prefix_cache_prefixes if inf.prefix_cache else 0,
        prefix_wait=inf.prefix_cache_wait,
        prefill_seconds=inf.prefill_step_s,
        adapter=adapter,
    )
    # Loading maps the weights and allocates the KV cache: seconds, not for the event loop.
    core = await anyio.to_thread.run_sync(LlamaCore, settings)
    return ThreadedEngine(core, RunnerSettings(scheduler=scheduler, max_waiting=inf.max_waiting))


def served_adapter(cfg: Config, spec: ModelSpec | None = None) -> ServedAdapter | None:
    """``inference.adapter`` of the served model, verified against its sha256 (None when
    unset); raises AdapterError for an unknown, foreign or unverified adapter."""
    inf = cfg.inference
    if not inf.adapter or inf.engine == "stand-in":
        return None
    if spec is None:
        spec = served_spec(inf.models_file, inf.model, inf.models_signing_key)
    adapter = registry_adapter(inf.models_file, inf.models_signing_key, inf.adapter, spec)
    if adapter.format != "gguf-lora":
        raise AdapterError(
            adapter.name,
            f"llama.cpp applies GGUF LoRA adapters, this one is {adapter.format}",
            "serve the GGUF LoRA written beside it by `vigie finetune`",
        )
    return verify_adapter(adapter, Path(cfg.nats.data_dir))


async def open_exllama_engine(cfg: Config, spec: ModelSpec) -> ThreadedEngine:
    """The GPU engine: a directory model (exl2 or hf), verified, then loaded by exllamav2 in the
    mode the host allows (``inference.gpu_mode``); raises ModelError (GpuUnavailable when
    torch, CUDA or exllamav2 is missing)."""
    inf = cfg.inference
    if inf.adapter:
        raise AdapterError(
            inf.adapter,
            "the exllamav2 engine serves no adapter in this version",
            "unset inference.adapter, or serve the GGUF LoRA with the llama.cpp engine",
        )
    if spec.format not in ("exl2", "hf"):
        raise ModelError(
            spec.name,
            f"exllamav2 serves a directory of safetensors (exl2 or hf), this model is "
            f"{spec.format}",
            'choose an exl2 or hf model (inference.model) or set inference.engine = "llama.cpp"',
        )
    from services.inference.exllama import GpuUnavailable, probe_runtime
    from services.inference.exllama_base import ExllamaSettings

    # Before hashing gigabytes: a host that cannot run the engine says so at once.
    runtime = await anyio.to_thread.run_sync(probe_runtime)
    if runtime.missing:
        raise GpuUnavailable(spec.name, runtime.missing)
    verified = await anyio.to_thread.run_sync(verify_model, spec, Path(cfg.nats.data_dir))
    from services.inference.exllama import open_exllama_core

    settings = ExllamaSettings(
        model_dir=verified.path,
        model_name=spec.name,
        mode=inf.gpu_mode,
        sequence_tokens=inf.sequence_tokens,
        # Its cores hold the reserve within max_sequences: give them both.
        max_sequences=inf.max_sequences + inf.reserved_sequences,
        reserved_sequences=inf.reserved_sequences,
        batch_tokens=inf.batch_tokens,
        cache=inf.gpu_cache,
        chat_template=spec.chat_template,
        context_length=spec.context_length,
        batch_invariant=inf.batch_invariant,
    )
    # Importing exllamav2 may compile its extension (minutes, once); loading takes seconds.
    core = await anyio.to_thread.run_sync(open_exllama_core, settings)
    return ThreadedEngine(
        core, RunnerSettings(scheduler=scheduler_settings(inf), max_waiting=inf.max_waiting)
    )
