"""A no-model STAND-IN engine: answers every request at once, without any model.

Not an engine for production. It exists to measure what the bus and the services cost without
inference (the bus-overhead benchmark), and to script the model's text in tests of what the
tasks do with malformed output. Everything around it — the inference service, the subjects, the
answers — is the real thing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from opentelemetry import trace

from services.inference.engine import (
    Capacity,
    EngineStats,
    GenerationRequest,
    GenerationResult,
    Health,
)
from services.telemetry.service import BatchSpans

#: The model's text for a request: a function of the request alone.
Responder = Callable[[GenerationRequest], str]


def empty_answer(request: GenerationRequest) -> str:
    """The smallest valid output: an empty JSON object's worth for a schema, else one word."""
    if request.json_schema is not None:
        properties = request.json_schema.get("properties", {})
        return json.dumps({name: [] for name in properties if name == "entities"})
    return "stand-in"


class StandInEngine:
    name = "stand-in"

    def __init__(self, responder: Responder = empty_answer, model: str = "stand-in") -> None:
        self.model = model
        self.stats = EngineStats()
        self._responder = responder
        self._closed = False
        self._batches = BatchSpans(self.name, model, 1)

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        started = time.perf_counter()
        # One batch of one step, linked to the request's span like a real engine's.
        requester = trace.get_current_span().get_span_context()
        self._batches.step(frozenset({self.stats.steps}), lambda: [requester], 0)
        text = self._responder(request)
        tokens = max(1, len(text) // 4)
        self._batches.stepped(tokens)
        self._batches.close()
        self.stats.finished += 1
        self.stats.tokens_generated += tokens
        self.stats.record_step(1, 0)
        elapsed = time.perf_counter() - started
        return GenerationResult(
            request_id=request.request_id,
            text=text,
            finish_reason="stop",
            prompt_tokens=len(request.prompt or "") // 4,
            completion_tokens=tokens,
            queue_s=0.0,
            ttft_s=elapsed,
            total_s=elapsed,
            steps=1,
            # A scripted answer: nothing enforced its schema.
            schema_enforced=False if request.json_schema is not None else None,
        )

    def cancel(self, request_id: str) -> bool:
        return False

    def capacity(self) -> Capacity:
        return Capacity(
            max_sequences=1 << 16, running=0, paused=0, waiting=0, kv_tokens=0, kv_tokens_reserved=0
        )

    def health(self) -> Health:
        return Health(ok=not self._closed, engine=self.name, model=self.model)

    async def aclose(self) -> None:
        self._closed = True
