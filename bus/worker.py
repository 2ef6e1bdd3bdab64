"""The worker loop every service runs: pull, handle, settle — and drain on request.

Guarantees, in order of importance:

* A message is acknowledged only after the handler returned, i.e. after every output it
  published got its PubAck. A crash before that redelivers the message.
* Bad input is dead-lettered (published AND acknowledged) before the input is terminated.
* Recoverable failures are ``nak``-ed with a growing delay; after ``max_deliveries`` attempts
  the message is dead-lettered with its last error instead of looping forever.
* While a handler runs, ``in_progress`` heartbeats keep the short ack wait from expiring, so a
  live worker keeps its message and a dead worker's messages come back within seconds.
* ``stop()`` stops fetching, lets in-flight handlers finish within ``drain_timeout``, and
  ``nak``-s whatever is still unfinished so another worker takes it at once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import anyio
from anyio.abc import TaskGroup
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from opentelemetry.trace import Span

from bus import telemetry
from bus.dlq import publish_dead_letter
from bus.outcomes import (
    Defer,
    Delivery,
    DeliveryBudget,
    Handler,
    Reject,
    fixed_budget,
)
from bus.publish import Publisher
from bus.slots import SlotPool
from bus.topology import PRECEDENCES, URGENT, ConsumerSpec, consumer_precedence
from schemas.v1 import DeadLetterReason, Label

log = logging.getLogger("vigie.worker")


@dataclass(frozen=True)
class WorkerSettings:
    concurrency: int = 64
    #: Of ``concurrency``, slots only FLASH and IMMEDIATE messages may take.
    reserved_slots: int = 0
    fetch_batch: int = 64
    fetch_timeout: float = 2.0
    #: How long a busy consumer's batch request may wait for more messages to arrive.
    batch_linger: float = 0.005
    ack_wait: float = 10.0
    max_deliveries: int = 5
    nak_backoff: tuple[float, ...] = (1.0, 5.0, 30.0)
    drain_timeout: float = 10.0

    @property
    def heartbeat_interval(self) -> float:
        return max(0.2, self.ack_wait / 3)

    def backoff(self, num_delivered: int) -> float:
        index = min(max(num_delivered - 1, 0), len(self.nak_backoff) - 1)
        return self.nak_backoff[index]


@dataclass
class WorkerStats:
    handled: int = 0
    acked: int = 0
    deferred: int = 0
    retried: int = 0
    dead_lettered: int = 0


class Worker:
    """Runs ``handler`` over the messages of ``consumers`` until ``stop()``."""

    def __init__(
        self,
        js: JetStreamContext,
        publisher: Publisher,
        *,
        stage: str,
        consumers: list[ConsumerSpec],
        handler: Handler,
        settings: WorkerSettings | None = None,
        delivery_budget: DeliveryBudget = fixed_budget,
    ) -> None:
        if not consumers:
            raise ValueError(f"{stage}: no consumers to pull from")
        self._js = js
        self._publisher = publisher
        self.stage = stage
        self._consumers = consumers
        self._handler = handler
        self._budget = delivery_budget
        self.settings = settings or WorkerSettings()
        self.slots = SlotPool(
            self.settings.concurrency,
            reserved=self.settings.reserved_slots,
            urgent_below=PRECEDENCES.index(URGENT[-1]) + 1,
        )
        self.stats = WorkerStats()
        self._stopping = anyio.Event()
        self._fetching = anyio.CancelScope()
        self._in_flight = 0
        self._idle = anyio.Event()
        self._idle.set()
        self._subs: list[Any] = []
        self._working: dict[int, tuple[Msg, float]] = {}

    @property
    def consumers(self) -> list[ConsumerSpec]:
        return list(self._consumers)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def stopping(self) -> bool:
        """``stop()`` was called: fetching has ended, in-flight work is draining."""
        return self._stopping.is_set()

    def stop(self) -> None:
        self._stopping.set()
        self._fetching.cancel()

    async def run(self) -> None:
        async with anyio.create_task_group() as handlers:
            handlers.start_soon(self._heartbeats)
            with self._fetching:
                async with anyio.create_task_group() as fetchers:
                    for spec in self._consumers:
                        fetchers.start_soon(self._fetch_loop, spec, handlers)
            # Fetching has stopped: give in-flight work its bounded time, then hand it back.
            with anyio.move_on_after(self.settings.drain_timeout):
                await self._idle.wait()
            if self._in_flight:
                log.warning(
                    "%s: drain timeout, returning %d in-flight", self.stage, self._in_flight
                )
            handlers.cancel_scope.cancel()  # the heartbeat loop, and whatever did not finish
        # Pull subscriptions would make the connection's drain wait for messages that nobody
        # will fetch; unsubscribing hands them back to the server (redelivered after ack wait).
        for sub in self._subs:
            with anyio.move_on_after(2.0):
                try:
                    await sub.unsubscribe()
                except Exception:
                    log.debug("unsubscribe failed", exc_info=True)

    async def _fetch_loop(self, spec: ConsumerSpec, handlers: TaskGroup) -> None:
        rank = PRECEDENCES.index(consumer_precedence(spec))
        sub = await self._bind(spec)
        self._subs.append(sub)
        label: Label = spec.stream.rsplit("_", 1)[1].lower()  # type: ignore[assignment]
        want = 1
        failures = 0
        while not self._stopping.is_set():
            taken = await self.slots.acquire(rank, want)
            # Idle: long-poll for one message. Busy: take what is there now. A long-poll for a
            # whole batch would hold the first message back until the batch filled or expired.
            timeout = self.settings.fetch_timeout if want == 1 else self.settings.batch_linger
            try:
                # Shielded from stop(): a fetch cancelled half-way would leave delivered
                # messages in the client's buffer, unhandled until their ack wait ran out.
                # It ends within its timeout, and what it brings is handled by the drain.
                with anyio.CancelScope(shield=True):
                    msgs = await sub.fetch(taken, timeout=timeout)
            except TimeoutError:
                msgs = []
            except Exception as exc:  # disconnected, server restarting: keep trying
                failures += 1
                self.slots.release(taken, rank)
                delay = min(5.0, 0.1 * 2**failures)
                log.warning(
                    "%s: fetch from %s failed (%s); retry in %.1fs",
                    self.stage,
                    spec.durable,
                    exc,
                    delay,
                )
                await anyio.sleep(delay)
                continue
            failures = 0
            if len(msgs) > taken:
                self.slots.overdraw(len(msgs) - taken, rank)
            else:
                self.slots.release(taken - len(msgs), rank)
            # An idle consumer holds one slot while it long-polls; a busy one asks for a batch.
            want = self.settings.fetch_batch if msgs else 1
            for msg in msgs:
                self._in_flight += 1
                self._idle = anyio.Event() if self._idle.is_set() else self._idle
                handlers.start_soon(self._handle, msg, spec, label, rank)

    async def _bind(self, spec: ConsumerSpec) -> Any:
        while True:
            try:
                return await self._js.pull_subscribe_bind(
                    durable=spec.durable, stream=spec.stream, pending_msgs_limit=4096
                )
            except Exception as exc:
                log.warning("%s: cannot bind %s (%s); retrying", self.stage, spec.durable, exc)
                await anyio.sleep(1.0)

    async def _handle(self, msg: Msg, spec: ConsumerSpec, label: Label, rank: int) -> None:
        meta = msg.metadata
        delivery = Delivery(
            subject=msg.subject,
            data=msg.data,
            headers=dict(msg.headers or {}),
            stream=meta.stream,
            stream_seq=meta.sequence.stream,
            num_delivered=meta.num_delivered,
            consumer=spec.durable,
            label=label,
        )
        with telemetry.process_span(
            delivery.subject,
            delivery.headers,
            consumer=spec.durable,
            stream=delivery.stream,
            stream_seq=delivery.stream_seq,
            delivery_count=delivery.num_delivered,
            attributes={
                telemetry.LABEL: label,
                telemetry.PRECEDENCE: consumer_precedence(spec),
                "vigie.stage": self.stage,
            },
        ) as span:
            await self._process(msg, delivery, span, rank)

    async def _process(self, msg: Msg, delivery: Delivery, span: Span, rank: int) -> None:
        """Handle, settle, and give the slot back (``rank``: the one it was taken for)."""
        settled = False
        try:
            self._working[id(msg)] = (msg, anyio.current_time())
            try:
                outcome = await self._handler(delivery)
            finally:
                del self._working[id(msg)]
            self.stats.handled += 1
            if isinstance(outcome, Defer):
                self.stats.deferred += 1
                telemetry.event("nak", delay_s=outcome.delay, deferred=True)
                await _settle(msg.nak(delay=outcome.delay))
            else:
                self.stats.acked += 1
                telemetry.event("ack")
                await _settle(msg.ack())
            settled = True
        except Reject as rej:
            telemetry.fail(span, rej, rej.reason)
            settled = await self._dead_letter(
                msg, delivery, rej.reason, rej.message, rej.recoverable, rej.fields, rej.report_id
            )
        except Exception as exc:
            telemetry.fail(span, exc)
            settled = await self._on_failure(msg, delivery, exc)
        finally:
            if not settled:
                # Cancelled by drain or a failed dead-letter publish: hand it straight back.
                with anyio.CancelScope(shield=True), anyio.move_on_after(2.0):
                    telemetry.event("nak", returned=True)
                    try:
                        await msg.nak()
                    except Exception:
                        log.debug("nak failed; ack wait will redeliver", exc_info=True)
            self.slots.release(1, rank)
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def _on_failure(self, msg: Msg, delivery: Delivery, exc: Exception) -> bool:
        try:
            budget = self._budget(delivery, self.settings.max_deliveries)
        except Exception:
            budget = self.settings.max_deliveries
        if delivery.num_delivered >= budget:
            return await self._dead_letter(
                msg,
                delivery,
                "max_deliveries",
                f"failed {delivery.num_delivered} times; last error: {exc}",
                recoverable=True,
                fields={"error_type": type(exc).__name__},
                report_id=None,
            )
        delay = self.settings.backoff(delivery.num_delivered)
        recoverable = getattr(exc, "recoverable", None)
        level = logging.INFO if recoverable else logging.ERROR
        log.log(
            level,
            "%s: %s seq %d failed (%s); retry in %.0fs",
            self.stage,
            delivery.stream,
            delivery.stream_seq,
            exc,
            delay,
            exc_info=recoverable is None,
        )
        self.stats.retried += 1
        telemetry.event("nak", delay_s=delay)
        await _settle(msg.nak(delay=delay))
        return True

    async def _dead_letter(
        self,
        msg: Msg,
        delivery: Delivery,
        reason: DeadLetterReason,
        message: str,
        recoverable: bool,
        fields: dict[str, str],
        report_id: str | None,
    ) -> bool:
        try:
            await publish_dead_letter(
                self._publisher,
                stage=self.stage,
                label=delivery.label,
                reason=reason,
                message=message,
                recoverable=recoverable,
                subject=delivery.subject,
                headers=delivery.headers,
                data=delivery.data,
                stream=delivery.stream,
                stream_seq=delivery.stream_seq,
                deliveries=delivery.num_delivered,
                report_id=report_id,
                fields=fields,
            )
        except Exception as exc:  # PublishError, or the client refusing it (buffer full, too big)
            log.error("%s: dead letter not stored (%s); input kept for retry", self.stage, exc)
            await _settle(msg.nak(delay=self.settings.backoff(delivery.num_delivered)))
            return True
        # Only now that the dead letter is stored may the input go.
        # A lost term is harmless: the redelivery's dead letter has the same dedupe id.
        telemetry.event("term", **{"vigie.dead_letter.reason": reason})
        await _settle(msg.term())
        self.stats.dead_lettered += 1
        telemetry.count_dead_letter(self.stage, reason, delivery.label)
        log.info(
            "%s: dead-lettered %s seq %d: %s",
            self.stage,
            delivery.stream,
            delivery.stream_seq,
            reason,
        )
        return True

    async def _heartbeats(self) -> None:
        """One loop for all in-flight messages (not a task per message: that costs more than
        most handlers): each handled for longer than the interval gets ``in_progress``."""
        interval = self.settings.heartbeat_interval
        while True:
            await anyio.sleep(interval)
            now = anyio.current_time()
            for msg, started in list(self._working.values()):
                if now - started >= interval:
                    try:
                        await msg.in_progress()
                    except Exception:
                        log.debug("in_progress failed", exc_info=True)


async def _settle(settling: Awaitable[None]) -> None:
    """Ack, nak or term; a failure (connection lost) is logged, not raised: the server
    redelivers after the ack wait, and the outputs' dedupe ids make that harmless."""
    try:
        await settling
    except Exception:
        log.warning("could not settle a message; the server will redeliver it", exc_info=True)
