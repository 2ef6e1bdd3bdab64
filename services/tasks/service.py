"""A model-backed task on the bus: a report in, generation requests out, answers in, a result out.

The task never waits on the engine while holding a message. Its conversation with the engine
is carried by the messages themselves:

1. ``work.<label>.<task>.<prec>`` (the ingested report) → the task either answers at once
   (``skipped``, or patterns only) or publishes an ``InferenceRequest`` whose ``context``
   carries the report and the attempt number, and acknowledges the report;
2. ``work.<label>.inferred.<task>.<prec>`` (the engine's answer) → the output is parsed and
   checked against the report; an output the task cannot use gets ONE more attempt that changes
   what failed, else the task result (``ok``, ``failed``, ``expired``) goes to collate.

Any replica of the service can take any answer, a crash at any point redelivers the message
being handled, and every publish carries a dedupe id derived from the report, the task and the
attempt — so a redelivery repeats nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread
import msgspec

from bus.outcomes import Ack, Delivery, Outcome, Reject, decode_or_reject
from bus.publish import Publisher
from bus.telemetry import PRECEDENCE, REPORT_ID, annotate, current_trace
from bus.topology import infer_subject, result_subject
from schemas.headers import TRACEPARENT
from schemas.v1 import (
    Decoder,
    Flag,
    InferenceRequest,
    InferenceResult,
    IngestedReport,
    Provenance,
    TaskName,
    TaskResult,
    TokenUsage,
    inference_result_decoder,
    ingested_decoder,
    json_encoder,
)
from services.tasks.contract import TaskLogic, TaskOutput
from services.tasks.prompting import OutputInvalid, Retry
from services.telemetry.service import record_dropped

log = logging.getLogger("vigie.tasks")
_T = TypeVar("_T")

#: The first attempt and one retry: with greedy decoding more of the same would not help.
MAX_ATTEMPTS = 2
#: Up to this much text the checks run inline; beyond, in a thread (they scan the whole text).
INLINE_TEXT_CHARS = 4096


class Job(msgspec.Struct, frozen=True, kw_only=True):
    """What the task needs back with the engine's answer (in the request's ``context``)."""

    report: IngestedReport
    attempt: int
    started_at: dt.datetime
    prompt_version: str
    prompt_style: str
    max_tokens: int
    #: The tokens of the attempts before this one.
    usage: TokenUsage | None = None


_job_encoder = msgspec.json.Encoder()
_job_decoder = Decoder[Job](Job)
JOB_KEY = "job"


def invalid_output_flag(task: TaskName, exc: OutputInvalid) -> Flag:
    return Flag(
        code="output_invalid",
        task=task,
        detail=str(exc)[:512],
        items=[i[:256] for i in exc.items[:32]],
    )


def request_id(report_id: str, task: str, attempt: int) -> str:
    """Stable per report, task and attempt (the dedupe id of the request and of its answer)."""
    rid = f"{report_id}:{task}:{attempt}"
    if len(rid) <= 128:
        return rid
    digest = hashlib.sha256(report_id.encode()).hexdigest()[:40]
    return f"{digest}:{task}:{attempt}"


def decode_report(data: bytes) -> IngestedReport:
    return decode_or_reject(ingested_decoder, data, "an IngestedReport")


def check_report(d: Delivery) -> IngestedReport:
    """The ingested report in ``d``, which must be of the subject's label."""
    report = decode_report(d.data)
    if report.label != d.label:
        # Its request and result would go to the report's label: no moving text across labels.
        raise Reject(
            "bad_subject",
            f"{report.label} report arrived on a {d.label} subject",
            fields={"label": report.label, "subject_label": d.label},
        )
    return report


