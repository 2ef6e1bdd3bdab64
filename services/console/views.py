"""What the page shows of an event: plain JSON-ready dicts, built from the wire types.

Pure. Nothing here renders HTML: the page puts every string into text nodes (report text is
hostile input), and the server sends it as JSON. Highlights are cut here, on code-point offsets
(the wire's), into segments, so that the page never computes an offset (JavaScript strings
count UTF-16 units).
"""

from __future__ import annotations

import json
from typing import Any

from schemas.v1 import (
    AuditRecord,
    DeadLetter,
    EnrichedEvent,
    Entity,
    LatLonPosition,
    MgrsPosition,
    Provenance,
    TaskOutcome,
)
from services.domain.mgrs_ref import find_mgrs

#: Characters of a report's text the feed line carries.
SNIPPET_CHARS = 240
#: Bytes of a dead letter's original payload shown (escaped); the size is shown too.
DEAD_LETTER_BYTES = 4096
#: Rows of a task output's table shown.
TABLE_ROWS = 200


def iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def feed_item(event: EnrichedEvent) -> dict[str, Any]:
    """One line of the feed (what the live stream carries for every event)."""
    text = event.normalised_text
    return {
        "id": event.report_id,
        "revision": event.revision,
        "partial": event.partial,
        "label": event.label,
        "kind": event.kind,
        "source": event.source,
        "precedence": event.precedence,
        "language": event.language,
        "published_at": iso(event.published_at),
        "snippet": text[:SNIPPET_CHARS] + ("…" if len(text) > SNIPPET_CHARS else ""),
        "flags": sorted({f.code for f in event.flags}),
        "tasks": [{"task": t.task, "status": t.status} for t in event.tasks],
        "entities": len(event.entities),
        "points": points(event),
    }


def points(event: EnrichedEvent) -> list[dict[str, Any]]:
    """Every position of the report: entities with coordinates, and a sensor's position."""
    out = [
        {"lat": e.lat, "lon": e.lon, "text": e.text, "type": e.type, "form": e.form}
        for e in event.entities
        if e.lat is not None and e.lon is not None
    ]
    sensor = event.sensor
    if sensor is not None:
        position = sensor.position
        if isinstance(position, LatLonPosition):
            out.append(
                {
                    "lat": position.lat,
                    "lon": position.lon,
                    "text": sensor.sensor_id,
                    "type": "Sensor",
                    "form": "latlon",
                }
            )
        elif isinstance(position, MgrsPosition):
            found = find_mgrs(position.mgrs)
            if found and found[0].lat is not None and found[0].lon is not None:
                out.append(
                    {
                        "lat": found[0].lat,
                        "lon": found[0].lon,
                        "text": sensor.sensor_id,
                        "type": "Sensor",
                        "form": "mgrs",
                    }
                )
    return out


def segments(text: str, entities: list[Entity]) -> list[dict[str, Any]]:
    """``text`` cut at the entities' offsets: ``{"text": …, "entity": index | None}``.

    Overlapping spans cannot all be marked: the earliest (then the longest) wins, the others
    stay in the entity list. Offsets outside the text are ignored, never trusted.
    """
    spans = sorted(
        ((e.start, e.end, i) for i, e in enumerate(entities) if 0 <= e.start < e.end <= len(text)),
        key=lambda s: (s[0], -(s[1] - s[0])),
    )
    out: list[dict[str, Any]] = []
    at = 0
    for start, end, index in spans:
        if start < at:
            continue
        if start > at:
            out.append({"text": text[at:start], "entity": None})
        out.append({"text": text[start:end], "entity": index, "start": start, "end": end})
        at = end
    if at < len(text):
        out.append({"text": text[at:], "entity": None})
    return out


def entity_view(e: Entity) -> dict[str, Any]:
    return {
        "type": e.type,
        "text": e.text,
        "start": e.start,
        "end": e.end,
        "form": e.form,
        "value": e.value,
        "lat": e.lat,
        "lon": e.lon,
        "flags": list(e.flags),
        "source": e.source,
    }


def outcome_view(t: TaskOutcome) -> dict[str, Any]:
    quality = None
    if t.quality is not None:
        q = t.quality
        quality = {name: getattr(q, name) for name in q.__struct_fields__ if getattr(q, name)}
    return {"task": t.task, "status": t.status, "detail": t.detail, "quality": quality}


