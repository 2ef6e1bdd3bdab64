"""The conformance suite against llama.cpp with the shipped default model (real weights)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from services.inference.engine import Engine
from services.inference.llama import LlamaCore, LlamaSettings
from services.inference.registry import builtin_registry, verify_model
from services.inference.runner import RunnerSettings, ThreadedEngine
from services.inference.scheduler import SchedulerSettings
from tests.engine.conformance import EngineConformance, OpenEngine


@pytest.fixture(scope="session")
def default_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = builtin_registry().default_model
    return verify_model(spec, tmp_path_factory.mktemp("data")).path


@asynccontextmanager
async def llama_engine(
    model: Path,
    *,
    max_sequences: int = 4,
    reserved_sequences: int = 1,
    sequence_tokens: int = 1024,
    chat_template: str | None = None,
) -> AsyncIterator[Engine]:
    scheduler = SchedulerSettings(
        max_sequences=max_sequences,
        kv_tokens=max_sequences * sequence_tokens,
        reserved_sequences=reserved_sequences,
    )
    core = LlamaCore(
        LlamaSettings(
            model_path=model,
            model_name="gemma3-270m",
            sequence_tokens=sequence_tokens,
            max_sequences=max_sequences,
            threads=2,
            chat_template=chat_template,
        ),
        scheduler,
    )
    engine = ThreadedEngine(core, RunnerSettings(scheduler=scheduler))
    try:
        yield engine
    finally:
        await engine.aclose()


class TestLlamaCpp(EngineConformance):
    @pytest.fixture
    def open_engine(self, default_model: Path) -> OpenEngine:
        def open_(**kw: Any) -> Any:
            return llama_engine(default_model, **kw)

        return open_
