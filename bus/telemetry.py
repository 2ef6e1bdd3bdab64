"""OpenTelemetry for messaging over NATS: spans, metrics and W3C context in headers (the bus's
telemetry, all of it; the services' own is ``services.telemetry``).

The bus knows no task: what it traces is generic messaging, named and shaped by the messaging
semantic conventions (``../shared/reference/bus.md``):

* ``send <subject>`` (PRODUCER) around every durable publish, its context injected into the
  message's ``traceparent`` header — so whatever consumes the message is its child;
* ``process <subject>`` (CONSUMER) around every handled message, a child of the context the
  message carries (a message without one starts a new trace); its settlement (ack, nak, term,
  dead letter) is an event on it.

Spans carry ids, counts, timings and statuses, never message payloads (labels apply to
telemetry): a handler may add the report's id with :func:`annotate`.

Providers are installed by the service that runs (``services.telemetry.service``) with
:func:`install`. Without one, nothing is recorded, yet each hop still gets a span id of its own
and the headers carry the trace on; metrics go nowhere.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import anyio
from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Meter, Observation
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from schemas.headers import MSG_ID, TRACEPARENT

SYSTEM = "nats"
#: Attribute naming the report a span works on (set by handlers that know it).
REPORT_ID = "vigie.report.id"
LABEL = "vigie.label"
PRECEDENCE = "vigie.precedence"
#: Name of the tracers and meters of this package.
SCOPE = "vigie.bus"

_PROPAGATOR = TraceContextTextMapPropagator()
#: Span ids of the light path (no provider installed).
_IDS = RandomIdGenerator()
_T = TypeVar("_T")


# ---------------------------------------------------------------- W3C context in headers
# One report is one trace across services. Parsing and id generation are OpenTelemetry's (the
# W3C propagator and the SDK's random id generator), so what we propagate is exactly what an
# OpenTelemetry collector expects.


@dataclass(frozen=True)
class TraceContext:
    trace_id: str
    span_id: str
    flags: str = "01"

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"

    def child(self) -> TraceContext:
        """A new span id in the same trace: each hop that publishes is a span of its own."""
        return TraceContext(self.trace_id, f"{_IDS.generate_span_id():016x}", self.flags)


def parse_traceparent(value: str | None) -> TraceContext | None:
    if not value:
        return None
    context = _PROPAGATOR.extract({TRACEPARENT: value.strip()})
    span = trace.get_current_span(context).get_span_context()
    if not span.is_valid:
        return None
    return TraceContext(f"{span.trace_id:032x}", f"{span.span_id:016x}", f"{span.trace_flags:02x}")


def new_root() -> TraceContext:
    return TraceContext(f"{_IDS.generate_trace_id():032x}", f"{_IDS.generate_span_id():016x}")


def continue_or_start(headers: dict[str, str] | None) -> TraceContext:
    """The publisher's trace continued, or a new root when it sent none (or garbage)."""
    parent = parse_traceparent((headers or {}).get(TRACEPARENT))
    return parent.child() if parent else new_root()


class _Installed:
    tracer_provider: trace.TracerProvider | None = None
    meter_provider: metrics.MeterProvider | None = None
    tracers: dict[tuple[int, str], trace.Tracer] = {}  # noqa: RUF012
    instruments: dict[tuple[int, object], object] = {}  # noqa: RUF012
    lock = threading.Lock()


def install(
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
) -> None:
    """Use these providers in this process (None: nothing installed). Tests install the SDK's
    in-memory exporters this way; the global OpenTelemetry providers are left alone."""
    with _Installed.lock:
        _Installed.tracer_provider = tracer_provider
        _Installed.meter_provider = meter_provider
        _Installed.tracers.clear()
        _Installed.instruments.clear()


def _provider() -> trace.TracerProvider | None:
    provider = _Installed.tracer_provider or trace.get_tracer_provider()
    return provider if isinstance(provider, TracerProvider) else None


