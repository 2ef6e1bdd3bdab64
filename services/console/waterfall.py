"""One report's trace for the console: its own spans only.

Pure. The engine batches a report's inference requests with other reports' (of any label): those
batch spans live in traces of their own, linked to the requests they served. The console shows
how many batches served each span, never the batch spans themselves (their attributes would tell
what else, of another label perhaps, was in the batch).
"""

from __future__ import annotations

from typing import Any

from bus.telemetry import REPORT_ID
from services.cli.trace import Row, Trace


def _own(row: Row, report_id: str) -> bool:
    """A span of the report's own trace that names no other report."""
    named = (row.span.get("attributes") or {}).get(REPORT_ID)
    return not row.linked and named in (None, "", report_id)


def waterfall(traces: list[Trace], trace_id: str, report_id: str) -> list[dict[str, Any]]:
    """The report's trace (``trace_id``, the event's) as JSON-ready rows with offsets and
    durations in ms; the engine batches linked to a row as a count."""
    out = []
    for trace in traces:
        if trace.trace_id != trace_id:
            continue
        own = [r for r in trace.rows if _own(r, report_id)]
        if not own:
            continue
        t0 = min(r.start for r in own)
        end = max(r.end for r in own)
        rows: list[dict[str, Any]] = []
        for row in trace.rows:
            if row.linked:
                if rows:
                    rows[-1]["linked_batches"] += 1
                continue
            if not _own(row, report_id):
                continue
            span = row.span
            rows.append(
                {
                    "name": str(span.get("name") or "?"),
                    "service": str(span.get("service") or "?").removeprefix("vigie-"),
                    "depth": row.depth,
                    "start_ms": round((row.start - t0) / 1e6, 3),
                    "ms": round(row.ms, 3),
                    "error": span.get("status") == "ERROR",
                    "linked_batches": 0,
                }
            )
        out.append({"trace_id": trace.trace_id, "ms": round((end - t0) / 1e6, 3), "rows": rows})
    return out
