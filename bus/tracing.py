"""W3C trace context carried in NATS headers, so one report is one trace across services."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

TRACEPARENT = "traceparent"
_TRACEPARENT_RE = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


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
        return TraceContext(self.trace_id, secrets.token_hex(8), self.flags)


def parse_traceparent(value: str | None) -> TraceContext | None:
    if not value:
        return None
    match = _TRACEPARENT_RE.match(value.strip().lower())
    if not match:
        return None
    trace_id, span_id, flags = match.groups()
    if trace_id == "0" * 32 or span_id == "0" * 16:
        return None
    return TraceContext(trace_id, span_id, flags)


def new_root() -> TraceContext:
    return TraceContext(secrets.token_hex(16), secrets.token_hex(8))


def continue_or_start(headers: dict[str, str] | None) -> TraceContext:
    """The publisher's trace continued, or a new root when it sent none (or garbage)."""
    parent = parse_traceparent((headers or {}).get(TRACEPARENT))
    return parent.child() if parent else new_root()
