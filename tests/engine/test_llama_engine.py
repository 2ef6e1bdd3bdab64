"""The conformance suite against llama.cpp with the shipped default model (real weights)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from services.catalogue import builtin_registry
from services.inference.engine import Engine
from services.inference.llama import INVARIANT_DECODE_GROUP, LlamaCore, LlamaSettings
from services.inference.registry import verify_model
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
    decode_group: int | None = INVARIANT_DECODE_GROUP,
    prefix_holders: int = 0,
) -> AsyncIterator[Engine]:
    scheduler = SchedulerSettings(
        max_sequences=max_sequences,
        kv_tokens=(max_sequences + reserved_sequences) * sequence_tokens,
        reserved_sequences=reserved_sequences,
    )
    core = LlamaCore(
        LlamaSettings(
            model_path=model,
            model_name="gemma3-270m",
            sequence_tokens=sequence_tokens,
            max_sequences=scheduler.total_sequences,
            threads=2,
            chat_template=chat_template,
            decode_group=decode_group,
            prefix_holders=prefix_holders,
        )
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


class TestLlamaCppThroughputMode(EngineConformance):
    """``inference.batch_invariant = false``: every sequence in one call, repacked weights and
    fused attention; everything holds but batch invariance, which this mode does not promise."""

    @pytest.fixture
    def open_engine(self, default_model: Path) -> OpenEngine:
        def open_(**kw: Any) -> Any:
            return llama_engine(default_model, decode_group=None, **kw)

        return open_

    async def test_batched_output_equals_one_by_one(self, open_engine: OpenEngine) -> None:
        pytest.skip("throughput mode trades batch invariance for speed (docs/BENCHMARKS.md)")
