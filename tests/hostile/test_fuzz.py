"""Property-based fuzzing of every decoder and every service entry point's pure check.

* Each wire decoder of ``schemas/v1.py`` raises nothing but ``msgspec.DecodeError`` (whose
  subclass is ``ValidationError``) on arbitrary bytes and arbitrary JSON.
* Each entry point (ingest ``parse_feed``, tasks ``check_report``/``decode_answer``, inference
  ``decode_request``, collate ``decode``) returns a value or raises ``Reject`` with a reason of
  the contract — on arbitrary bytes, headers and subjects.
* The task parsers raise only ``OutputInvalid``; grounding never yields an entity whose text is
  not the source's slice; injection detection never fails.

Bounded by the ``hostile`` settings profile (examples, no deadline) to well under a minute.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any, get_args

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bus.outcomes import Delivery, Reject
from schemas.v1 import (
    DeadLetterReason,
    EntityType,
    collate_input_decoder,
    collate_state_decoder,
    dead_letter_decoder,
    enriched_decoder,
    inference_request_decoder,
    inference_result_decoder,
    ingested_decoder,
    json_encoder,
    sensor_reading_decoder,
    text_report_decoder,
)
from services.collate.service import decode as collate_decode
from services.extract.grounding import ground
from services.extract.model import ProposedEntity, parse_entities
from services.inference.service import decode_request
from services.ingest.injection import suspected_injection
from services.ingest.parse import parse_feed
from services.summarise.parse import parse_summary
from services.tasks.prompting import OutputInvalid
from services.tasks.service import check_report, decode_answer
from services.translate.parse import parse_translation
from tests.hostile.corpus import load

settings.register_profile(
    "hostile",
    max_examples=80,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
HOSTILE = settings.get_profile("hostile")
REASONS = frozenset(get_args(DeadLetterReason))

DECODERS: dict[str, Any] = {
    "text_report": text_report_decoder,
    "sensor_reading": sensor_reading_decoder,
    "ingested": ingested_decoder,
    "collate_input": collate_input_decoder,
    "collate_state": collate_state_decoder,
    "enriched": enriched_decoder,
    "dead_letter": dead_letter_decoder,
    "inference_request": inference_request_decoder,
    "inference_result": inference_result_decoder,
}

# Arbitrary JSON values, keys drawn partly from the schemas' own field names so that the
# decoders get past the first field often.
FIELDS = [
    "text", "id", "schema_version", "sensor_id", "sensor_type", "position", "type", "mgrs",
    "lat", "lon", "time", "confidence", "report_id", "label", "kind", "precedence", "client",
    "request_id", "prompt", "messages", "context", "job", "status", "entities", "results",
    "report", "data", "headers", "max_tokens", "deadline", "created_at", "normalised_text",
]  # fmt: skip
_WORDS = [
    "1.0",
    "2.0",
    "np",
    "ts",
    "FLASH",
    "ROUTINE",
    "ingested",
    "result",
    "radar",
    "mgrs",
    "latlon",
    "2026-11-25T14:30:00Z",
    "extract",
    "ok",
    "Unit",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=40),
    st.sampled_from(_WORDS),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=8)), inner, max_size=8),
    ),
    max_leaves=30,
)
#: Bytes that are mostly JSON-looking, sometimes broken.
JSONISH = st.one_of(
    JSON.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=300),
    st.tuples(JSON, st.binary(max_size=4), st.integers(0, 200)).map(
        lambda t: (lambda b: b[: t[2]] + t[1] + b[t[2] :])(json.dumps(t[0]).encode())
    ),
    st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(1, 3000).map(lambda n: b'{"text": "x", "a": ' + b"[" * n + b"]" * n + b"}"),
)
CORPUS_BYTES = [item.data for item in load() if len(item.data) < 20_000]
SEEDED = st.one_of(JSONISH, st.sampled_from(CORPUS_BYTES))
HEADER_NAMES = st.sampled_from(
    ["Content-Type", "Vigie-Precedence", "Vigie-Language", "Vigie-Observed-At",
     "Vigie-Originator", "Nats-Msg-Id", "Vigie-Report-Id", "traceparent", "content-type", "X"]
)  # fmt: skip
HEADER_VALUES = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["application/json", "text/plain", "FLASH", "Z", "fr", "251430ZNOV26",
                     "2026-11-25T14:30:00+01:00", "2026-11-25T14:30:00", "x" * 300]),
)  # fmt: skip
HEADERS = st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=4)
LABEL = st.sampled_from(["np", "dr", "s", "ts"])
TOKEN = st.one_of(
    st.sampled_from(["routine", "flash", "extract", "translate", "summarise", "infer", "x"]),
    st.text(min_size=1, max_size=10),
)


def _only_decode_errors(decoder: Any, data: bytes) -> None:
    with contextlib.suppress(msgspec.DecodeError):
        decoder.decode(data)


@pytest.mark.parametrize("name", sorted(DECODERS))
@HOSTILE
@given(data=SEEDED)
def test_decoders_raise_only_decode_errors_on_arbitrary_bytes(name: str, data: bytes) -> None:
    _only_decode_errors(DECODERS[name], data)


@pytest.mark.parametrize("name", sorted(DECODERS))
@HOSTILE
@given(value=JSON)
def test_decoders_raise_only_decode_errors_on_arbitrary_json(name: str, value: Any) -> None:
    _only_decode_errors(DECODERS[name], json_encoder.encode(value))


def _rejects_or_returns(check: Callable[[], object]) -> None:
    try:
        check()
    except Reject as rej:
        assert rej.reason in REASONS
        assert rej.message


@HOSTILE
@given(kind=st.sampled_from(["report", "sensor"]), data=SEEDED, headers=HEADERS)
def test_ingest_parse_feed(kind: str, data: bytes, headers: dict[str, str]) -> None:
    _rejects_or_returns(lambda: parse_feed(kind, data, headers, max_text_bytes=4096))


@HOSTILE
@given(text=st.text(max_size=400), headers=HEADERS)
def test_ingest_parse_feed_on_any_text(text: str, headers: dict[str, str]) -> None:
    data = text.encode("utf-8", "surrogatepass")
    _rejects_or_returns(lambda: parse_feed("report", data, headers, max_text_bytes=4096))


def _delivery(subject: str, data: bytes, headers: dict[str, str], label: str) -> Delivery:
    return Delivery(subject, data, headers, f"WORK_{label.upper()}", 1, 1, "c", label)  # type: ignore[arg-type]


@HOSTILE
@given(label=LABEL, tokens=st.lists(TOKEN, min_size=1, max_size=3), data=SEEDED, h=HEADERS)
def test_internal_entry_points(
    label: str, tokens: list[str], data: bytes, h: dict[str, str]
) -> None:
    subject = ".".join(["work", label, *tokens])
    d = _delivery(subject, data, h, label)
    _rejects_or_returns(lambda: check_report(d))
    _rejects_or_returns(lambda: decode_request(d))
    _rejects_or_returns(lambda: collate_decode(d))
    for task in ("extract", "translate", "summarise"):
        _rejects_or_returns(lambda task=task: decode_answer(d, task))  # type: ignore[misc]


@HOSTILE
@given(label=LABEL, value=JSON)
def test_internal_entry_points_on_arbitrary_json(label: str, value: Any) -> None:
    d = _delivery(f"work.{label}.x.routine", json_encoder.encode(value), {}, label)
    _rejects_or_returns(lambda: check_report(d))
    _rejects_or_returns(lambda: decode_request(d))
    _rejects_or_returns(lambda: collate_decode(d))
    _rejects_or_returns(lambda: decode_answer(d, "extract"))


FINISH = st.sampled_from([None, "stop", "length", "eos", "cancelled", "x"])
MODEL_TEXT = st.one_of(
    st.text(max_size=300),
    JSON.map(json.dumps),
    st.lists(
        st.tuples(st.sampled_from((*get_args(EntityType), "Bogus")), st.text(max_size=20)),
        max_size=6,
    ).map(lambda es: json.dumps({"entities": [{"type": t, "text": x} for t, x in es]})),
    st.integers(1, 3000).map(lambda n: '{"entities": ' + "[" * n + "]" * n + "}"),
)


@HOSTILE
@given(raw=MODEL_TEXT, finish=FINISH, protected=st.lists(st.text(max_size=10), max_size=3))
def test_task_parsers_raise_only_output_invalid(
    raw: str, finish: str | None, protected: list[str]
) -> None:
    for parse in (
        lambda: parse_translation(raw, finish, protected=protected, source="Source text."),
        lambda: parse_summary(raw, finish, max_words=30),
        lambda: parse_entities(raw, finish),
    ):
        with contextlib.suppress(OutputInvalid):
            parse()


@HOSTILE
@given(
    text=st.text(max_size=300),
    proposals=st.lists(
        st.tuples(st.sampled_from(get_args(EntityType)), st.text(max_size=20)), max_size=8
    ),
    picks=st.lists(st.tuples(st.integers(0, 300), st.integers(0, 30)), max_size=4),
)
def test_grounded_entities_are_the_source_slice(
    text: str, proposals: list[tuple[str, str]], picks: list[tuple[int, int]]
) -> None:
    # Some proposals are real slices of the text, altered in case and spacing as a model would.
    slices = [text[i : i + n] for i, n in picks]
    proposed = [ProposedEntity(type=t, text=x) for t, x in proposals]  # type: ignore[arg-type]
    proposed += [ProposedEntity(type="Location", text=s.upper()) for s in slices]
    proposed += [ProposedEntity(type="Unit", text=" ".join(s.split())) for s in slices]
    result = ground(proposed, text)
    for entity in result.entities:
        assert text[entity.start : entity.end] == entity.text
        assert entity.text.strip()


@HOSTILE
@given(text=st.one_of(st.text(max_size=500), st.sampled_from(CORPUS_BYTES).map(
    lambda b: b.decode("utf-8", "replace")
)))  # fmt: skip
def test_injection_detection_never_fails(text: str) -> None:
    phrases = suspected_injection(text)
    assert len(phrases) <= 10
    assert all(isinstance(p, str) and p for p in phrases)
