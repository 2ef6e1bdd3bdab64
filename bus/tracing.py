"""W3C trace context carried in NATS headers, so one report is one trace across services.

Parsing and id generation are OpenTelemetry's (the W3C propagator and the SDK's random id
generator), so what we propagate is exactly what an OpenTelemetry collector expects.
"""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from schemas.headers import TRACEPARENT

_PROPAGATOR = TraceContextTextMapPropagator()
_IDS = RandomIdGenerator()


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
