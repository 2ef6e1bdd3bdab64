"""The conformance suite against the ExLlamaV2 engine, on a CUDA machine only.

The model is a directory named by ``VIGIE_EXL2_MODEL_DIR`` (``python3 -m
services.inference.exllama_bench build DIR --small`` writes a small random-weight one with a
real Mistral tokenizer); elsewhere every test is skipped with the reason. The mode is the one
the host allows (``gpu_mode = "auto"``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from services.inference.engine import Engine
from services.inference.exllama import choose_mode, probe_runtime
from services.inference.exllama_base import ExllamaSettings
from services.inference.runner import RunnerSettings, ThreadedEngine
from services.inference.scheduler import SchedulerSettings
from tests.engine.conformance import EngineConformance, OpenEngine

MODEL_DIR = os.environ.get("VIGIE_EXL2_MODEL_DIR", "")
RUNTIME = probe_runtime()
MODE = choose_mode("auto", RUNTIME.flash_attn) if not RUNTIME.missing else None


def _skip_reason() -> str:
    if RUNTIME.missing:
        return "the exllamav2 engine cannot run here: " + "; ".join(RUNTIME.missing)
    if not MODEL_DIR or not Path(MODEL_DIR, "config.json").is_file():
        hint = "python3 -m services.inference.exllama_bench build DIR --small"
        return f"VIGIE_EXL2_MODEL_DIR names no model directory ({hint})"
    return ""


pytestmark = pytest.mark.skipif(bool(_skip_reason()), reason=_skip_reason() or "-")


def _json_enforced() -> bool:
    if MODE != "paged":
        return False
    try:
        import lmformatenforcer  # noqa: F401
    except ImportError:
        return False
    return True


@asynccontextmanager
async def exllama_engine(
    *,
    max_sequences: int = 4,
    reserved_sequences: int = 1,
    sequence_tokens: int = 1024,
    chat_template: str | None = None,
    batch_invariant: bool = True,
) -> AsyncIterator[Engine]:
    from services.inference.exllama import open_exllama_core

    settings = ExllamaSettings(
        model_dir=Path(MODEL_DIR),
        model_name="exl2-test",
        sequence_tokens=sequence_tokens,
        # The core holds the reserve within its max_sequences; the scheduler's is on top.
        max_sequences=max_sequences + reserved_sequences,
        reserved_sequences=reserved_sequences,
        chat_template=chat_template,
        batch_invariant=batch_invariant,
    )
    core = await asyncio.to_thread(open_exllama_core, settings)
    assert core.mode == MODE
    scheduler = SchedulerSettings(
        max_sequences=max_sequences,
        kv_tokens=(max_sequences + reserved_sequences) * sequence_tokens,
        reserved_sequences=reserved_sequences,
    )
    engine = ThreadedEngine(core, RunnerSettings(scheduler=scheduler))
    try:
        yield engine
    finally:
        await engine.aclose()


class TestExllama(EngineConformance):
    @pytest.fixture
    def open_engine(self) -> OpenEngine:
        def open_(**kw: Any) -> Any:
            return exllama_engine(**kw)

        return open_

    async def test_json_schema_output_always_parses(self, open_engine: OpenEngine) -> None:
        if not _json_enforced():
            pytest.skip(
                f"{MODE} mode without lm-format-enforcer does not enforce JSON schemas: the "
                "output is validated by the caller (a random-weight model never writes JSON)"
            )
        await super().test_json_schema_output_always_parses(open_engine)

    async def test_engine_name_reports_the_mode(self, open_engine: OpenEngine) -> None:
        async with open_engine() as engine:
            assert engine.name == f"exllamav2-{MODE}"
            assert engine.health().engine == engine.name


class TestExllamaThroughputMode(TestExllama):
    """``inference.batch_invariant = false``: forward passes cover only the rows in use and
    prompts are not padded to a bucket; everything holds but batch invariance."""

    @pytest.fixture
    def open_engine(self) -> OpenEngine:
        def open_(**kw: Any) -> Any:
            return exllama_engine(batch_invariant=False, **kw)

        return open_

    async def test_batched_output_equals_one_by_one(self, open_engine: OpenEngine) -> None:
        pytest.skip("throughput mode trades batch invariance for speed")