def tracer(scope: str = SCOPE) -> trace.Tracer:
    """The installed provider's tracer (the API's no-op tracer when none is)."""
    provider = _provider() or trace.get_tracer_provider()
    key = (id(provider), scope)
    found = _Installed.tracers.get(key)
    if found is None:
        with _Installed.lock:
            found = _Installed.tracers.setdefault(key, provider.get_tracer(scope))
    return found


def meter_provider() -> metrics.MeterProvider:
    return _Installed.meter_provider or metrics.get_meter_provider()


def instruments(factory: Callable[[Meter], _T], scope: str = SCOPE) -> _T:
    """``factory(meter)`` once per installed meter provider: instruments are created once."""
    provider = meter_provider()
    key = (id(provider), factory)
    found = _Installed.instruments.get(key)
    if found is None:
        with _Installed.lock:
            found = _Installed.instruments.get(key)
            if found is None:
                found = _Installed.instruments[key] = factory(provider.get_meter(scope))
    return found  # type: ignore[return-value]


# ----------------------------------------------------------------------------- spans


def extract(headers: Mapping[str, str] | None) -> Context:
    return _PROPAGATOR.extract(dict(headers or {}))


def inject(headers: dict[str, str]) -> None:
    """The current span's context into ``headers`` (``traceparent``, ``tracestate``)."""
    _PROPAGATOR.inject(headers)


def current_trace(headers: Mapping[str, str] | None = None) -> TraceContext:
    """The current span as a :class:`TraceContext`; without one, the headers' trace
    continued (or a new root)."""
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        return TraceContext(f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}", f"{ctx.trace_flags:02x}")
    return continue_or_start(dict(headers or {}))


def annotate(**attributes: AttributeValue) -> None:
    """Attributes on the current span, e.g. ``annotate(**{REPORT_ID: rid})``. Ids, counts and
    statuses only: never text."""
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes(attributes)


def event(name: str, **attributes: AttributeValue) -> None:
    """An event (a settlement: ack, nak, term) on the current span."""
    span = trace.get_current_span()
    if span.is_recording():
        span.add_event(name, attributes)


@contextmanager
def send_span(subject: str, headers: dict[str, str], msg_id: str | None) -> Iterator[Span]:
    """PRODUCER ``send <subject>``: a child of the current span (else of the context the
    outgoing headers already carry); its own context replaces theirs."""
    current = trace.get_current_span().get_span_context()
    parent = None if current.is_valid else extract(headers)
    attributes: dict[str, AttributeValue] = {
        "messaging.system": SYSTEM,
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.destination.name": subject,
    }
    if msg_id is not None:
        attributes["messaging.message.id"] = msg_id
    with _span(f"send {subject}", parent, SpanKind.PRODUCER, attributes) as span:
        inject(headers)
        try:
            yield span
        except BaseException as exc:
            fail(span, exc)
            raise


