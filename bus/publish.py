"""Durable publishing: every output waits for its PubAck and carries a dedupe id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import anyio
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.errors import APIError, NoStreamResponseError

from bus import telemetry
from schemas.headers import MSG_ID


@dataclass(frozen=True)
class PublishReceipt:
    stream: str
    seq: int
    duplicate: bool


@dataclass
class PublishError(Exception):
    """A publish the server did not store. ``recoverable``: worth retrying later."""

    subject: str
    reason: str
    recoverable: bool
    detail: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        tail = f" ({self.detail})" if self.detail else ""
        return f"publish to {self.subject} refused: {self.reason}{tail}"


class Publisher(Protocol):
    """What a service needs to put a message on the bus durably."""

    async def publish(
        self, subject: str, payload: bytes, *, msg_id: str, headers: dict[str, str] | None = None
    ) -> PublishReceipt: ...


@dataclass(frozen=True)
class Outgoing:
    subject: str
    payload: bytes
    msg_id: str
    headers: dict[str, str] | None = None


async def publish_all(publisher: Publisher, messages: Sequence[Outgoing]) -> list[PublishReceipt]:
    """Publish side by side (one round trip of PubAcks, not one per message); return when every
    one is stored. A failure is raised as itself (the first one, by position) — not as an
    exception group — once the others have ended, so callers read its ``recoverable``."""
    receipts: list[PublishReceipt | None] = [None] * len(messages)
    errors: list[BaseException | None] = [None] * len(messages)

    async def one(i: int, m: Outgoing) -> None:
        try:
            receipts[i] = await publisher.publish(
                m.subject, m.payload, msg_id=m.msg_id, headers=m.headers
            )
        except Exception as exc:
            errors[i] = exc

    async with anyio.create_task_group() as tg:
        for i, m in enumerate(messages):
            tg.start_soon(one, i, m)
    for exc in errors:
        if exc is not None:
            raise exc
    return [r for r in receipts if r is not None]


class JetStreamPublisher:
    def __init__(self, js: JetStreamContext, timeout: float = 5.0) -> None:
        self._js = js
        self._timeout = timeout

    async def publish(
        self,
        subject: str,
        payload: bytes,
        *,
        msg_id: str | None,
        headers: dict[str, str] | None = None,
    ) -> PublishReceipt:
        """``msg_id=None`` publishes without one: the server then cannot drop a repeat.

        Traced as ``send <subject>``, whose context the message's ``traceparent`` carries."""
        hdrs = dict(headers or {})
        if msg_id is not None:
            hdrs[MSG_ID] = msg_id
        with telemetry.send_span(subject, hdrs, msg_id) as span:
            receipt = await self._send(subject, payload, hdrs)
            span.set_attribute("messaging.nats.stream", receipt.stream)
            span.set_attribute("messaging.nats.stream_sequence", receipt.seq)
            if receipt.duplicate:
                span.set_attribute("messaging.nats.duplicate", True)
            return receipt

    async def _send(self, subject: str, payload: bytes, hdrs: dict[str, str]) -> PublishReceipt:
        try:
            ack = await self._js.publish(
                subject, payload, timeout=self._timeout, headers=hdrs or None
            )
        except (NoStreamResponseError, NoRespondersError) as exc:
            raise PublishError(
                subject,
                "no stream captures this subject",
                recoverable=False,
                detail="check the label, kind and source tokens against the subject contract",
            ) from exc
        except APIError as exc:
            description = str(getattr(exc, "description", "") or exc)
            if "message size" in description:
                reason, recoverable = "message too large for the stream", False
            elif "header size" in description:
                reason, recoverable = "headers too large for the stream (64 KiB)", False
            elif "maximum" in description or "insufficient resources" in description:
                reason, recoverable = "stream full", True
            else:
                reason, recoverable = "server refused the message", False
            raise PublishError(subject, reason, recoverable, detail=description) from exc
        except (NatsTimeoutError, TimeoutError) as exc:
            raise PublishError(subject, "no acknowledgement in time", recoverable=True) from exc
        return PublishReceipt(ack.stream, ack.seq, bool(ack.duplicate))
