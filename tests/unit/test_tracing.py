"""Trace context: continued when valid, a new root otherwise."""

from __future__ import annotations

import pytest

from bus.telemetry import continue_or_start, new_root, parse_traceparent

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_valid_traceparent_is_continued_with_a_new_span() -> None:
    ctx = continue_or_start({"traceparent": VALID})
    assert ctx.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert ctx.span_id != "00f067aa0ba902b7" and len(ctx.span_id) == 16
    assert parse_traceparent(ctx.traceparent) == ctx


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "garbage",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
    ],
)
def test_invalid_traceparent_starts_a_new_root(value: str | None) -> None:
    assert parse_traceparent(value) is None
    ctx = continue_or_start({"traceparent": value} if value is not None else {})
    assert len(ctx.trace_id) == 32 and ctx.trace_id != "0" * 32


def test_roots_differ() -> None:
    assert new_root().trace_id != new_root().trace_id
