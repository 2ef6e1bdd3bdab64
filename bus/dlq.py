"""Dead letters: what a stage could not accept, with the reason and the original bytes."""

from __future__ import annotations

import datetime as dt
import hashlib

from bus.publish import Publisher, PublishReceipt
from bus.topology import dlq_subject
from schemas.headers import MSG_ID
from schemas.v1 import DeadLetter, DeadLetterReason, Label, json_encoder

ORIGINAL_MSG_ID = "Vigie-Original-Msg-Id"
DLQ_REASON = "Vigie-Dlq-Reason"


async def publish_dead_letter(
    publisher: Publisher,
    *,
    stage: str,
    label: Label,
    reason: DeadLetterReason,
    message: str,
    recoverable: bool,
    subject: str,
    headers: dict[str, str],
    data: bytes,
    stream: str | None = None,
    stream_seq: int | None = None,
    deliveries: int | None = None,
    report_id: str | None = None,
    fields: dict[str, str] | None = None,
) -> PublishReceipt:
    """Publish and wait for the PubAck: only then may the input be terminated."""
    letter = DeadLetter(
        stage=stage,
        label=label,
        reason=reason,
        message=message,
        recoverable=recoverable,
        subject=subject,
        headers=headers,
        data=data,
        at=dt.datetime.now(dt.UTC),
        stream=stream,
        stream_seq=stream_seq,
        deliveries=deliveries,
        report_id=report_id,
        fields=fields or {},
    )
    # One dead letter per stored input when it is redelivered within the DLQ stream's duplicate
    # window (redeliveries come within seconds; the window is minutes).
    if stream_seq is not None:
        msg_id = f"dlq:{stage}:{stream}:{stream_seq}"
    else:
        msg_id = f"dlq:{stage}:" + hashlib.sha256(subject.encode() + b"\0" + data).hexdigest()
    extra: dict[str, str] = {DLQ_REASON: reason}
    if MSG_ID in headers:
        extra[ORIGINAL_MSG_ID] = headers[MSG_ID]
    return await publisher.publish(
        dlq_subject(stage, label), json_encoder.encode(letter), msg_id=msg_id, headers=extra
    )
