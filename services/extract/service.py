"""extract: work.<label>.extract.<prec> → a TaskResult with grounded entities for collate.

This release runs the deterministic stage (date-time groups, MGRS, lat/long); the model stage
joins it later behind the same subjects.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import anyio.to_thread
import msgspec

from bus.publish import Publisher
from bus.topology import result_subject
from bus.tracing import continue_or_start
from bus.worker import Ack, Delivery, Outcome, Reject
from schemas.headers import TRACEPARENT
from schemas.v1 import (
    IngestedReport,
    Provenance,
    TaskResult,
    ingested_decoder,
    json_encoder,
    readable,
)
from services.extract.patterns import find_pattern_entities

VERSION = "extract-patterns/1.0"
#: Up to this size scanning takes well under a millisecond: cheaper than a thread hop.
INLINE_TEXT_CHARS = 4096


def decode_work(data: bytes) -> IngestedReport:
    try:
        report = ingested_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise Reject("schema_violation", f"not an IngestedReport: {exc}") from exc
    if not readable(report.schema_version):
        raise Reject("unsupported_version", f"schema_version {report.schema_version} unreadable")
    return report


class ExtractService:
    def __init__(
        self,
        publisher: Publisher,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._publisher = publisher
        self._clock = clock

    async def handle(self, d: Delivery) -> Outcome:
        report = decode_work(d.data)
        started = self._clock()
        reference = report.observed_at or report.ingested_at
        if len(report.normalised_text) <= INLINE_TEXT_CHARS:
            entities = find_pattern_entities(report.normalised_text, reference)
        else:
            # Scanning a long report would stall every other message on the event loop.
            entities = await anyio.to_thread.run_sync(
                find_pattern_entities, report.normalised_text, reference
            )
        result = TaskResult(
            report_id=report.report_id,
            task="extract",
            label=report.label,
            status="ok",
            entities=entities,
            provenance=Provenance(
                stage="extract", version=VERSION, started_at=started, finished_at=self._clock()
            ),
        )
        trace = continue_or_start(d.headers)
        await self._publisher.publish(
            result_subject(report.label, report.precedence),
            json_encoder.encode(result),
            msg_id=f"{report.report_id}:result:extract",
            headers={TRACEPARENT: trace.traceparent},
        )
        return Ack()
