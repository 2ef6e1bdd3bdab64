"""Open the configured engine: registry entry → verified weights → backend on its own thread."""

from __future__ import annotations

import os
from pathlib import Path

import anyio.to_thread

from services.inference.registry import ModelError, ModelSpec, load_registry, verify_model
from services.inference.runner import RunnerSettings, ThreadedEngine
from services.inference.scheduler import SchedulerSettings
from services.settings import Config, InferenceConfig


def served_model(cfg: Config) -> ModelSpec:
    inf = cfg.inference
    registry = load_registry(Path(inf.models_file) if inf.models_file else None)
    return registry.get(inf.model) if inf.model else registry.default_model


def scheduler_settings(inf: InferenceConfig) -> SchedulerSettings:
    return SchedulerSettings(
        max_sequences=inf.max_sequences,
        kv_tokens=inf.sequence_tokens * inf.max_sequences,
        reserved_sequences=inf.reserved_sequences,
    )


async def open_engine(cfg: Config) -> ThreadedEngine:
    """Verify the served model's checksum (cached while the file is unchanged), load it."""
    inf = cfg.inference
    spec = served_model(cfg)
    if inf.engine != "llama.cpp":
        raise ModelError(
            spec.name,
            f"engine {inf.engine} is not available in this build",
            'set inference.engine = "llama.cpp"',
        )
    if spec.format != "gguf":
        raise ModelError(
            spec.name,
            f"llama.cpp serves GGUF files, this model is {spec.format}",
            "choose a GGUF model (inference.model) or the exllamav2 engine",
        )
    verified = await anyio.to_thread.run_sync(verify_model, spec, Path(cfg.nats.data_dir))
    from services.inference.llama import INVARIANT_DECODE_GROUP, LlamaCore, LlamaSettings

    scheduler = scheduler_settings(inf)
    settings = LlamaSettings(
        model_path=verified.path,
        model_name=spec.name,
        sequence_tokens=inf.sequence_tokens,
        max_sequences=inf.max_sequences,
        threads=inf.threads or os.cpu_count() or 1,
        batch_tokens=inf.batch_tokens,
        chat_template=spec.chat_template,
        context_length=spec.context_length,
        decode_group=INVARIANT_DECODE_GROUP if inf.batch_invariant else None,
    )
    # Loading maps the weights and allocates the KV cache: seconds, not for the event loop.
    core = await anyio.to_thread.run_sync(LlamaCore, settings)
    return ThreadedEngine(core, RunnerSettings(scheduler=scheduler, max_waiting=inf.max_waiting))
