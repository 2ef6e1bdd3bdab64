"""Prefix reuse and the batch-invariance spot-check of the llama.cpp engine (real weights).

Reuse must never change an output: every test compares what an engine that reuses prefixes
generates with what one that computes every prompt whole generates, in batch-invariant mode
(so what runs alongside changes nothing either).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from services.inference.engine import Engine, Expired, GenerationResult
from services.inference.llama import (
    INVARIANT_DECODE_GROUP,
    EngineStartError,
    LlamaCore,
    LlamaSettings,
)
from tests.engine.conformance import PROMPTS, request
from tests.engine.test_llama_engine import default_model, llama_engine  # noqa: F401
from tests.support import eventually

#: Instructions and examples longer than the sliding window (512 tokens) of Gemma 3's local
#: layers, as a task's few-shot prompt has them.
FEW_SHOT = "Translate each report into French.\n" + "".join(
    f"Report: At 04{i:02d} the observation post saw {i} armoured vehicles moving north along "
    f"the river road towards the bridge near checkpoint {i}.\nFrench: À 04h{i:02d} le poste "
    f"d'observation a vu {i} véhicules blindés se diriger vers le nord par la route du fleuve "
    f"vers le pont près du point de contrôle {i}.\n"
    for i in range(12)
)
OTHER_SHOT = "Summarise each report in English.\n" + "".join(
    f"Report: Patrol {i} left the base at 05{i:02d} and reached the village without contact.\n"
    f"Summary: patrol {i} reached the village.\n"
    for i in range(10)
)
REPORTS = [
    "Two T-72 tanks crossed the bridge at Izium at 0430.",
    "The 47th Brigade holds the line east of Avdiivka.",
    "Artillery fire reported near Vuhledar at 0815.",
    "Patrol Alpha saw a BTR-82A near the checkpoint at dawn.",
]


def translate(report: str) -> str:
    return f"{FEW_SHOT}Report: {report}\nFrench:"


def summarise(report: str) -> str:
    return f"{OTHER_SHOT}Report: {report}\nSummary:"


async def one_by_one(engine: Engine, prompts: list[str], tokens: int) -> list[GenerationResult]:
    return [await engine.generate(request(f"ref{i}", p, tokens)) for i, p in enumerate(prompts)]


def test_invariance_spot_check_refuses_a_group_that_changes_the_logits(
    default_model: Path,  # noqa: F811
) -> None:
    settings = LlamaSettings(
        model_path=default_model,
        model_name="gemma3-270m",
        sequence_tokens=256,
        max_sequences=16,
        threads=2,
        decode_group=16,  # 16 rows per call: llama.cpp's kernels change their arithmetic
        prefix_holders=0,
    )
    with pytest.raises(EngineStartError, match="spot-check failed") as caught:
        LlamaCore(settings)
    assert "batch_invariant = false" in caught.value.hint
    # The shipped group passes it on the same machine, build and model.
    core = LlamaCore(
        LlamaSettings(
            model_path=default_model,
            model_name="gemma3-270m",
            sequence_tokens=256,
            max_sequences=16,
            threads=2,
            decode_group=INVARIANT_DECODE_GROUP,
            prefix_holders=0,
        )
    )
    core.close()


async def test_reuse_changes_no_output_and_skips_the_shared_prefix(
    default_model: Path,  # noqa: F811
) -> None:
    # Prompts longer than the window sharing a prefix, short prompts sharing nothing, mixed.
    prompts = [translate(r) for r in REPORTS] + PROMPTS[:3] + [summarise(r) for r in REPORTS[:2]]
    async with llama_engine(default_model, max_sequences=6, reserved_sequences=0) as plain:
        expected = await one_by_one(plain, prompts, 16)
        assert plain.stats.tokens_prompt_cached == 0
    async with llama_engine(
        default_model, max_sequences=6, reserved_sequences=0, prefix_holders=4
    ) as engine:
        rounds = []
        for r in range(3):  # the first rounds find the shared prefixes, the last reuses them
            rounds.append(
                await asyncio.gather(
                    *(engine.generate(request(f"{r}-{i}", p, 16)) for i, p in enumerate(prompts))
                )
            )
        assert engine.stats.max_sequences_in_step >= 6
        hits = engine.stats.prefix_hits
    for got in rounds:
        assert [g.text for g in got] == [e.text for e in expected]
        assert [g.completion_tokens for g in got] == [e.completion_tokens for e in expected]
        assert [g.prompt_tokens for g in got] == [e.prompt_tokens for e in expected]
    last = rounds[-1]
    few_shot_tokens = min(g.prompt_tokens for g in last[:4]) - 30
    assert all(g.cached_prompt_tokens > max(512, few_shot_tokens) for g in last[:4]), last
    assert all(g.cached_prompt_tokens == 0 for g in last[4:7])
    assert all(g.cached_prompt_tokens > 100 for g in last[7:])
    assert hits >= 6


async def test_a_wave_arriving_together_computes_its_shared_prefix_once(
    default_model: Path,  # noqa: F811
) -> None:
    # Six prompts sharing the few-shot prefix and two sharing another, all at once: one
    # sequence computes each prefix and the others wait for it instead of computing it too.
    reports = [*REPORTS, "Mortar fire near the school at 1120.", "A drone seen over Kupiansk."]
    prompts = [translate(r) for r in reports] + [summarise(r) for r in REPORTS[:2]]
    async with llama_engine(default_model, max_sequences=8, reserved_sequences=0) as plain:
        expected = await one_by_one(plain, prompts, 16)
    async with llama_engine(
        default_model, max_sequences=8, reserved_sequences=0, prefix_holders=4
    ) as engine:
        wave = await asyncio.gather(
            *(engine.generate(request(f"w{i}", p, 16)) for i, p in enumerate(prompts))
        )
        core = engine._core  # type: ignore[attr-defined]
        assert core.prefixes.pending == 0
        computed = engine.stats.tokens_prompt - engine.stats.tokens_prompt_cached
    assert [g.text for g in wave] == [e.text for e in expected]
    assert [g.completion_tokens for g in wave] == [e.completion_tokens for e in expected]
    # The first of each family computes all of its prompt (nothing seen before it), the
    # second computes the prefix and keeps it, the rest copy it.
    assert sum(g.cached_prompt_tokens > 512 for g in wave[:6]) == 4, wave
    few_shot = min(g.prompt_tokens for g in wave[:6]) - 30
    assert computed < sum(g.prompt_tokens for g in wave) - 4 * few_shot


async def test_a_pool_smaller_than_the_working_set_evicts_without_harm(
    default_model: Path,  # noqa: F811
) -> None:
    # Two prefixes used in turn; one holder keeps only the latest, two keep both.
    prompts = [p for r in REPORTS for p in (translate(r), summarise(r))]
    async with llama_engine(default_model, max_sequences=2, reserved_sequences=0) as plain:
        expected = [r.text for r in await one_by_one(plain, prompts, 12)]
    hits = {}
    for holders in (1, 2):
        async with llama_engine(
            default_model, max_sequences=2, reserved_sequences=0, prefix_holders=holders
        ) as engine:
            got = await one_by_one(engine, prompts, 12)
            assert [r.text for r in got] == expected
            assert engine.health().ok
            hits[holders] = engine.stats.prefix_hits
            core = engine._core  # type: ignore[attr-defined]
            assert len(core.prefixes) == holders
            evicted = core.prefixes.stats.evicted
        if holders == 1:
            assert evicted >= 3
    assert hits[1] < hits[2]
    assert hits[2] >= len(prompts) - 4


async def test_a_prefix_serves_precedences_while_one_is_paused(
    default_model: Path,  # noqa: F811
) -> None:
    prompts = [translate(r) for r in REPORTS]
    async with llama_engine(default_model, max_sequences=2, reserved_sequences=0) as plain:
        expected = [r.text for r in await one_by_one(plain, prompts, 40)]
    async with llama_engine(
        default_model, max_sequences=2, reserved_sequences=1, prefix_holders=2
    ) as engine:
        await one_by_one(engine, prompts[:2], 40)  # the prefix is kept by now
        assert engine.stats.prefix_hits == 0
        routine = [
            asyncio.ensure_future(engine.generate(request(f"r{i}", prompts[i], 40)))
            for i in range(2)
        ]
        kept = engine.stats.prefix_hits
        await eventually(lambda: engine.stats.prefix_hits >= kept + 2, within=60, interval=0.005)
        flash = await engine.generate(request("flash", prompts[2], 40, precedence="FLASH"))
        done = await asyncio.gather(*routine)
        immediate = await engine.generate(request("imm", prompts[3], 40, precedence="IMMEDIATE"))
    assert flash.cached_prompt_tokens > 512 and flash.paused_steps == 0
    assert all(r.cached_prompt_tokens > 512 for r in done)
    assert all(r.paused_steps > 0 for r in done)  # paused while FLASH ran
    assert [r.text for r in done] == expected[:2]
    assert flash.text == expected[2]
    assert immediate.text == expected[3] and immediate.cached_prompt_tokens > 512


async def test_cancelled_and_expired_sharers_leave_the_others_intact(
    default_model: Path,  # noqa: F811
) -> None:
    prompts = [translate(r) for r in REPORTS]
    async with llama_engine(default_model, max_sequences=2, reserved_sequences=0) as plain:
        expected = [r.text for r in await one_by_one(plain, prompts, 40)]
    loop = asyncio.get_running_loop()
    async with llama_engine(
        default_model, max_sequences=2, reserved_sequences=0, prefix_holders=2
    ) as engine:
        await one_by_one(engine, prompts[:2], 4)  # the prefix is kept by now
        kept = engine.stats.prefix_hits
        doomed = asyncio.ensure_future(engine.generate(request("doomed", prompts[0], 64)))
        survivor = asyncio.ensure_future(engine.generate(request("survivor", prompts[1], 40)))
        await eventually(lambda: engine.stats.prefix_hits >= kept + 2, within=60, interval=0.005)
        steps = engine.stats.steps
        await eventually(lambda: engine.stats.steps >= steps + 3, within=60, interval=0.005)
        assert engine.cancel("doomed")
        with pytest.raises(Expired):
            await engine.generate(request("late", prompts[2], 8, deadline=loop.time() - 1))
        cancelled = await doomed
        alive = await survivor
        after = await engine.generate(request("after", prompts[3], 40))
        assert engine.capacity().running == 0 and engine.health().ok
    assert cancelled.finish_reason == "cancelled" and cancelled.completion_tokens < 64
    assert cancelled.cached_prompt_tokens > 512
    assert alive.text == expected[1] and alive.cached_prompt_tokens > 512
    assert after.text == expected[3] and after.cached_prompt_tokens > 512
