"""Drive a planned, open-loop feed into a running Vigie and watch what comes out.

The driver publishes each item at its scheduled time (a task per publish: a slow PubAck never
delays the next send), reads every enriched event and dead letter with core subscriptions, and
samples the consumers' backlog once a second. It speaks only the bus and the wire schemas.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from nats.aio.msg import Msg

from bus.telemetry import new_root
from loadtest.stats import LatencyBook, Sample, stage_of
from loadtest.synth import Synthetic
from schemas import headers as H


class _EventHead(msgspec.Struct):
    """The few fields of an EnrichedEvent the driver needs (the rest is not decoded)."""

    publisher_id: str | None = None
    partial: bool = False
    revision: int = 1
    precedence: str = "ROUTINE"


class _DeadHead(msgspec.Struct):
    reason: str = "unknown"
    stage: str = "unknown"
    headers: dict[str, str] = {}


_event_head = msgspec.json.Decoder(_EventHead)
_dead_head = msgspec.json.Decoder(_DeadHead)


@dataclass
class Track:
    item: Synthetic
    scheduled: float
    sent_at: float | None = None
    acked_at: float | None = None
    first_at: float | None = None
    complete_at: float | None = None
    partial: bool = False
    dead: str | None = None
    publish_error: str | None = None


@dataclass
class Outcome:
    """Everything a run observed; times are ``time.perf_counter()`` values."""

    start: float
    send_end: float
    end: float
    tracks: dict[str, Track]
    latency: LatencyBook
    samples: list[Sample]
    deadlines: dict[str, float]
    extra_events: int = 0
    duplicate_complete: int = 0
    dead_reasons: Counter[str] = field(default_factory=Counter)
    late_sends: int = 0
    max_send_lag_ms: float = 0.0
    deliveries_start: int = 0

    def goodput(self, precedence: str | None = None) -> int:
        """Reports whose complete event arrived within their precedence's deadline."""
        return sum(
            1
            for t in self.tracks.values()
            if (precedence is None or t.item.precedence == precedence)
            and t.complete_at is not None
            and t.complete_at - t.scheduled <= self.deadlines[t.item.precedence]
        )