def decode_answer(d: Delivery, task: str) -> tuple[InferenceResult, Job]:
    answer = decode_or_reject(inference_result_decoder, d.data, "an InferenceResult")
    if answer.client != task or answer.label != d.label:
        raise Reject(
            "bad_subject",
            f"answer for {answer.client}/{answer.label} arrived on a {task}/{d.label} subject",
            fields={"client": answer.client, "label": answer.label},
        )
    try:
        job = _job_decoder.decode(answer.context.get(JOB_KEY, ""))
    except msgspec.DecodeError as exc:
        raise Reject("schema_violation", f"answer without a readable job: {exc}") from exc
    if job.report.label != d.label:
        raise Reject("bad_subject", "answer's report is of another label")
    return answer, job


class ModelTaskService:
    def __init__(
        self,
        logic: TaskLogic,
        publisher: Publisher,
        *,
        model: str | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._logic = logic
        self._publisher = publisher
        self._model = model
        self._clock = clock
        self._answers_prefix = f".inferred.{logic.task}."

    async def handle(self, d: Delivery) -> Outcome:
        if self._answers_prefix in d.subject:
            return await self._on_answer(d)
        return await self._on_report(d)

    async def _on_report(self, d: Delivery) -> Outcome:
        report = check_report(d)
        annotate(**{REPORT_ID: report.report_id, PRECEDENCE: report.precedence})
        started = self._clock()
        immediate = await _run(self._logic.answer_without_model, report)
        if immediate is not None:
            await self._result(d, report, immediate, self._provenance(started))
            return Ack()
        await self._ask(d, report, attempt=1, started=started, retry=None)
        return Ack()

    async def _on_answer(self, d: Delivery) -> Outcome:
        answer, job = decode_answer(d, self._logic.task)
        report = job.report
        annotate(**{REPORT_ID: report.report_id, PRECEDENCE: report.precedence})
        usage = attempt_usage(job.usage, answer)
        if answer.status == "expired":
            output = TaskOutput(status="expired", detail=answer.error or "deadline passed")
            output = await _run(self._logic.fallback, report, output)
        elif answer.status == "failed":
            output = TaskOutput(status="failed", detail=f"engine: {answer.error}")
            output = await _run(self._logic.fallback, report, output)
        else:
            final = job.attempt >= MAX_ATTEMPTS
            try:
                output = await _run(
                    self._conclude, report, answer.text, answer.finish_reason, final
                )
            except OutputInvalid as exc:
                if not final:
                    log.info(
                        "%s %s attempt %d: %s; retrying",
                        self._logic.task,
                        report.report_id,
                        job.attempt,
                        exc.problem,
                    )
                    retry = Retry(
                        exc.problem,
                        exc.items,
                        previous_max_tokens=job.max_tokens,
                        overran=exc.overran,
                    )
                    await self._ask(
                        d,
                        report,
                        attempt=job.attempt + 1,
                        started=job.started_at,
                        retry=retry,
                        usage=discard(usage, answer),
                    )
                    return Ack()
                output = TaskOutput(
                    status="failed",
                    detail=f"model output unusable after {job.attempt} attempts: {exc}",
                    flags=[invalid_output_flag(self._logic.task, exc)],
                )
                output = await _run(self._logic.fallback, report, output)
        if output.status != "ok":
            usage = discard(usage, answer)
        annotate(
            **{
                "vigie.tokens.prompt_computed": usage.prompt_tokens_computed,
                "vigie.tokens.prompt_reused": usage.prompt_tokens_reused,
                "vigie.tokens.generated": usage.generated_tokens,
                "vigie.tokens.discarded": usage.discarded_tokens,
            }
        )
        provenance = self._provenance(job.started_at, answer, job, usage)
        await self._result(d, report, output, provenance)
        return Ack()

    def _conclude(
        self, report: IngestedReport, text: str, finish: str | None, final: bool
    ) -> TaskOutput:
        return self._logic.conclude(report, text, finish, final=final)

    async def _ask(
        self,
        d: Delivery,
        report: IngestedReport,
        *,
        attempt: int,
        started: dt.datetime,
        retry: Retry | None,
        usage: TokenUsage | None = None,
    ) -> None:
        spec = await _run(self._logic.prompt, report, retry)
        job = Job(
            report=report,
            attempt=attempt,
            started_at=started,
            prompt_version=spec.version,
            prompt_style=spec.style,
            max_tokens=spec.max_tokens,
            usage=usage,
        )
        rid = request_id(report.report_id, self._logic.task, attempt)
        request = InferenceRequest(
            request_id=rid,
            client=self._logic.task,
            label=report.label,
            precedence=report.precedence,
            created_at=self._clock(),
            max_tokens=spec.max_tokens,
            prompt=spec.prompt,
            messages=list(spec.messages) if spec.messages is not None else None,
            stop=list(spec.stop),
            json_schema=dict(spec.json_schema) if spec.json_schema is not None else None,
            deadline=report.deadline_at,
            model=self._model,
            report_id=report.report_id,
            context={JOB_KEY: _job_encoder.encode(job).decode()},
        )
        trace = current_trace(d.headers)
        await self._publisher.publish(
            infer_subject(report.label, report.precedence),
            json_encoder.encode(request),
            msg_id=f"infer:{rid}",
            headers={TRACEPARENT: trace.traceparent},
        )

    def _provenance(
        self,
        started: dt.datetime,
        answer: InferenceResult | None = None,
        job: Job | None = None,
        usage: TokenUsage | None = None,
    ) -> Provenance:
        if answer is None or job is None:
            return Provenance(
                stage=self._logic.task,
                version=self._logic.version,
                started_at=started,
                finished_at=self._clock(),
            )
        return Provenance(
            stage=self._logic.task,
            version=self._logic.version,
            started_at=started,
            finished_at=self._clock(),
            model=answer.model,
            engine=answer.engine,
            adapter=answer.adapter,
            prompt_version=job.prompt_version,
            prompt_style="chat" if job.prompt_style == "chat" else "few-shot",
            attempts=job.attempt,
            prompt_tokens=answer.prompt_tokens,
            completion_tokens=answer.completion_tokens,
            queue_ms=answer.queue_ms,
            ttft_ms=answer.ttft_ms,
            generation_ms=max(0.0, answer.total_ms - answer.queue_ms),
            usage=usage,
        )

    async def _result(
        self, d: Delivery, report: IngestedReport, output: TaskOutput, provenance: Provenance
    ) -> None:
        result = TaskResult(
            report_id=report.report_id,
            task=self._logic.task,
            label=report.label,
            status=output.status,
            detail=output.detail,
            entities=output.entities,
            dropped_entities=output.dropped_entities,
            provenance=provenance,
            text=output.text,
            text_language=output.text_language,
            quality=output.quality,
            flags=output.flags,
            output=output.output,
        )
        record_dropped(self._logic.task, report.label, output.dropped_entities)
        trace = current_trace(d.headers)
        await self._publisher.publish(
            result_subject(report.label, report.precedence),
            json_encoder.encode(result),
            msg_id=f"{report.report_id}:result:{self._logic.task}",
            headers={TRACEPARENT: trace.traceparent},
        )


def attempt_usage(before: TokenUsage | None, answer: InferenceResult) -> TokenUsage:
    """The tokens of the attempts before (``before``) and of the one ``answer`` ends."""
    reused = min(answer.cached_prompt_tokens, answer.prompt_tokens)
    this = TokenUsage(
        prompt_tokens_computed=answer.prompt_tokens - reused,
        prompt_tokens_reused=reused,
        generated_tokens=answer.completion_tokens,
    )
    return this if before is None else before + this


def discard(usage: TokenUsage, answer: InferenceResult) -> TokenUsage:
    """``usage`` with ``answer``'s output counted as discarded (refused, retried, failed)."""
    return msgspec.structs.replace(
        usage, discarded_tokens=usage.discarded_tokens + answer.completion_tokens
    )


async def _run(fn: Callable[..., _T], report: IngestedReport, *args: object) -> _T:
    """Call pure task logic inline for short reports, in a thread for long ones (it scans the
    whole text, and a long scan would stall every other message on the event loop)."""
    if len(report.normalised_text) <= INLINE_TEXT_CHARS:
        return fn(report, *args)
    return await anyio.to_thread.run_sync(fn, report, *args)
