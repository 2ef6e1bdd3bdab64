"""ingest: feeds.<label>.<kind>.<source> → one IngestedReport for collate and one per task."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio.to_thread
import msgspec
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from bus.outcomes import Ack, Delivery, Outcome, Reject
from bus.publish import Outgoing, Publisher, publish_all
from bus.telemetry import PRECEDENCE, REPORT_ID, annotate, current_trace
from bus.topology import collate_subject, parse_feed_subject, work_subject
from schemas import headers as H
from schemas.v1 import Decoder, Flag, IngestedReport, Precedence, Provenance, TaskName, json_encoder
from services.config.schema import CollateConfig
from services.ingest.injection import injection_flag, suspected_injection
from services.ingest.normalise import LanguageIdentifier
from services.ingest.parse import (
    Accepted,
    content_digest,
    parse_feed,
    report_identity,
)
from services.tasks.registry import task_registry

log = logging.getLogger("vigie.ingest")
VERSION = "ingest/1.1"
#: Texts up to this size are identified on the loop (well under a millisecond).
INLINE_TEXT_CHARS = 4096


class SeenRecord(msgspec.Struct, frozen=True):
    """What the dedupe horizon remembers of a report (a key of the label's ingest bucket)."""

    digest: str
    stream: str
    stream_seq: int
    subject: str
    at: dt.datetime


_seen_decoder = Decoder[SeenRecord](SeenRecord)


@dataclass(frozen=True)
class IngestSettings:
    max_text_bytes: int = 262_144
    #: The tasks each report is sent to (configuration: ``ingest.tasks``).
    tasks: tuple[TaskName, ...] = field(default_factory=lambda: task_registry().default_tasks)
    default_precedence: Precedence = "ROUTINE"
    #: Seconds from ingest to a report's partial event: collate's deadlines, one source.
    deadline_for: Callable[[str], float] = CollateConfig().deadline_for


@dataclass
class IngestStats:
    accepted: int = 0
    duplicates: int = 0


class IngestService:
    def __init__(
        self,
        publisher: Publisher,
        dedupe_buckets: dict[str, KeyValue],
        settings: IngestSettings,
        languages: LanguageIdentifier,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._publisher = publisher
        self._buckets = dedupe_buckets
        self.settings = settings
        self._clock = clock
        self._languages = languages
        self.stats = IngestStats()

    async def handle(self, d: Delivery) -> Outcome:
        started = self._clock()
        feed = parse_feed_subject(d.subject)
        if feed is None or feed.label != d.label:
            raise Reject(
                "bad_subject",
                f"{d.subject!r} is not feeds.<label>.<kind>.<source> "
                "with source of [A-Za-z0-9_-]{1,64}",
            )
        parse = functools.partial(
            parse_feed,
            feed.kind,
            d.data,
            d.headers,
            max_text_bytes=self.settings.max_text_bytes,
            default_precedence=self.settings.default_precedence,
        )
        # Decoding and normalising a large input would stall every other message on the loop.
        accepted = (
            parse() if len(d.data) <= INLINE_TEXT_CHARS else await anyio.to_thread.run_sync(parse)
        )
        digest = content_digest(d.data, d.headers)
        report_id = report_identity(d.label, feed.source, d.subject, digest, accepted.publisher_id)
        annotate(**{REPORT_ID: report_id, PRECEDENCE: accepted.precedence})
        if not await self._first_sighting(d, report_id, digest):
            self.stats.duplicates += 1
            log.info("duplicate of %s dropped (%s seq %d)", report_id, d.stream, d.stream_seq)
            return Ack()
        language, confidence = await self._language(accepted)
        flags = await self._flags(accepted.normalised_text)
        trace = current_trace(d.headers)
        ingested_at = self._clock()
        deadline = ingested_at + dt.timedelta(
            seconds=self.settings.deadline_for(accepted.precedence)
        )
        report = IngestedReport(
            report_id=report_id,
            label=d.label,
            kind=feed.kind,  # type: ignore[arg-type]
            source=feed.source,
            subject=d.subject,
            precedence=accepted.precedence,
            original_text=accepted.original_text,
            normalised_text=accepted.normalised_text,
            language=language,
            language_confidence=confidence,
            expected_tasks=list(self.settings.tasks),
            ingested_at=ingested_at,
            deadline_at=deadline,
            trace_id=trace.trace_id,
            publisher_id=accepted.publisher_id,
            observed_at=accepted.observed_at,
            originator=accepted.originator,
            sensor=accepted.sensor,
            flags=flags,
            provenance=[
                Provenance(
                    stage="ingest", version=VERSION, started_at=started, finished_at=ingested_at
                )
            ],
        )
        payload = json_encoder.encode(report)
        headers = {H.TRACEPARENT: trace.traceparent}
        # Collate's copy and the tasks' in one round trip of PubAcks: the tasks start at once.
        # Collate keeps a result that comes before its report (it waits for the report to
        # know what else to wait for), and a failure here redelivers the input, which
        # publishes all of them again under the same dedupe ids.
        await publish_all(
            self._publisher,
            [
                Outgoing(
                    collate_subject(d.label, accepted.precedence),
                    payload,
                    f"{report_id}:ingested",
                    headers,
                ),
                *(
                    Outgoing(
                        work_subject(d.label, task, accepted.precedence),
                        payload,
                        f"{report_id}:work:{task}",
                        headers,
                    )
                    for task in self.settings.tasks
                ),
            ],
        )
        self.stats.accepted += 1
        return Ack()

    async def _first_sighting(self, d: Delivery, report_id: str, digest: str) -> bool:
        """True for a new report (or a redelivery of the message that first carried it)."""
        kv = self._buckets[d.label]
        record = SeenRecord(digest, d.stream, d.stream_seq, d.subject, self._clock())
        while True:
            # Create first: for a new report (the common case) that is one round trip.
            try:
                await kv.create(report_id, json_encoder.encode(record))
                return True
            except KeyWrongLastSequenceError:
                pass
            try:
                entry = await kv.get(report_id)
            except KeyNotFoundError:
                continue  # expired between the two calls: try to create again
            assert entry.value is not None
            seen = _seen_decoder.decode(entry.value)
            if (seen.stream, seen.stream_seq) == (d.stream, d.stream_seq):
                return True  # a redelivery of the message that first carried it
            if H.lookup(d.headers, H.REQUEUE_OF) == f"{seen.stream}:{seen.stream_seq}":
                # A requeued dead letter (original or corrected) of the very input that was
                # recorded and then failed: it takes that input's place instead of being
                # dropped as its duplicate.
                try:
                    await kv.update(report_id, json_encoder.encode(record), last=entry.revision)
                except KeyWrongLastSequenceError:
                    continue
                return True
            if seen.digest != digest:
                raise Reject(
                    "id_conflict",
                    f"report id {report_id} was first seen with other content "
                    f"({seen.stream} seq {seen.stream_seq})",
                    {"first_stream": seen.stream, "first_seq": str(seen.stream_seq)},
                    report_id=report_id,
                )
            return False

    async def _flags(self, text: str) -> list[Flag]:
        """Text that addresses the model is flagged here, once for every task's output."""
        if len(text) <= INLINE_TEXT_CHARS:
            phrases = suspected_injection(text)
        else:
            phrases = await anyio.to_thread.run_sync(suspected_injection, text)
        flag = injection_flag(phrases)
        return [flag] if flag is not None else []

    async def _language(self, accepted: Accepted) -> tuple[str | None, float | None]:
        if accepted.language:
            return accepted.language, 1.0
        text = accepted.normalised_text
        if len(text) <= INLINE_TEXT_CHARS:
            guess = self._languages.identify(text)  # ~0.1 ms: cheaper than a thread hop
        else:
            guess = await anyio.to_thread.run_sync(self._languages.identify, text)
        return (guess.language, guess.confidence) if guess else (None, None)
