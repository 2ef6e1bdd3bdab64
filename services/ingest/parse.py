"""Turn a raw feed message into an accepted input, or say precisely why not (pure)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

import msgspec

from bus.outcomes import Reject
from schemas import headers as H
from schemas.v1 import (
    SCHEMA_MAJOR,
    LatLonPosition,
    MgrsPosition,
    Precedence,
    SensorReading,
    TextReport,
    decode_json,
    readable,
    sensor_reading_decoder,
    text_report_decoder,
)
from services.domain.patterns import find_pattern_entities
from services.ingest.normalise import normalise_text

#: Largest original + normalised text of a report, as JSON strings (see ``parse_feed``).
MAX_CARRIED_BYTES = 2 * 1024 * 1024
_LANGUAGE_RE = re.compile(r"^[a-z]{2,3}$")
_JSON_TYPES = ("application/json",)
_TEXT_TYPES = ("text/plain",)
#: Headers that change what a report means; a republish that differs only in others
#: (trace context, the msg id itself) is the same report.
_MEANINGFUL_HEADERS = (H.CONTENT_TYPE, H.PRECEDENCE, H.LANGUAGE, H.OBSERVED_AT, H.ORIGINATOR)


@dataclass(frozen=True)
class Accepted:
    """A feed message that passed every check."""

    kind: str
    original_text: str
    normalised_text: str
    precedence: Precedence
    language: str | None
    observed_at: dt.datetime | None
    originator: str | None
    publisher_id: str | None
    sensor: SensorReading | None


def report_identity(
    label: str, source: str, subject: str, digest: str, publisher_id: str | None
) -> str:
    """The report id: the publisher's id scoped by source, else a hash of what was sent
    (``digest``: the ``content_digest`` of body and meaningful headers)."""
    h = hashlib.sha256()
    if publisher_id:
        h.update(f"id\0{label}\0{source}\0{publisher_id}".encode())
    else:
        h.update(f"content\0{subject}\0{digest}".encode())
    return h.hexdigest()[:32]


def content_digest(data: bytes, headers: dict[str, str]) -> str:
    h = hashlib.sha256(data)
    for name in _MEANINGFUL_HEADERS:
        h.update(f"\0{name}={H.lookup(headers, name) or ''}".encode())
    return h.hexdigest()


def parse_feed(
    kind: str,
    data: bytes,
    headers: dict[str, str],
    *,
    max_text_bytes: int,
    default_precedence: Precedence = "ROUTINE",
) -> Accepted:
    """Detect, decode, validate and normalise one feed message. Raises ``Reject``."""
    # Refuse absurd sizes before paying for decoding; the exact check is on the normalised text.
    if len(data) > 4 * max_text_bytes + 65536:
        raise Reject(
            "too_large",
            f"{len(data)} bytes exceeds the limit of {max_text_bytes} bytes of text",
            {"size": str(len(data)), "limit": str(max_text_bytes)},
        )
    is_json = _is_json(data, headers)
    try:
        body = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Reject(
            "invalid_utf8", f"payload is not UTF-8 (byte {exc.start})", {"offset": str(exc.start)}
        ) from exc
    meta = _header_metadata(headers, default_precedence)
    publisher_id = H.lookup(headers, H.REPORT_ID) or H.lookup(headers, H.MSG_ID)
    if publisher_id is not None and len(publisher_id) > 256:
        raise Reject(
            "bad_header",
            "the report id (Vigie-Report-Id or Nats-Msg-Id) is longer than 256 characters",
            {"length": str(len(publisher_id))},
        )
    if is_json:
        decoded = _decode_json(kind, data)
        if isinstance(decoded, TextReport):
            original = decoded.text
            precedence = decoded.precedence or meta.precedence
            language = decoded.language or meta.language
            observed = decoded.observed_at or meta.observed_at
            originator = decoded.originator or meta.originator
            publisher_id = publisher_id or decoded.id
            sensor = None
        else:
            original = body
            precedence = decoded.precedence or meta.precedence
            language, observed, originator = "en", decoded.time, decoded.sensor_id
            publisher_id = publisher_id or decoded.id
            sensor = decoded
    else:
        if kind != "report":
            raise Reject(
                "text_on_sensor_subject",
                "plain text is accepted on report subjects only; sensor readings are "
                "JSON objects (see schemas/jsonschema/SensorReading.json)",
            )
        original, sensor = body, None
        precedence, language = meta.precedence, meta.language
        observed, originator = meta.observed_at, meta.originator
    normalised = normalise_text(original) if sensor is None else render_sensor(sensor)
    if not normalised:
        raise Reject("empty_report", "the report has no text after normalisation")
    size = len(normalised.encode("utf-8"))
    if size > max_text_bytes:
        raise Reject(
            "too_large",
            f"{size} bytes of text exceeds the limit of {max_text_bytes}",
            {"size": str(size), "limit": str(max_text_bytes)},
        )
    # Ingest's output carries both texts as JSON strings, and a task's request to the engine
    # carries that output again, escaped once more: bounded here, every message downstream fits
    # a work stream (and its dead letter fits the server). Only escape floods (control
    # characters are 6 bytes each in JSON) reach this bound within the size checked above.
    carried = len(msgspec.json.encode(original)) + len(msgspec.json.encode(normalised))
    if carried > MAX_CARRIED_BYTES:
        raise Reject(
            "too_large",
            f"the report's texts take {carried} bytes as JSON, over {MAX_CARRIED_BYTES}",
            {"size": str(carried), "limit": str(MAX_CARRIED_BYTES)},
        )
    return Accepted(
        kind, original, normalised, precedence, language, observed, originator, publisher_id, sensor
    )


def render_sensor(reading: SensorReading) -> str:
    """One line a reader (and the entity parsers) can use; the reading itself rides along."""
    if isinstance(reading.position, MgrsPosition):
        where = reading.position.mgrs
    else:
        where = _latlon_text(reading.position)
    line = (
        f"{reading.sensor_type} sensor {reading.sensor_id}: {reading.detection_class} "
        f"(confidence {reading.confidence:.2f}) at {where}, {reading.time.isoformat()}"
    )
    if reading.note:
        line += f"\n{normalise_text(reading.note)}"
    return line


def _latlon_text(pos: LatLonPosition) -> str:
    ns = "N" if pos.lat >= 0 else "S"
    ew = "E" if pos.lon >= 0 else "W"
    return f"{abs(pos.lat):.6f}{ns} {abs(pos.lon):.6f}{ew}"


def _is_json(data: bytes, headers: dict[str, str]) -> bool:
    content_type = H.lookup(headers, H.CONTENT_TYPE)
    if content_type is not None:
        media = content_type.split(";", 1)[0].strip().lower()
        if media in _JSON_TYPES:
            return True
        if media in _TEXT_TYPES:
            return False
        raise Reject(
            "unsupported_content_type",
            f"Content-Type {content_type!r} is not application/json or text/plain",
            {"content_type": content_type[:100]},
        )
    return data.lstrip()[:1] == b"{"


def _decode_json(kind: str, data: bytes) -> TextReport | SensorReading:
    decoder = text_report_decoder if kind == "report" else sensor_reading_decoder
    try:
        decoded: TextReport | SensorReading = decoder.decode(data)
    except msgspec.ValidationError as exc:
        _check_major(data)
        raise Reject(
            "schema_violation", f"not a valid {kind}: {exc}", {"error": str(exc)[:500]}
        ) from exc
    except msgspec.DecodeError as exc:
        raise Reject("invalid_json", f"malformed JSON: {exc}", {"error": str(exc)[:500]}) from exc
    _check_major(data, decoded.schema_version)
    return decoded


def _check_major(data: bytes, version: str | None = None) -> None:
    if version is None:
        try:
            raw = decode_json(data)
        except msgspec.DecodeError:
            return
        version = raw.get("schema_version") if isinstance(raw, dict) else None
        if not isinstance(version, str) or not version.split(".", 1)[0].isdigit():
            return
    if not readable(version):
        raise Reject(
            "unsupported_version",
            f"schema_version {version} is not readable by major {SCHEMA_MAJOR}",
            {"schema_version": version[:20]},
        )


@dataclass(frozen=True)
class _HeaderMeta:
    precedence: Precedence
    language: str | None
    observed_at: dt.datetime | None
    originator: str | None


def _header_metadata(headers: dict[str, str], default_precedence: Precedence) -> _HeaderMeta:
    precedence: Precedence = default_precedence
    raw = H.lookup(headers, H.PRECEDENCE)
    if raw is not None:
        value = H.PRECEDENCE_LETTERS.get(raw.strip().upper(), raw.strip().upper())
        if value not in ("FLASH", "IMMEDIATE", "PRIORITY", "ROUTINE"):
            raise Reject(
                "bad_header",
                f"{H.PRECEDENCE} must be FLASH, IMMEDIATE, PRIORITY or "
                f"ROUTINE (or Z, O, P, R), got {raw[:40]!r}",
                {"header": H.PRECEDENCE},
            )
        precedence = value  # type: ignore[assignment]
    language = H.lookup(headers, H.LANGUAGE)
    if language is not None:
        language = language.strip().lower()
        if not _LANGUAGE_RE.match(language):
            raise Reject(
                "bad_header",
                f"{H.LANGUAGE} must be an ISO 639-1 code such as fr, got {language[:40]!r}",
                {"header": H.LANGUAGE},
            )
    observed_raw = H.lookup(headers, H.OBSERVED_AT)
    observed = parse_observed_at(observed_raw) if observed_raw is not None else None
    originator = H.lookup(headers, H.ORIGINATOR)
    if originator is not None and len(originator) > 256:
        raise Reject(
            "bad_header", f"{H.ORIGINATOR} is longer than 256 characters", {"header": H.ORIGINATOR}
        )
    return _HeaderMeta(precedence, language, observed, originator)


def parse_observed_at(value: str) -> dt.datetime:
    text = value.strip()
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is not None:
        if parsed.tzinfo is None:
            raise Reject(
                "bad_header",
                f"{H.OBSERVED_AT} needs a UTC offset, got {text[:40]!r}",
                {"header": H.OBSERVED_AT},
            )
        return parsed.astimezone(dt.UTC)
    for entity in find_pattern_entities(text):
        if entity.form == "dtg" and entity.value and entity.end - entity.start == len(text):
            return dt.datetime.fromisoformat(entity.value.replace("Z", "+00:00"))
    raise Reject(
        "bad_header",
        f"{H.OBSERVED_AT} must be ISO-8601 with offset or a full DTG "
        f"such as 251430ZNOV26, got {text[:40]!r}",
        {"header": H.OBSERVED_AT},
    )
