"""Corrections on the bus: publish one, find the event it names, read a label's corrections.

Readers use an ephemeral pull consumer without acks (what an ``analyst-<label>`` identity may
create on the enriched and feedback streams up to its clearance); nothing here needs more.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

import msgspec
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from bus.publish import Publisher, PublishReceipt
from bus.topology import enriched_subject, stream_name
from schemas.headers import MSG_ID
from schemas.v1 import (
    Correction,
    EnrichedEvent,
    correction_decoder,
    enriched_decoder,
    json_encoder,
)
from services.feedback.correction import check_correction, dedupe_id, subject_of

#: Messages asked of the server per fetch while reading a stream.
FETCH_BATCH = 256


def event_msg_id(report_id: str, revision: int) -> str:
    """The Nats-Msg-Id collate gives the event of ``report_id`` at ``revision``."""
    return f"{report_id}:r{revision}"


async def read_stream(
    js: JetStreamContext,
    stream: str,
    subject: str,
    *,
    since: dt.datetime | None = None,
    headers_only: bool = False,
) -> list[Msg]:
    """Every message of ``stream`` on ``subject`` (stored at or after ``since``), oldest first;
    [] when the stream does not exist."""
    try:
        info = await js.stream_info(stream)
    except NotFoundError:
        return []
    if info.state.messages == 0:
        return []
    config = ConsumerConfig(
        ack_policy=AckPolicy.NONE,
        deliver_policy=DeliverPolicy.BY_START_TIME if since else DeliverPolicy.ALL,
        opt_start_time=since.astimezone(dt.UTC) if since else None,
        headers_only=headers_only or None,
        inactive_threshold=30.0,
    )
    sub = await js.pull_subscribe(subject, stream=stream, config=config)
    out: list[Msg] = []
    try:
        while True:
            try:
                batch = await sub.fetch(FETCH_BATCH, timeout=1.0)
            except (NatsTimeoutError, TimeoutError):
                break
            out += batch
            last = batch[-1].metadata
            if last.num_pending == 0:
                break
    finally:
        await sub.unsubscribe()
    return out


async def find_event(
    js: JetStreamContext, label: str, kind: str, source: str, report_id: str, revision: int
) -> EnrichedEvent | None:
    """The event ``report_id`` at ``revision`` on ``enriched.<label>.<kind>.<source>``; None
    when the label's stream holds no such event (never published, or purged)."""
    stream = stream_name("enriched", label)
    wanted = event_msg_id(report_id, revision)
    heads = await read_stream(js, stream, enriched_subject(label, kind, source), headers_only=True)
    for msg in reversed(heads):
        if (msg.headers or {}).get(MSG_ID) == wanted:
            raw = await js.get_msg(stream, msg.metadata.sequence.stream)
            event = enriched_decoder.decode(raw.data or b"")
            if event.report_id == report_id and event.revision == revision:
                return event
    return None


async def events_by_id(
    js: JetStreamContext, label: str, wanted: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], EnrichedEvent]:
    """The label's events among ``wanted`` (report id, revision), read in one pass."""
    want = set(wanted)
    found: dict[tuple[str, int], EnrichedEvent] = {}
    if not want:
        return found
    for msg in await read_stream(js, stream_name("enriched", label), f"enriched.{label}.>"):
        try:
            event = enriched_decoder.decode(msg.data)
        except msgspec.DecodeError:
            continue
        key = (event.report_id, event.revision)
        if key in want:
            found[key] = event
    return found


async def read_corrections(
    js: JetStreamContext, label: str, since: dt.datetime | None = None
) -> list[Correction]:
    """Every correction stored in FEEDBACK_<label> (since ``since``), oldest first; a message
    there that is not a valid correction of that label is skipped, never trusted."""
    out: list[Correction] = []
    for msg in await read_stream(
        js, stream_name("feedback", label), f"feedback.{label}.>", since=since
    ):
        try:
            correction = correction_decoder.decode(msg.data)
        except msgspec.DecodeError:
            continue
        if correction.label == label:
            out.append(correction)
    return out


async def submit_correction(
    js: JetStreamContext,
    publisher: Publisher,
    correction: Correction,
    fills: Mapping[str, tuple[str, ...]] | None = None,
) -> PublishReceipt:
    """Check ``correction`` against the event it names (CorrectionError when there is none or
    it does not fit), then publish it on its label's feedback subject."""
    event = await find_event(
        js,
        correction.label,
        correction.kind,
        correction.source,
        correction.report_id,
        correction.revision,
    )
    check_correction(correction, event, fills)
    return await publish_correction(publisher, correction)


async def publish_correction(publisher: Publisher, correction: Correction) -> PublishReceipt:
    """Publish an already checked correction (a form that holds the event calls this)."""
    return await publisher.publish(
        subject_of(correction), json_encoder.encode(correction), msg_id=dedupe_id(correction)
    )
