"""The engine thread's failure paths, with a scripted stand-in core (no model)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from services.inference.engine import EngineClosed, EngineError, GenerationRequest
from services.inference.runner import RunnerSettings, Sequence, ThreadedEngine
from services.inference.scheduler import SchedulerSettings


class ScriptedCore:
    """Test stand-in for a backend: one token per step; ``fail_at`` makes a step raise."""

    engine_name = "scripted"
    model_name = "none"
    max_sequences = 4
    kv_tokens = 4000

    def __init__(self, fail_at: int | None = None) -> None:
        self.fail_at = fail_at
        #: The failing step waits for this, so a test can submit everything first.
        self.go = threading.Event()
        self.steps = 0
        self.released: list[str] = []
        self.closed = False

    def prepare(self, seq: Sequence) -> None:
        seq.prompt = [1, 2, 3]
        seq.max_tokens = seq.request.max_tokens
        seq.kv_tokens = 3 + seq.max_tokens

    def start(self, seq: Sequence) -> None:
        seq.consumed = len(seq.prompt)

    def step(self, active: list[Sequence]) -> None:
        self.steps += 1
        if self.fail_at is not None and self.steps >= self.fail_at:
            self.go.wait(10)
            raise RuntimeError("decode failed")
        for seq in active:
            seq.generated.append(7)
            seq.text += "x"
            if len(seq.generated) >= seq.max_tokens:
                seq.finish = "length"

    def release(self, seq: Sequence) -> None:
        self.released.append(seq.request.request_id)

    def close(self) -> None:
        self.closed = True


def engine(core: ScriptedCore) -> ThreadedEngine:
    settings = SchedulerSettings(max_sequences=4, kv_tokens=4000, reserved_sequences=1)
    return ThreadedEngine(core, RunnerSettings(scheduler=settings, max_waiting=8))  # type: ignore[arg-type]


def req(rid: str, max_tokens: int = 3) -> GenerationRequest:
    return GenerationRequest(request_id=rid, prompt="p", max_tokens=max_tokens)


async def test_a_failing_step_answers_every_request_and_reports_unhealthy() -> None:
    core = ScriptedCore(fail_at=3)
    eng = engine(core)
    pending = [asyncio.ensure_future(eng.generate(req(f"r{i}", 50))) for i in range(6)]
    await asyncio.sleep(0.1)
    core.go.set()
    results = await asyncio.gather(*pending, return_exceptions=True)
    assert all(isinstance(r, EngineClosed) and r.recoverable for r in results)
    assert "decode failed" in str(results[0])
    health = eng.health()
    assert not health.ok and "decode failed" in health.detail
    assert sorted(core.released) == sorted(f"r{i}" for i in range(6))
    assert core.closed
    with pytest.raises(EngineClosed):
        await eng.generate(req("late"))
    await eng.aclose()


async def test_a_duplicate_id_in_flight_is_refused_as_recoverable() -> None:
    eng = engine(ScriptedCore())
    first = asyncio.ensure_future(eng.generate(req("same", 10**6)))
    await asyncio.sleep(0.05)
    with pytest.raises(EngineError) as caught:
        await eng.generate(req("same", 2))
    assert caught.value.recoverable
    eng.cancel("same")
    assert (await first).finish_reason == "cancelled"
    await eng.aclose()


async def test_close_answers_waiting_requests() -> None:
    core = ScriptedCore()
    eng = engine(core)
    pending = [asyncio.ensure_future(eng.generate(req(f"w{i}", 10**6))) for i in range(6)]
    await asyncio.sleep(0.05)
    await eng.aclose()
    results = await asyncio.gather(*pending, return_exceptions=True)
    assert all(isinstance(r, EngineClosed) for r in results)
    assert core.closed
