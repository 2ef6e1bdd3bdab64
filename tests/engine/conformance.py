"""The engine conformance suite, written once: every backend's test module subclasses
:class:`EngineConformance` and provides ``open_engine``.

``open_engine(max_sequences=…, reserved_sequences=…, sequence_tokens=…)`` is an async context
manager yielding a started :class:`services.inference.engine.Engine` on the backend's real
model; everything below must hold for every backend.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Annotated, Any, Literal

import msgspec
import pytest

from services.inference.engine import (
    Engine,
    EngineError,
    Expired,
    GenerationRequest,
    Message,
    PromptTooLong,
)
from tests.support import eventually

OpenEngine = Callable[..., AbstractAsyncContextManager[Engine]]

PROMPTS = [
    "Report 1: At 0600 the patrol observed",
    "Rapport 2 : à 06h00 la patrouille a observé",
    "The convoy of four trucks moved north towards",
    "SITREP. Enemy activity in the sector was",
    "Компания солдат двигалась на север",
    "Summary of the intelligence report: the unit",
    "Observation post reports two armoured vehicles",
    "At dawn the reconnaissance team found",
]


class Entity(msgspec.Struct, frozen=True):
    type: Literal["Unit", "Location", "DateTime", "MilitaryPlatform"]
    text: Annotated[str, msgspec.Meta(max_length=40)]


class Entities(msgspec.Struct, frozen=True):
    entities: Annotated[list[Entity], msgspec.Meta(max_length=4)]


ENTITY_SCHEMA: dict[str, Any] = msgspec.json.schema(Entities)
ENTITY_PROMPT = (
    "Extract the entities of the report as JSON.\n"
    'Report: 3e RIMa left Kherson at 0600.\nJSON: {"entities": [{"type": "Unit", "text": '
    '"3e RIMa"}, {"type": "Location", "text": "Kherson"}, {"type": "DateTime", "text": '
    '"0600"}]}\nReport: {report}\nJSON: '
)

GEMMA_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<start_of_turn>{{ 'model' if m['role'] == "
    "'assistant' else 'user' }}\n{{ m['content'] | trim }}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


def request(i: int | str, prompt: str, max_tokens: int = 24, **kw: Any) -> GenerationRequest:
    return GenerationRequest(request_id=str(i), prompt=prompt, max_tokens=max_tokens, **kw)


class EngineConformance:
    """Subclasses provide the ``open_engine`` fixture."""

    async def test_greedy_decoding_is_deterministic(self, open_engine: OpenEngine) -> None:
        async with open_engine() as engine:
            first = await engine.generate(request("a", PROMPTS[0]))
            second = await engine.generate(request("b", PROMPTS[0]))
        assert first.text == second.text
        assert first.completion_tokens == second.completion_tokens > 0

    async def test_batched_output_equals_one_by_one(self, open_engine: OpenEngine) -> None:
        async with open_engine(max_sequences=8, reserved_sequences=0) as engine:
            batched = await asyncio.gather(
                *(engine.generate(request(i, p, 32)) for i, p in enumerate(PROMPTS))
            )
            assert engine.stats.max_sequences_in_step == len(PROMPTS)
            alone = [await engine.generate(request(f"s{i}", p, 32)) for i, p in enumerate(PROMPTS)]
        assert [r.text for r in batched] == [r.text for r in alone]
        assert [r.completion_tokens for r in batched] == [r.completion_tokens for r in alone]

    async def test_stop_string_ends_the_output_before_it(self, open_engine: OpenEngine) -> None:
        async with open_engine() as engine:
            free = await engine.generate(request("free", PROMPTS[2], 48))
            words = free.text.split()
            assert len(words) >= 4, free.text
            stop = " " + words[3]
            cut = free.text.index(stop)
            stopped = await engine.generate(request("stop", PROMPTS[2], 48, stop=(stop, "@@@")))
        assert stopped.finish_reason == "stop"
        assert stopped.text == free.text[:cut]
        assert stopped.completion_tokens < free.completion_tokens

    async def test_max_tokens_bounds_the_output(self, open_engine: OpenEngine) -> None:
        async with open_engine() as engine:
            result = await engine.generate(request("m", PROMPTS[3], 7))
        assert result.finish_reason == "length"
        assert result.completion_tokens == 7
        assert result.prompt_tokens > 5
        assert 0 <= result.queue_s <= result.ttft_s <= result.total_s

    async def test_json_schema_output_always_parses(self, open_engine: OpenEngine) -> None:
        reports = [
            "Two T-72 tanks crossed the bridge at Izium at 0430.",
            "La 2e compagnie a quitté Kramatorsk à 2200.",
            "Patrol Alpha saw a BTR-82A near the checkpoint.",
            "No activity.",
        ]
        # The schema's worst case (4 entities of 40 escaped characters) needs ~1,150 tokens.
        async with open_engine(sequence_tokens=2048) as engine:
            results = await asyncio.gather(
                *(
                    engine.generate(
                        request(
                            i,
                            ENTITY_PROMPT.replace("{report}", r),
                            16,
                            json_schema=ENTITY_SCHEMA,
                        )
                    )
                    for i, r in enumerate(reports)
                )
            )
        for result in results:
            assert result.finish_reason == "eos", result
            parsed = msgspec.json.decode(result.text, type=Entities)
            assert len(parsed.entities) <= 4

    async def test_cancel_returns_what_was_generated(self, open_engine: OpenEngine) -> None:
        async with open_engine() as engine:
            task = asyncio.ensure_future(engine.generate(request("long", PROMPTS[4], 400)))
            await eventually(lambda: engine.stats.steps >= 3, within=30)
            assert engine.cancel("long")
            result = await task
            assert result.finish_reason == "cancelled"
            assert result.completion_tokens < 400
            # Cancelling the awaiting task cancels the request in the engine.
            waiter = asyncio.ensure_future(engine.generate(request("gone", PROMPTS[5], 400)))
            await asyncio.sleep(0.2)
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
            after = await engine.generate(request("after", PROMPTS[0], 4))
            assert after.completion_tokens == 4
            assert engine.capacity().running == 0
            assert engine.health().ok

    async def test_over_long_prompt_is_refused_with_its_sizes(
        self, open_engine: OpenEngine
    ) -> None:
        async with open_engine(sequence_tokens=256) as engine:
            with pytest.raises(PromptTooLong) as caught:
                await engine.generate(request("big", "word " * 400, 16))
            assert caught.value.prompt_tokens > 256
            assert caught.value.limit <= 256
            assert not caught.value.recoverable
            assert "big" in str(caught.value)
            ok = await engine.generate(request("small", PROMPTS[1], 4))
            assert ok.completion_tokens == 4

    async def test_past_deadline_is_expired_not_generated(self, open_engine: OpenEngine) -> None:
        loop = asyncio.get_running_loop()
        async with open_engine() as engine:
            with pytest.raises(Expired):
                await engine.generate(request("late", PROMPTS[0], 8, deadline=loop.time() - 1))
            assert engine.stats.tokens_generated == 0

    async def test_32_concurrent_requests_share_decode_steps(self, open_engine: OpenEngine) -> None:
        async with open_engine(max_sequences=32, reserved_sequences=0) as engine:
            results = await asyncio.gather(
                *(engine.generate(request(i, PROMPTS[i % 8] + f" ({i})", 16)) for i in range(32))
            )
            assert engine.stats.max_sequences_in_step >= 8
            assert engine.capacity().running == 0
        assert all(r.completion_tokens > 0 for r in results)

    async def test_flash_starts_within_one_step_and_finishes_first(
        self, open_engine: OpenEngine
    ) -> None:
        finished: list[str] = []

        def note(fut: asyncio.Future[Any]) -> None:
            finished.append(fut.result().request_id)

        async with open_engine(max_sequences=6, reserved_sequences=1) as engine:
            routine = [
                asyncio.ensure_future(engine.generate(request(f"r{i}", PROMPTS[i], 48)))
                for i in range(8)
            ]
            for fut in routine:
                fut.add_done_callback(note)
            await eventually(lambda: engine.stats.steps >= 4, within=30, interval=0.005)
            # Routine fills its whole batch; the reserved sequence sits on top, free.
            assert engine.capacity().running == 6
            flash = await engine.generate(
                request("flash", PROMPTS[7] + " urgently", 48, precedence="FLASH")
            )
            finished.append("flash")
            done = await asyncio.gather(*routine)
        assert flash.waited_steps <= 1
        assert flash.paused_steps == 0
        assert all(r.paused_steps > 0 for r in done[:6])
        # Everything that was running or waiting when FLASH arrived finished after it.
        assert finished[0] == "flash", finished

    async def test_chat_messages_use_the_template(self, open_engine: OpenEngine) -> None:
        async with open_engine(chat_template=GEMMA_TEMPLATE) as engine:

            async def prompt_tokens(content: str) -> int:
                msgs = (Message("user", content),)
                req = GenerationRequest(request_id=content, messages=msgs, max_tokens=2)
                return (await engine.generate(req)).prompt_tokens

            plain = await prompt_tokens("Name a colour.")
            # A control token inside a message stays text: several tokens, not one.
            smuggled = await prompt_tokens("Name a colour.<end_of_turn>")
            # The template's turn markup around the content: more than the content alone.
            raw = await engine.generate(request("raw", "Name a colour.", 2))
        assert smuggled - plain > 1
        assert plain > raw.prompt_tokens + 4

    async def test_capacity_and_health_report_the_engine(self, open_engine: OpenEngine) -> None:
        async with open_engine(max_sequences=4, reserved_sequences=1) as engine:
            cap = engine.capacity()
            # The reserved sequence on top of the 4.
            assert (cap.max_sequences, cap.running, cap.waiting) == (5, 0, 0)
            assert cap.free_sequences == 5
            with pytest.raises(EngineError, match="empty"):
                await engine.generate(request("empty", "", 4))
            health = engine.health()
            assert health.ok and health.engine == engine.name and health.model == engine.model
            with pytest.raises(EngineError, match=r"json_schema refused.*pattern"):
                await engine.generate(
                    GenerationRequest(
                        request_id="bad",
                        prompt="x",
                        max_tokens=4,
                        json_schema={"type": "string", "pattern": "^a$"},
                    )
                )
