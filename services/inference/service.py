"""inference: work.<label>.infer.<prec> → the engine → work.<label>.inferred.<client>.<prec>.

Every request gets exactly one answer: ``ok`` with the text, ``expired`` when its deadline had
passed before the engine could start it, or ``failed`` with the reason (a prompt too long for
the model, a schema the grammar compiler refuses). Answers are published durably with the
request id as dedupe id, so a request redelivered after a worker died is answered once.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable

import msgspec

from bus.outcomes import Ack, Delivery, Outcome, Reject, Retry
from bus.publish import Publisher
from bus.telemetry import PRECEDENCE, REPORT_ID, annotate, current_trace
from bus.topology import inferred_subject
from schemas.headers import TRACEPARENT
from schemas.v1 import (
    InferenceRequest,
    InferenceResult,
    inference_request_decoder,
    json_encoder,
    readable,
)
from services.inference.adapters import ServedAdapter, refusal
from services.inference.engine import (
    Engine,
    EngineError,
    Expired,
    GenerationRequest,
    GenerationResult,
    Message,
)
from services.telemetry.service import record_answer, request_span

log = logging.getLogger("vigie.inference")


def decode_request(d: Delivery) -> InferenceRequest:
    try:
        req = inference_request_decoder.decode(d.data)
    except msgspec.ValidationError as exc:
        raise Reject("schema_violation", f"not an InferenceRequest: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise Reject("invalid_json", f"not JSON: {exc}") from exc
    if not readable(req.schema_version):
        raise Reject("unsupported_version", f"schema_version {req.schema_version} unreadable")
    if req.label != d.label:
        # A request may not move text to another label's answers.
        raise Reject(
            "bad_subject",
            f"request labelled {req.label} arrived on a {d.label} subject",
            fields={"label": req.label, "subject_label": d.label},
        )
    token = d.subject.rsplit(".", 1)[-1]
    if token != req.precedence.lower():
        # The subject decides which consumer serves it; the body may not claim more urgency.
        raise Reject(
            "bad_subject",
            f"request of precedence {req.precedence} arrived on a {token} subject",
            fields={"precedence": req.precedence, "subject_precedence": token},
        )
    if (req.prompt is None) == (req.messages is None):
        raise Reject("schema_violation", "a request has exactly one of prompt and messages")
    return req


def to_generation(req: InferenceRequest, now: dt.datetime) -> GenerationRequest:
    deadline = None
    if req.deadline is not None:
        deadline = time.monotonic() + (req.deadline - now).total_seconds()
    return GenerationRequest(
        request_id=req.request_id,
        max_tokens=req.max_tokens,
        prompt=req.prompt,
        messages=None
        if req.messages is None
        else tuple(Message(m.role, m.content) for m in req.messages),
        stop=tuple(req.stop),
        json_schema=req.json_schema,
        precedence=req.precedence,
        deadline=deadline,
    )


class InferenceService:
    def __init__(
        self,
        engine: Engine,
        publisher: Publisher,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        adapter: ServedAdapter | None = None,
    ) -> None:
        self._engine = engine
        #: The adapter the engine applies to every request (one per worker), or None.
        self._adapter = adapter
        self._publisher = publisher
        self._clock = clock

    async def handle(self, d: Delivery) -> Outcome:
        req = decode_request(d)
        annotate(**{REPORT_ID: req.report_id or "", PRECEDENCE: req.precedence})
        with request_span(req, self._engine.model):
            return await self._serve(d, req)

    async def _serve(self, d: Delivery, req: InferenceRequest) -> Outcome:
        now = self._clock()
        waited_ms = max(0.0, (now - req.created_at).total_seconds() * 1000)
        if req.deadline is not None and now >= req.deadline:
            await self._answer(d, req, "expired", error="deadline passed before it was taken")
            return Ack()
        if req.model is not None and req.model != self._engine.model:
            error = (
                f"model {req.model} is not served here (this worker serves {self._engine.model})"
            )
            await self._answer(d, req, "failed", error=error)
            return Ack()
        if (refused := refusal(self._adapter, req.adapter, req.label)) is not None:
            await self._answer(d, req, "failed", error=refused)
            return Ack()
        try:
            result = await self._engine.generate(to_generation(req, now))
        except Expired as exc:
            await self._answer(d, req, "expired", error=exc.problem)
            return Ack()
        except EngineError as exc:
            if exc.recoverable:
                raise Retry(f"engine busy or closing: {exc.problem}") from exc
            log.info("request %s failed: %s", req.request_id, exc.problem)
            await self._answer(d, req, "failed", error=exc.problem)
            return Ack()
        await self._answer(d, req, "ok", result=result, waited_ms=waited_ms)
        return Ack()

    async def _answer(
        self,
        d: Delivery,
        req: InferenceRequest,
        status: str,
        *,
        result: GenerationResult | None = None,
        error: str | None = None,
        waited_ms: float = 0.0,
    ) -> None:
        answer = InferenceResult(
            request_id=req.request_id,
            client=req.client,
            label=req.label,
            precedence=req.precedence,
            status=status,  # type: ignore[arg-type]
            text=result.text if result else "",
            finish_reason=result.finish_reason if result else None,
            error=error,
            model=self._engine.model,
            engine=self._engine.name,
            adapter=self._adapter.name if self._adapter and result else None,
            prompt_tokens=result.prompt_tokens if result else 0,
            cached_prompt_tokens=result.cached_prompt_tokens if result else 0,
            completion_tokens=result.completion_tokens if result else 0,
            queue_ms=waited_ms + (result.queue_s * 1000 if result else 0.0),
            ttft_ms=waited_ms + (result.ttft_s * 1000 if result else 0.0),
            total_ms=waited_ms + (result.total_s * 1000 if result else 0.0),
            schema_enforced=result.schema_enforced if result else None,
            finished_at=self._clock(),
            report_id=req.report_id,
            context=req.context,
        )
        record_answer(answer)
        trace = current_trace(d.headers)
        await self._publisher.publish(
            inferred_subject(req.label, req.client, req.precedence),
            json_encoder.encode(answer),
            msg_id=f"inferred:{req.request_id}",
            headers={TRACEPARENT: trace.traceparent},
        )