class Driver:
    def __init__(
        self,
        nc: Any,
        labels: Sequence[str],
        deadlines: Mapping[str, float],
        *,
        progress: bool = True,
        sample_interval: float = 1.0,
        publish_timeout: float = 10.0,
    ) -> None:
        self.nc = nc
        self.js = nc.jetstream(timeout=publish_timeout)
        self.labels = tuple(labels)
        self.deadlines = dict(deadlines)
        self.progress = progress
        self.sample_interval = sample_interval
        self.tracks: dict[str, Track] = {}
        self.latency = LatencyBook()
        self.samples: list[Sample] = []
        self._changed = asyncio.Event()
        self._pending: set[asyncio.Task[None]] = set()
        self._completed = 0
        self._extra_events = 0
        self._dup_complete = 0
        self._dead = Counter[str]()
        self._t0 = 0.0

    # ------------------------------------------------------------------ inputs and outputs

    async def _on_event(self, msg: Msg) -> None:
        now = time.perf_counter()
        try:
            head = _event_head.decode(msg.data)
        except msgspec.DecodeError:
            return
        track = self.tracks.get(head.publisher_id or "")
        if track is None:
            return
        if track.first_at is None:
            track.first_at = now
            self.latency.record(track.item.precedence, now - track.scheduled)
        else:
            self._extra_events += 1
        if head.partial:
            track.partial = True
        elif track.complete_at is None:
            track.complete_at = now
            self._completed += 1
            self._changed.set()
        else:
            self._dup_complete += 1

    async def _on_dead(self, msg: Msg) -> None:
        try:
            head = _dead_head.decode(msg.data)
        except msgspec.DecodeError:
            return
        self._dead[f"{head.stage}:{head.reason}"] += 1
        track = self.tracks.get(H.lookup(head.headers, H.MSG_ID) or "")
        if track is not None and track.dead is None:
            track.dead = head.reason
            self._changed.set()

    async def _publish(self, track: Track) -> None:
        item = track.item
        headers = {**item.headers, H.TRACEPARENT: new_root().traceparent}
        track.sent_at = time.perf_counter()
        try:
            await self.js.publish(item.subject, item.payload, headers=headers)
            track.acked_at = time.perf_counter()
        except Exception as exc:
            track.publish_error = f"{type(exc).__name__}: {exc}"[:200]
            self._changed.set()

    # ------------------------------------------------------------------ the backlog

    async def deliveries_and_backlog(self) -> tuple[int, int, dict[str, int], int, int]:
        """Over the feeds and work consumers: (Σ deliveries, backlog, backlog per stage,
        Σ redelivered now, parked). Backlog is pending + ack-pending, except collate's
        ack-pending: the report records it parks until complete (counted as parked)."""
        deliveries = backlog = redelivered = parked = 0
        by_stage: Counter[str] = Counter()
        for label in self.labels:
            for stream in (f"FEEDS_{label.upper()}", f"WORK_{label.upper()}"):
                for info in await self.js.consumers_info(stream):
                    stage = stage_of(info.name)
                    held = info.num_ack_pending or 0
                    if stage == "collate":
                        parked += held
                        held = 0
                    waiting = (info.num_pending or 0) + held
                    backlog += waiting
                    by_stage[stage] += waiting
                    redelivered += info.num_redelivered or 0
                    deliveries += (info.delivered.consumer_seq or 0) if info.delivered else 0
        return deliveries, backlog, dict(by_stage), redelivered, parked

    async def _watch(self, planned: int) -> None:
        last_line = 0.0
        tty = sys.stderr.isatty()
        while True:
            await asyncio.sleep(self.sample_interval)
            now = time.perf_counter()
            try:
                (
                    deliveries,
                    backlog,
                    by_stage,
                    redelivered,
                    parked,
                ) = await self.deliveries_and_backlog()
            except Exception:
                continue
            sent = sum(1 for t in self.tracks.values() if t.sent_at is not None)
            sample = Sample(
                t=round(now - self._t0, 3),
                sent=sent,
                completed=self._completed,
                backlog=backlog,
                by_stage=by_stage,
                parked=parked,
                redelivered=redelivered,
                deliveries=deliveries,
                dead_letters=sum(self._dead.values()),
            )
            self.samples.append(sample)
            if self.progress and (tty or now - last_line >= 5):
                last_line = now
                p50 = self.latency.percentile_ms("ALL", 50)
                p99 = self.latency.percentile_ms("ALL", 99)
                line = (
                    f"[{sample.t:6.1f}s] sent {sent}/{planned}  enriched {self._completed}  "
                    f"backlog {backlog}  parked {parked}  redelivered {redelivered}  "
                    f"dlq {sample.dead_letters}  "
                    f"p50 {_fmt(p50)}  p99 {_fmt(p99)}"
                )
                print(f"\r{line:<110}" if tty else line, end="" if tty else "\n", file=sys.stderr)
                sys.stderr.flush()

    # ------------------------------------------------------------------ one run

    def _settled(self) -> bool:
        return all(
            t.complete_at is not None or t.dead is not None or t.publish_error is not None
            for t in self.tracks.values()
        )

    async def run(self, plan: Sequence[tuple[float, Synthetic]], drain: float) -> Outcome:
        """Send ``plan`` (offset seconds, item) open loop; then wait up to ``drain`` seconds."""
        subs = [
            await self.nc.subscribe(
                "enriched.>", cb=self._on_event, pending_msgs_limit=-1, pending_bytes_limit=-1
            ),
            await self.nc.subscribe(
                "dlq.>", cb=self._on_dead, pending_msgs_limit=-1, pending_bytes_limit=-1
            ),
        ]
        deliveries_start = (await self.deliveries_and_backlog())[0]
        self._t0 = start = time.perf_counter() + 0.2
        for offset, item in plan:
            self.tracks[item.ident] = Track(item, start + offset)
        watcher = asyncio.create_task(self._watch(len(plan)))
        late, max_lag = 0, 0.0
        try:
            for track in self.tracks.values():
                delay = track.scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                lag = time.perf_counter() - track.scheduled
                max_lag = max(max_lag, lag)
                late += lag > 0.01
                task = asyncio.create_task(self._publish(track))
                self._pending.add(task)
                task.add_done_callback(self._pending.discard)
            send_end = time.perf_counter()
            stop_at = send_end + drain
            while not self._settled() and time.perf_counter() < stop_at:
                self._changed.clear()
                try:
                    await asyncio.wait_for(self._changed.wait(), stop_at - time.perf_counter())
                except TimeoutError:
                    break
            end = time.perf_counter()
            await asyncio.gather(*self._pending, return_exceptions=True)
            await asyncio.sleep(self.sample_interval)  # one last sample after the drain
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
            for sub in subs:
                await sub.unsubscribe()
            if self.progress and sys.stderr.isatty():
                print(file=sys.stderr)
        return Outcome(
            start=start,
            send_end=send_end,
            end=end,
            tracks=self.tracks,
            latency=self.latency,
            samples=self.samples,
            deadlines=self.deadlines,
            extra_events=self._extra_events,
            duplicate_complete=self._dup_complete,
            dead_reasons=self._dead,
            late_sends=late,
            max_send_lag_ms=round(max_lag * 1000, 2),
            deliveries_start=deliveries_start,
        )


def _fmt(ms: float | None) -> str:
    if ms is None:
        return "–"
    return f"{ms / 1000:.2f}s" if ms >= 1000 else f"{ms:.0f}ms"
