"""JSON-lines export of spans and metrics, for air-gapped use and ``vigie trace``.

One file per service and signal (``<service>.spans.jsonl``, ``<service>.metrics.jsonl``) in the
export directory, appended to by whole lines (several copies of a service may share one). A file
that reaches ``max_bytes`` is renamed ``….jsonl.1`` (replacing the previous one) and a new one
started: the export never holds more than twice ``max_bytes`` per file. The exporters run on the
SDK's export threads, never on the event loop.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec
from opentelemetry.sdk.metrics.export import (
    Gauge,
    MetricExporter,
    MetricExportResult,
    MetricsData,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

SPANS_SUFFIX = ".spans.jsonl"
METRICS_SUFFIX = ".metrics.jsonl"


class RotatingFile:
    """Appends lines to ``path``; past ``max_bytes`` keeps one previous file (``path.1``)."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    def write(self, lines: list[str]) -> None:
        if lines:
            self.write_bytes(("\n".join(lines) + "\n").encode())

    def write_bytes(self, data: bytes) -> None:
        """Whole lines, each ending in a newline."""
        if not data:
            return
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                size = self.path.stat().st_size
            except FileNotFoundError:
                size = 0
            if size and size + len(data) > self.max_bytes:
                os.replace(self.path, self.path.with_name(self.path.name + ".1"))
            # One write of whole lines in append mode: copies sharing the file do not interleave.
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)


#: Spans are the bulk of the export (several per message): msgspec encodes them several times
#: faster than ``json.dumps``; what it cannot encode is written as its ``str``.
_SPAN_ENCODER = msgspec.json.Encoder(enc_hook=str)


def _hex(value: int, width: int) -> str:
    return f"{value:0{width}x}"


def span_record(span: ReadableSpan) -> dict[str, Any]:
    ctx = span.get_span_context()
    assert ctx is not None
    parent = span.parent
    return {
        "name": span.name,
        "trace_id": _hex(ctx.trace_id, 32),
        "span_id": _hex(ctx.span_id, 16),
        "parent_id": _hex(parent.span_id, 16) if parent is not None else None,
        "kind": span.kind.name,
        "start": span.start_time,
        "end": span.end_time,
        "status": span.status.status_code.name,
        "status_description": span.status.description,
        "service": span.resource.attributes.get("service.name"),
        "attributes": dict(span.attributes or {}),
        "events": [
            {"name": e.name, "time": e.timestamp, "attributes": dict(e.attributes or {})}
            for e in span.events
        ],
        "links": [
            {
                "trace_id": _hex(link.context.trace_id, 32),
                "span_id": _hex(link.context.span_id, 16),
                "attributes": dict(link.attributes or {}),
            }
            for link in span.links
        ],
    }


class FileSpanExporter(SpanExporter):
    def __init__(self, path: Path, max_bytes: int) -> None:
        self.file = RotatingFile(path, max_bytes)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            self.file.write_bytes(_SPAN_ENCODER.encode_lines([span_record(s) for s in spans]))
        except OSError:
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _point(point: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"attributes": dict(point.attributes or {})}
    if hasattr(point, "bucket_counts"):
        out.update(
            count=point.count,
            sum=point.sum,
            min=point.min,
            max=point.max,
            bounds=list(point.explicit_bounds),
            buckets=list(point.bucket_counts),
        )
    else:
        out["value"] = point.value
    return out


class FileMetricExporter(MetricExporter):
    """One line per metric and export: ``{"time", "service", "name", "unit", "points"}``, each
    point its attributes and its value (or a histogram's count, sum, bounds and buckets). A
    gauge's points of value 0 are not written: a gauge point absent from a line is 0."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        super().__init__()
        self.file = RotatingFile(path, max_bytes)

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        lines = []
        for rm in metrics_data.resource_metrics:
            service = rm.resource.attributes.get("service.name")
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    points = list(metric.data.data_points)
                    if isinstance(metric.data, Gauge):
                        # A gauge's zero points are left out (absent = 0): the consumer gauges
                        # alone are hundreds of points, nearly all zero on a healthy system.
                        points = [p for p in points if getattr(p, "value", 0) != 0]
                        if not points:
                            continue
                    record = {
                        "time": max((getattr(p, "time_unix_nano", 0) for p in points), default=0),
                        "service": service,
                        "name": metric.name,
                        "unit": metric.unit,
                        "points": [_point(p) for p in points],
                    }
                    lines.append(json.dumps(record, default=str, separators=(",", ":")))
        try:
            self.file.write(lines)
        except OSError:
            return MetricExportResult.FAILURE
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass


def read_spans(directory: Path) -> Iterator[dict[str, Any]]:
    """Every span of the export in ``directory`` (rotated files first); bad lines skipped."""
    paths = sorted(directory.glob(f"*{SPANS_SUFFIX}.1")) + sorted(
        directory.glob(f"*{SPANS_SUFFIX}")
    )
    for path in paths:
        with path.open(encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a crash
                if isinstance(record, dict) and "span_id" in record:
                    yield record