def provenance_view(p: Provenance) -> dict[str, Any]:
    return {
        "stage": p.stage,
        "version": p.version,
        "model": p.model,
        "engine": p.engine,
        "adapter": p.adapter,
        "prompt_version": p.prompt_version,
        "attempts": p.attempts,
        "prompt_tokens": p.prompt_tokens,
        "completion_tokens": p.completion_tokens,
        "queue_ms": round(p.queue_ms, 1),
        "ttft_ms": round(p.ttft_ms, 1),
        "generation_ms": round(p.generation_ms, 1),
        "ms": round((p.finished_at - p.started_at).total_seconds() * 1000, 1),
    }


def output_tables(outputs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Each task output's lists of objects as tables (the logistics quantities among them).

    Generic on purpose: the console knows no task; whatever a task's typed output holds as a
    list of records is shown as rows, its scalar fields as one row of their own."""
    tables: list[dict[str, Any]] = []
    for task, output in sorted(outputs.items()):
        scalars = {k: v for k, v in output.items() if isinstance(v, str | int | float | bool)}
        if scalars:
            tables.append(
                {
                    "task": task,
                    "name": "",
                    "columns": list(scalars),
                    "rows": [[_cell(v) for v in scalars.values()]],
                }
            )
        for name, value in output.items():
            if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
                columns = list(dict.fromkeys(k for r in value for k in r))
                rows = [[_cell(r.get(c)) for c in columns] for r in value[:TABLE_ROWS]]
                tables.append({"task": task, "name": name, "columns": columns, "rows": rows})
    return tables


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)[:500]
    return str(value)[:500]


def report_view(event: EnrichedEvent) -> dict[str, Any]:
    """Everything the report view shows."""
    return {
        **feed_item(event),
        "original_text": event.original_text,
        "normalised_text": event.normalised_text,
        "segments": segments(event.normalised_text, event.entities),
        "entity_list": [entity_view(e) for e in event.entities],
        "language_confidence": event.language_confidence,
        "translation": event.translation,
        "summary": event.summary,
        "target_language": event.target_language,
        "flag_list": [
            {"code": f.code, "detail": f.detail, "task": f.task, "items": list(f.items)}
            for f in event.flags
        ],
        "outcomes": [outcome_view(t) for t in event.tasks],
        "tables": output_tables(event.outputs),
        "provenance": [provenance_view(p) for p in event.provenance],
        "ingested_at": iso(event.ingested_at),
        "observed_at": iso(event.observed_at),
        "originator": event.originator,
        "publisher_id": event.publisher_id,
        "trace_id": event.trace_id,
        "schema_version": event.schema_version,
    }


def escape_bytes(data: bytes) -> str:
    """Bytes as visible text: valid UTF-8 kept, everything else and control characters as
    ``\\xNN`` escapes (so nothing in a dead letter can act on the page or the terminal)."""
    text = data.decode("utf-8", errors="backslashreplace")
    return "".join(
        c
        if c in "\n\t" or (c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF)
        else f"\\x{ord(c):02x}"
        if ord(c) < 0x100
        else f"\\u{ord(c):04x}"
        for c in text
    )


def dead_letter_view(letter: DeadLetter, seq: int | None = None) -> dict[str, Any]:
    shown = letter.data[:DEAD_LETTER_BYTES]
    return {
        "seq": seq,
        "stage": letter.stage,
        "label": letter.label,
        "reason": letter.reason,
        "message": letter.message,
        "recoverable": letter.recoverable,
        "subject": letter.subject,
        "at": iso(letter.at),
        "report_id": letter.report_id,
        "headers": {k: escape_bytes(v.encode()) for k, v in letter.headers.items()},
        "data": escape_bytes(shown),
        "size": len(letter.data),
        "truncated": len(letter.data) > len(shown),
    }


def audit_view(record: AuditRecord) -> dict[str, Any]:
    return {
        "action": record.action,
        "label": record.label,
        "report_id": record.report_id,
        "report_label": record.report_label,
        "identity": record.identity,
        "user": record.user,
        "at": iso(record.at),
        "revision": record.revision,
        "detail": record.detail,
    }