@contextmanager
def process_span(
    subject: str,
    headers: Mapping[str, str],
    *,
    consumer: str,
    stream: str,
    stream_seq: int,
    delivery_count: int,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> Iterator[Span]:
    """CONSUMER ``process <subject>``: a child of the context the message carries."""
    attrs: dict[str, AttributeValue] = {
        "messaging.system": SYSTEM,
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": subject,
        "messaging.consumer.group.name": consumer,
        "messaging.message.id": headers.get(MSG_ID) or f"{stream}:{stream_seq}",
        "messaging.nats.stream": stream,
        "messaging.nats.stream_sequence": stream_seq,
        "messaging.nats.message.delivery_count": delivery_count,
        **(attributes or {}),
    }
    started = time.monotonic()
    with _span(f"process {subject}", extract(headers), SpanKind.CONSUMER, attrs) as span:
        outcome = "error"
        try:
            yield span
            outcome = "ok"
        except BaseException as exc:
            fail(span, exc)
            raise
        finally:
            metric = instruments(_BusInstruments)
            metric.process_duration.record(
                time.monotonic() - started,
                {"messaging.consumer.group.name": consumer, "outcome": outcome},
            )


@contextmanager
def _span(
    name: str, parent: Context | None, kind: SpanKind, attributes: dict[str, AttributeValue]
) -> Iterator[Span]:
    """A span of the installed provider; without one, a non-recording span that only carries
    the trace on (its own span id, the parent's trace and flags) — a few microseconds."""
    if _provider() is not None:
        with tracer().start_as_current_span(
            name,
            context=parent,
            kind=kind,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            yield span
        return
    up = trace.get_current_span(parent).get_span_context()
    context = SpanContext(
        trace_id=up.trace_id if up.is_valid else _IDS.generate_trace_id(),
        span_id=_IDS.generate_span_id(),
        is_remote=False,
        trace_flags=up.trace_flags if up.is_valid else TraceFlags(TraceFlags.SAMPLED),
        trace_state=up.trace_state if up.is_valid else None,
    )
    light = NonRecordingSpan(context)
    with trace.use_span(light, end_on_exit=False):
        yield light


def fail(span: Span, exc: BaseException, reason: str | None = None) -> None:
    """Error status naming the failure's kind (not its message: it may quote the input)."""
    kind = reason or getattr(exc, "reason", None) or type(exc).__name__
    span.set_status(Status(StatusCode.ERROR, str(kind)))
    span.set_attribute("error.type", type(exc).__name__)


# ----------------------------------------------------------------------------- metrics


class _BusInstruments:
    def __init__(self, meter: Meter) -> None:
        self.process_duration = meter.create_histogram(
            "messaging.process.duration", unit="s", description="Handling time of a message"
        )
        self.dead_letters = meter.create_counter(
            "vigie.dead_letters", unit="{message}", description="Dead letters, by stage and reason"
        )
        for name, what in (
            ("pending", "num_pending"),
            ("ack_pending", "num_ack_pending"),
            ("redelivered", "num_redelivered"),
        ):
            meter.create_observable_gauge(
                f"vigie.consumer.{name}",
                callbacks=[_observe_consumers(what)],
                unit="{message}",
                description=f"Consumer {what} (polled from consumer info)",
            )


def count_dead_letter(stage: str, reason: str, label: str) -> None:
    instruments(_BusInstruments).dead_letters.add(
        1, {"vigie.stage": stage, "vigie.dead_letter.reason": reason, LABEL: label}
    )


#: (stream, durable) → consumer info numbers, refreshed by :class:`ConsumerPoller`.
_consumer_info: dict[tuple[str, str], dict[str, int]] = {}


def _observe_consumers(field: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def callback(_options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(numbers[field], {"messaging.consumer.group.name": durable})
            for (_stream, durable), numbers in list(_consumer_info.items())
        ]

    return callback


class ConsumerPoller:
    """Polls consumer info every ``interval`` seconds into the ``vigie.consumer.*`` gauges (the
    gauges' callbacks run on the metric reader's thread and cannot ask the server)."""

    def __init__(self, js: object, consumers: Iterable[tuple[str, str]], interval: float) -> None:
        self._js = js
        self._consumers = list(consumers)
        self.interval = interval

    async def poll_once(self) -> None:
        instruments(_BusInstruments)  # the gauges exist once something polls
        for stream, durable in self._consumers:
            try:
                with anyio.fail_after(max(1.0, self.interval / 2)):
                    info = await self._js.consumer_info(stream, durable)  # type: ignore[attr-defined]
            except Exception:
                continue  # not provisioned yet, server restarting: next time
            _consumer_info[(stream, durable)] = {
                "num_pending": int(info.num_pending or 0),
                "num_ack_pending": int(info.num_ack_pending or 0),
                "num_redelivered": int(info.num_redelivered or 0),
            }

    async def run(self) -> None:
        try:
            while True:
                await self.poll_once()
                await anyio.sleep(self.interval)
        finally:
            # A stopped poller's figures would be reported as current: drop them.
            for key in self._consumers:
                _consumer_info.pop(key, None)
