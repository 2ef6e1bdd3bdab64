"""collate: reports and task results → one enriched event per revision, exactly once."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass

import anyio
import msgspec
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from bus.outcomes import Ack, Defer, Delivery, Outcome, Reject, decode_or_reject
from bus.publish import Publisher
from bus.telemetry import REPORT_ID, annotate, current_trace
from bus.topology import enriched_subject
from schemas.headers import TRACEPARENT
from schemas.v1 import (
    CollateInput,
    CollateState,
    IngestedReport,
    PublishedRevision,
    collate_input_decoder,
    collate_state_decoder,
    json_encoder,
)
from services.collate import logic
from services.telemetry.service import record_published

log = logging.getLogger("vigie.collate")
#: A report id the state bucket can key by: dot-separated tokens of [-/_=a-zA-Z0-9], and short
#: (the key is a subject token; ingest's ids are 32 hex digits).
_KEY = re.compile(r"^[-/_=a-zA-Z0-9]+(?:\.[-/_=a-zA-Z0-9]+)*$")
MAX_KEY_CHARS = 256


@dataclass
class CollateStats:
    published: int = 0
    partial: int = 0
    revisions: int = 0


class KnownStates:
    """The state (and bucket revision) this process last read or wrote per report, and a lock
    per report so that this process's handlers of one report take turns.

    A known state is only a hint for the next compare-and-set write: a write that succeeds
    proves it was current, a refused one rereads. Without it each result costs a read, and the
    three results of one report, handled side by side, refuse each other's writes."""

    #: A report's results arrive within moments of each other, so the reports in flight in one
    #: process are what is worth remembering; each state holds the report's texts and results, so
    #: more would show as memory growth under overload.
    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self._states: OrderedDict[tuple[str, str], tuple[CollateState, int]] = OrderedDict()
        self._locks: dict[tuple[str, str], tuple[anyio.Lock, int]] = {}

    @property
    def depth(self) -> int:
        return len(self._states)

    def get(self, key: tuple[str, str]) -> tuple[CollateState, int] | None:
        return self._states.get(key)

    def put(self, key: tuple[str, str], state: CollateState, seq: int) -> None:
        self._states[key] = (state, seq)
        self._states.move_to_end(key)
        while len(self._states) > self.capacity:
            self._states.popitem(last=False)

    @contextlib.asynccontextmanager
    async def turn(self, key: tuple[str, str]) -> AsyncIterator[None]:
        lock, users = self._locks.get(key) or (anyio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class CollateService:
    def __init__(
        self,
        publisher: Publisher,
        state_buckets: dict[str, KeyValue],
        *,
        fills: Mapping[str, tuple[str, ...]],
        recheck_interval: float = 30.0,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._publisher = publisher
        self._buckets = state_buckets
        self._recheck = recheck_interval
        #: What each task adds to the event (the task registry's rows).
        self._fills = fills
        self._clock = clock
        self.stats = CollateStats()
        self.known = KnownStates()

    async def handle(self, d: Delivery) -> Outcome:
        item = decode(d)
        annotate(**{REPORT_ID: item.report_id})
        async with self.known.turn((d.label, item.report_id)):
            state = await self._collate(d, item)
        if isinstance(item, IngestedReport) and not logic.first_published(state):
            # Park the report's own message until its deadline: JetStream keeps the timer.
            remaining = (item.deadline_at - self._clock()).total_seconds()
            return Defer(max(0.05, min(remaining, self._recheck)))
        return Ack()

    async def _collate(self, d: Delivery, item: CollateInput) -> CollateState:
        kv = self._buckets[d.label]
        key = item.report_id
        known = self.known.get((d.label, key))
        state, seq = await self._update(kv, key, lambda s: logic.merge(s, item), known)
        # Publishing may take a while; whatever answered meanwhile is planned on the next pass.
        while pending := logic.unconfirmed(state):
            for revision in pending:
                await self._publish(state, revision, d.headers)
            state, seq = await self._update(kv, key, lambda s: _confirm(s, pending), (state, seq))
        self.known.put((d.label, key), state, seq)
        return state

    def delivery_budget(self, d: Delivery, max_deliveries: int) -> int:
        """A parked report record is delivered once per recheck until its deadline: those
        deliveries are not failures, so they do not count against ``max_deliveries``."""
        try:
            item = collate_input_decoder.decode(d.data)
        except msgspec.DecodeError:
            return max_deliveries
        if not isinstance(item, IngestedReport):
            return max_deliveries
        window = (item.deadline_at - item.ingested_at).total_seconds()
        return max_deliveries + math.ceil(max(window, 0.0) / self._recheck) + 1

    async def _update(
        self,
        kv: KeyValue,
        key: str,
        change: Callable[[CollateState | None], CollateState],
        known: tuple[CollateState, int] | None = None,
    ) -> tuple[CollateState, int]:
        """Apply ``change``, then reserve the next revision if one is due, under compare-and-set.

        Returns the state as stored and its revision in the bucket.
        """
        state, seq = known if known is not None else await _read(kv, key)
        fresh = known is None
        while True:
            updated = change(state)
            plan = logic.plan_revision(updated, self._clock())
            if plan is not None and not logic.unconfirmed(updated):
                updated = logic.reserve(updated, plan)
            if updated == state and fresh:
                return updated, seq
            if updated != state:
                new_seq = await _write(kv, key, updated, seq)
                if new_seq is not None:
                    return updated, new_seq
            # Someone else wrote first, or nothing to write on a state that may be stale (a
            # decision taken without writing must rest on what the bucket holds): read, again.
            state, seq = await _read(kv, key)
            fresh = True

    async def _publish(
        self, state: CollateState, revision: PublishedRevision, headers: dict[str, str]
    ) -> None:
        event = logic.build_event(state, revision, self._clock(), fills=self._fills)
        trace = current_trace(headers)
        receipt = await self._publisher.publish(
            enriched_subject(event.label, event.kind, event.source),
            json_encoder.encode(event),
            msg_id=f"{event.report_id}:r{revision.revision}",
            headers={TRACEPARENT: trace.traceparent},
        )
        if not receipt.duplicate:
            record_published(event)
            self.stats.published += 1
            self.stats.partial += revision.partial
            self.stats.revisions += revision.revision > 1
            log.info(
                "%s revision %d published%s",
                event.report_id,
                revision.revision,
                " (partial)" if revision.partial else "",
            )


def decode(d: Delivery) -> CollateInput:
    """The report or task result in ``d``; ``Reject`` when it is not one collate may keep."""
    item: CollateInput = decode_or_reject(
        collate_input_decoder, d.data, "a report or a task result"
    )
    if item.label != d.label:
        # Its event would go to the item's label: a message may not move text across labels.
        raise Reject(
            "bad_subject",
            f"{item.label} item arrived on a {d.label} subject",
            fields={"label": item.label, "subject_label": d.label},
        )
    if len(item.report_id) > MAX_KEY_CHARS or not _KEY.match(item.report_id):
        # The report id is the state's key: one the bucket refuses would fail every delivery.
        raise Reject(
            "schema_violation",
            f"report_id is not a state key (dot-separated [-/_=a-zA-Z0-9], ≤ {MAX_KEY_CHARS})",
        )
    return item


def _confirm(state: CollateState | None, revisions: list[PublishedRevision]) -> CollateState:
    assert state is not None, "a reserved revision's state cannot vanish"
    for revision in revisions:
        if revision in logic.unconfirmed(state):
            state = logic.confirm(state, revision.revision)
    return state


async def _read(kv: KeyValue, key: str) -> tuple[CollateState | None, int]:
    try:
        entry = await kv.get(key)
    except KeyNotFoundError:
        return None, 0
    assert entry.value is not None and entry.revision is not None
    return collate_state_decoder.decode(entry.value), entry.revision


async def _write(kv: KeyValue, key: str, state: CollateState, revision: int) -> int | None:
    """The new revision, or None when someone else wrote first."""
    try:
        if revision == 0:
            return await kv.create(key, json_encoder.encode(state))
        return await kv.update(key, json_encoder.encode(state), last=revision)
    except KeyWrongLastSequenceError:
        return None
