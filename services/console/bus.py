"""The console's side of the bus: it reads with the analyst's own credentials, nothing else.

For each label those credentials may read, an ordered consumer per stream (enriched, dead
letters, audit) starts ``replay`` messages before the stream's end and stays live: the page gets
the recent past, then the present, with no gap between them. Which labels are readable is what
the SERVER answers: every candidate stream is asked for its info and those refused are left out
(``candidates`` defaults to the labels the identity is cleared for; a wider list only shows
the refusals).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from bus.security.permissions import cleared
from bus.topology import Topology, audit_subject, stream_name
from schemas.v1 import (
    LABELS,
    AuditRecord,
    EnrichedEvent,
    audit_record_decoder,
    dead_letter_decoder,
    enriched_decoder,
    json_encoder,
)
from services.cli.health import collect
from services.console.feed import replay_start

log = logging.getLogger("vigie.console")

#: How long a readable stream takes to answer its info at start; a refused one never does.
PROBE_TIMEOUT = 2.0
HEALTH_WAIT = 1.0

Handler = Callable[[str, Msg], Awaitable[None]]


@dataclass(frozen=True)
class Reader:
    """Who the console reads as: the NATS identity (``analyst-<level>``) and its level."""

    identity: str | None

    @property
    def level(self) -> str | None:
        head, _, level = (self.identity or "").rpartition("-")
        return level if head == "analyst" and level in LABELS else None

    def candidates(self, topology: Topology) -> tuple[str, ...]:
        labels = topology.settings.labels
        if self.level is None:
            return labels
        return tuple(lb for lb in cleared(self.level) if lb in labels)


@dataclass
class ConsoleBus:
    nc: Client
    topology: Topology
    reader: Reader
    replay: int
    labels: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()
    _subs: list[Any] = field(default_factory=list)

    @property
    def js(self) -> JetStreamContext:
        return self.nc.jetstream(timeout=PROBE_TIMEOUT)

    async def probe(self, candidates: tuple[str, ...]) -> tuple[str, ...]:
        """The candidate labels whose enriched stream the server lets us read."""
        ok: dict[str, bool] = {}

        async def one(label: str) -> None:
            ok[label] = False
            with anyio.move_on_after(PROBE_TIMEOUT + 0.5):
                try:
                    await self.js.stream_info(stream_name("enriched", label))
                    ok[label] = True
                except Exception as exc:  # refused, absent or timed out: not readable
                    log.info("console: label %s not readable: %s", label, exc or type(exc).__name__)

        async with anyio.create_task_group() as tg:
            for label in candidates:
                tg.start_soon(one, label)
        self.labels = tuple(lb for lb in candidates if ok[lb])
        self.refused = tuple(lb for lb in candidates if not ok[lb])
        return self.labels

    async def follow(self, role: str, on_msg: Handler) -> None:
        """An ordered consumer on ``role``'s stream of every readable label: replay, then live."""
        js = self.js
        for label in self.labels:
            stream = stream_name(role, label)
            try:
                info = await js.stream_info(stream)
            except Exception as exc:
                log.warning("console: cannot read %s: %s", stream, exc or type(exc).__name__)
                continue
            start = replay_start(info.state.first_seq, info.state.last_seq, self.replay)
            # Every stream of the topology has one subject pattern per label.
            subjects = list(info.config.subjects or ())

            async def deliver(msg: Msg, _label: str = label) -> None:
                await on_msg(_label, msg)

            config = ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=start,
                filter_subjects=subjects if len(subjects) > 1 else None,
            )
            sub = await js.subscribe(
                subjects[0] if len(subjects) == 1 else "",
                stream=stream,
                cb=deliver,
                ordered_consumer=True,
                config=config,
            )
            self._subs.append(sub)

    async def close(self) -> None:
        for sub in self._subs:
            with anyio.move_on_after(1.0):
                try:
                    await sub.unsubscribe()
                except Exception:
                    log.debug("unsubscribe failed", exc_info=True)
        self._subs.clear()

    async def health(self) -> dict[str, Any]:
        """The services' health figures (``vigie health``) and the readable streams' counts."""
        instances = await collect(self.nc, list(self.topology.stages), HEALTH_WAIT)
        streams: list[dict[str, Any]] = []
        js = self.js
        for label in self.labels:
            for role in ("enriched", "dlq", "audit"):
                name = stream_name(role, label)
                try:
                    info = await js.stream_info(name)
                except Exception as exc:
                    streams.append({"stream": name, "error": str(exc) or type(exc).__name__})
                    continue
                streams.append(
                    {
                        "stream": name,
                        "label": label,
                        "messages": info.state.messages,
                        "bytes": info.state.bytes,
                        "last_seq": info.state.last_seq,
                    }
                )
        return {
            "instances": [health_view(i, self.labels) for i in instances],
            "streams": streams,
        }

    async def record(
        self, action: str, event: EnrichedEvent, user: str | None, detail: str | None = None
    ) -> AuditRecord:
        """Write an audit record (awaiting its PubAck) at the reader's level, else the
        report's label (an open server has no levels)."""
        label = self.reader.level or event.label
        record = AuditRecord(
            action=action,  # type: ignore[arg-type]
            label=label,  # type: ignore[arg-type]
            report_id=event.report_id,
            report_label=event.label,
            identity=self.reader.identity,
            user=user,
            at=dt.datetime.now(dt.UTC),
            revision=event.revision,
            detail=detail,
        )
        await self.js.publish(audit_subject(label, action), json_encoder.encode(record))
        return record


def health_view(instance: dict[str, Any], labels: tuple[str, ...]) -> dict[str, Any]:
    """One service instance's figures, its consumers narrowed to the readable labels."""
    status = instance.get("status") if isinstance(instance.get("status"), dict) else {}
    assert isinstance(status, dict)
    worker = status.get("worker") if isinstance(status.get("worker"), dict) else None
    consumers = []
    if worker is not None:
        consumers = [
            c
            for c in worker.get("consumers") or []
            if isinstance(c, str) and _label_of(c) in labels
        ]
    return {
        "service": instance.get("service"),
        "id": instance.get("id"),
        "version": instance.get("version"),
        "state": status.get("state"),
        "ready": status.get("ready"),
        "problems": [str(p) for p in status.get("problems") or []],
        "uptime_s": status.get("uptime_s"),
        "in_flight": worker.get("in_flight") if worker else None,
        "concurrency": worker.get("concurrency") if worker else None,
        "consumers": consumers,
    }


def _label_of(durable: str) -> str | None:
    for token in durable.split("-"):
        if token in LABELS:
            return token
    return None


def decode_enriched(data: bytes) -> EnrichedEvent | None:
    try:
        return enriched_decoder.decode(data)
    except msgspec.DecodeError as exc:
        log.warning("console: an enriched message does not decode (%s); not shown", exc)
        return None


def decode_dead_letter(data: bytes) -> Any:
    try:
        return dead_letter_decoder.decode(data)
    except msgspec.DecodeError:
        return None


def decode_audit(data: bytes) -> AuditRecord | None:
    try:
        return audit_record_decoder.decode(data)
    except msgspec.DecodeError:
        return None
