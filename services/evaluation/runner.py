"""Publish the gold reports to a running pipeline and collect their enriched events.

Each report goes to ``feeds.<label>.report.<source>`` with its precedence and a
``Nats-Msg-Id`` unique to the run (``<gold id>.<run id>``: a second run on the same server is
not dropped as a repeat), at most ``inflight`` at a time. The enriched events come back on
``enriched.>``, matched by their ``publisher_id``; a report is done at its first complete event,
or at its dead letter, or after ``report_timeout`` seconds — then its last (partial) event counts as
what it is, and no event as none.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import anyio
import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg

from schemas import headers as H
from schemas.v1 import (
    EnrichedEvent,
    TextReport,
    dead_letter_decoder,
    enriched_decoder,
    json_encoder,
)
from services.evaluation.gold import GoldReport
from services.evaluation.progress import Progress

__all__ = ["Collected", "publish_and_collect", "publisher_id"]

SOURCE = "gold"


def publisher_id(report: GoldReport, run_id: str) -> str:
    return f"{report.id}.{run_id}"


@dataclass
class Collected:
    """Per gold id: its last event (highest revision), whether it completed, and how long."""

    events: dict[str, EnrichedEvent] = field(default_factory=dict)
    complete: set[str] = field(default_factory=set)
    dead: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    #: Reports that could not be published, with why.
    refused: dict[str, str] = field(default_factory=dict)


class _Tracker:
    def __init__(self, reports: Sequence[GoldReport], run_id: str) -> None:
        self.ids = {publisher_id(r, run_id): r.id for r in reports}
        self.done = {r.id: anyio.Event() for r in reports}
        self.result = Collected()

    async def on_event(self, msg: Msg) -> None:
        try:
            event = enriched_decoder.decode(msg.data)
        except msgspec.DecodeError:  # another producer's message on enriched.>: not ours
            return
        gold = self.ids.get(event.publisher_id or "")
        if gold is None:
            return
        last = self.result.events.get(gold)
        if last is None or event.revision >= last.revision:
            self.result.events[gold] = event
        if not event.partial:
            self.result.complete.add(gold)
            self.done[gold].set()

    async def on_dead(self, msg: Msg) -> None:
        try:
            dead = dead_letter_decoder.decode(msg.data)
        except msgspec.DecodeError:
            return
        gold = self.ids.get(H.lookup(dead.headers, H.MSG_ID) or "")
        if gold is not None:
            self.result.dead[gold] = f"{dead.stage}: {dead.reason}: {dead.message}"
            self.done[gold].set()


async def publish_and_collect(
    nc: Client,
    reports: Sequence[GoldReport],
    run_id: str,
    *,
    inflight: int,
    report_timeout: float,
    progress: Progress | None = None,
) -> Collected:
    """Every report through the pipeline behind ``nc`` (see the module docstring)."""
    tracker = _Tracker(reports, run_id)
    subs = [
        await nc.subscribe("enriched.>", cb=tracker.on_event),
        await nc.subscribe("dlq.>", cb=tracker.on_dead),
    ]
    await nc.flush()
    js = nc.jetstream()
    limiter = anyio.CapacityLimiter(max(1, inflight))

    async def one(report: GoldReport) -> None:
        async with limiter:
            pid = publisher_id(report, run_id)
            payload = json_encoder.encode(TextReport(text=report.text))
            started = time.monotonic()
            try:
                await js.publish(
                    f"feeds.{report.label}.report.{SOURCE}",
                    payload,
                    headers={H.MSG_ID: pid, H.PRECEDENCE: report.precedence},
                )
            except Exception as exc:  # refused by the server: recorded, the run goes on
                tracker.result.refused[report.id] = f"{type(exc).__name__}: {exc}"
            else:
                with anyio.move_on_after(report_timeout):
                    await tracker.done[report.id].wait()
            tracker.result.seconds[report.id] = round(time.monotonic() - started, 3)
        if progress is not None:
            progress.advance(report.id)

    try:
        async with anyio.create_task_group() as tg:
            for report in reports:
                tg.start_soon(one, report)
    finally:
        for sub in subs:
            await sub.unsubscribe()
    return tracker.result
