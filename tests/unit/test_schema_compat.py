"""The compatibility policy of schemas/v1.py, checked against the decoders services use."""

from __future__ import annotations

import base64
import copy
import itertools
import json
import re
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from schemas import v1

T0 = "2026-03-01T12:00:00Z"
T1 = "2026-03-01T12:00:05Z"


def provenance() -> dict[str, Any]:
    return {"stage": "extract", "version": "0.1.0", "started_at": T0, "finished_at": T1}


def entity() -> dict[str, Any]:
    return {"type": "Location", "text": "32UMU1234567890", "start": 10, "end": 25, "lat": 49.1}


def sensor() -> dict[str, Any]:
    return {
        "sensor_id": "radar-7",
        "sensor_type": "radar",
        "position": {"type": "mgrs", "mgrs": "32UMU1234567890"},
        "time": T0,
        "detection_class": "tracked vehicle",
        "confidence": 0.8,
    }


def text_report() -> dict[str, Any]:
    return {
        "text": "2 T-72 moving north at 32UMU1234567890",
        "language": "en",
        "precedence": "FLASH",
    }


def ingested() -> dict[str, Any]:
    return {
        "type": "ingested",
        "report_id": "patrol-app:42",
        "label": "s",
        "kind": "report",
        "source": "patrol-app",
        "subject": "feeds.s.report.patrol-app",
        "precedence": "FLASH",
        "original_text": "2 T-72 moving north",
        "normalised_text": "2 T-72 moving north",
        "language": "en",
        "language_confidence": 0.99,
        "expected_tasks": ["extract", "summarise"],
        "ingested_at": T0,
        "deadline_at": T1,
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "sensor": sensor(),
        "provenance": [provenance()],
    }


def task_result() -> dict[str, Any]:
    return {
        "type": "result",
        "report_id": "patrol-app:42",
        "task": "extract",
        "label": "s",
        "status": "ok",
        "entities": [entity()],
        "provenance": provenance(),
    }


def enriched() -> dict[str, Any]:
    doc = {
        k: v for k, v in ingested().items() if k not in ("type", "expected_tasks", "deadline_at")
    }
    return doc | {
        "revision": 2,
        "partial": False,
        "entities": [entity()],
        "tasks": [{"task": "extract", "status": "ok"}, {"task": "summarise", "status": "expired"}],
        "published_at": T1,
        "summary": "Armour moving north.",
    }


def dead_letter() -> dict[str, Any]:
    return {
        "stage": "ingest",
        "label": "dr",
        "reason": "invalid_utf8",
        "message": "body is not UTF-8",
        "recoverable": False,
        "subject": "feeds.dr.report.patrol-app",
        "headers": {"Nats-Msg-Id": "42"},
        "data": base64.b64encode(b"\xff\xfe bad").decode(),
        "at": T0,
        "stream_seq": 7,
        "fields": {"offset": "0"},
    }


def collate_state() -> dict[str, Any]:
    return {
        "report_id": "patrol-app:42",
        "report": ingested(),
        "results": [task_result()],
        "published": [{"revision": 1, "tasks": ["extract"], "partial": True}],
    }


Decoder = Callable[[bytes], Any]
#: (name, decoder services use, sample document, where to put an unknown nested field)
CASES: list[tuple[str, Decoder, Callable[[], dict[str, Any]], tuple[str | int, ...]]] = [
    ("TextReport", v1.text_report_decoder.decode, text_report, ()),
    ("SensorReading", v1.sensor_reading_decoder.decode, sensor, ("position",)),
    ("IngestedReport", v1.ingested_decoder.decode, ingested, ("sensor", "position")),
    ("TaskResult", v1.collate_input_decoder.decode, task_result, ("entities", 0)),
    ("EnrichedEvent", v1.enriched_decoder.decode, enriched, ("entities", 0)),
    ("DeadLetter", v1.dead_letter_decoder.decode, dead_letter, ()),
    ("CollateState", v1.collate_state_decoder.decode, collate_state, ("results", 0, "provenance")),
]
IDS = [c[0] for c in CASES]


def encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


# ---------------------------------------------------------------- a reader of 1.0 reads 1.7


def as_newer_minor(doc: dict[str, Any], nested_at: tuple[str | int, ...]) -> dict[str, Any]:
    newer = copy.deepcopy(doc)
    newer["schema_version"] = "1.7"
    newer["threat_level"] = {"score": 3, "basis": ["pattern"]}
    newer["tags"] = ["added", "in", "1.3"]
    node: Any = newer
    for key in nested_at:
        node = node[key]
    node["confidence_interval"] = [0.1, 0.9]
    node["schema_extension"] = None
    return newer


@pytest.mark.parametrize(("name", "decode", "sample", "nested_at"), CASES, ids=IDS)
def test_reader_of_current_version_reads_newer_minor(
    name: str, decode: Decoder, sample: Callable[[], dict[str, Any]], nested_at: tuple[Any, ...]
) -> None:
    current = decode(encode(sample()))
    newer = decode(encode(as_newer_minor(sample(), nested_at)))

    assert type(newer).__name__ == name
    assert newer.schema_version == "1.7"
    assert newer == msgspec.structs.replace(current, schema_version="1.7")
    # What the reader passes on must not smuggle the fields it did not understand.
    assert b"threat_level" not in v1.json_encoder.encode(newer)
    assert b"confidence_interval" not in v1.json_encoder.encode(newer)


def test_newer_minor_values_are_intact() -> None:
    event = v1.enriched_decoder.decode(encode(as_newer_minor(enriched(), ("entities", 0))))
    assert event.entities[0] == v1.Entity(
        type="Location", text="32UMU1234567890", start=10, end=25, lat=49.1
    )
    assert event.sensor is not None and event.sensor.position == v1.MgrsPosition(
        mgrs="32UMU1234567890"
    )
    assert [t.status for t in event.tasks] == ["ok", "expired"]
    assert event.revision == 2 and event.summary == "Armour moving north."


def test_new_enum_member_is_not_readable_by_an_older_reader() -> None:
    """Literal types are closed: a minor that adds an enum member (the policy allows it) is
    refused by older readers, so such a minor must reach readers before writers use it."""
    doc = enriched()
    doc["entities"][0]["type"] = "Vehicle"
    with pytest.raises(msgspec.ValidationError, match=r"\$\.entities\[0\]\.type"):
        v1.enriched_decoder.decode(encode(doc))


# ---------------------------------------------------------------- round trips and invariants


@pytest.mark.parametrize(("name", "decode", "sample", "nested_at"), CASES, ids=IDS)
def test_encode_decode_round_trips(
    name: str, decode: Decoder, sample: Callable[[], dict[str, Any]], nested_at: tuple[Any, ...]
) -> None:
    value = decode(encode(sample()))
    wire = v1.json_encoder.encode(value)
    assert decode(wire) == value
    # The policy says every message carries its version, defaults included.
    assert json.loads(wire)["schema_version"] == v1.SCHEMA_VERSION


@pytest.mark.parametrize(("name", "decode", "sample", "nested_at"), CASES, ids=IDS)
def test_wire_types_are_frozen(
    name: str, decode: Decoder, sample: Callable[[], dict[str, Any]], nested_at: tuple[Any, ...]
) -> None:
    value = decode(encode(sample()))
    with pytest.raises(AttributeError):
        value.schema_version = "9.9"


WIRE_STRUCTS = sorted(
    (
        c
        for c in vars(v1).values()
        if isinstance(c, type) and issubclass(c, msgspec.Struct) and c.__module__ == v1.__name__
    ),
    key=lambda c: c.__name__,
)


@pytest.mark.parametrize("cls", WIRE_STRUCTS, ids=lambda c: c.__name__)
def test_every_wire_struct_is_frozen_and_tolerant(cls: type[msgspec.Struct]) -> None:
    config = cls.__struct_config__
    assert config.frozen, "wire values are shared between tasks: they must be immutable"
    assert not config.forbid_unknown_fields, "readers must ignore fields of newer minors"
    assert not config.omit_defaults, "the policy says every message carries its version"


def test_tagged_types_write_their_tag() -> None:
    result = v1.collate_input_decoder.decode(encode(task_result()))
    report = v1.ingested_decoder.decode(encode(ingested()))
    assert json.loads(v1.json_encoder.encode(result))["type"] == "result"
    assert json.loads(v1.json_encoder.encode(report))["type"] == "ingested"


def test_highest_label_orders_np_dr_s_ts() -> None:
    assert v1.LABELS == ("np", "dr", "s", "ts")
    assert v1.highest_label(["np", "dr"]) == "dr"
    assert v1.highest_label(["s", "dr"]) == "s"
    assert v1.highest_label(("ts", "np", "s")) == "ts"
    assert v1.highest_label(["np"]) == "np"
    with pytest.raises(ValueError):
        v1.highest_label([])


@pytest.mark.parametrize("size", [1, 2, 3])
def test_highest_label_over_all_combinations(size: int) -> None:
    rank = v1.LABELS.index
    for labels in itertools.product(v1.LABELS, repeat=size):
        top = v1.highest_label(list(labels))
        assert top in labels
        assert all(rank(label) <= rank(top) for label in labels)
        for other in itertools.permutations(labels):
            assert v1.highest_label(other) == top
        # Adding an input never lowers the label of the product.
        for extra in v1.LABELS:
            assert rank(v1.highest_label([*labels, extra])) >= rank(top)


# ---------------------------------------------------------------- violations


DROP = object()

#: (id, decoder, valid sample, where the bad value goes and the path the error must name, value)
VIOLATIONS = [
    ("confidence", v1.sensor_reading_decoder, sensor, "$.confidence", 1.5),
    ("precedence", v1.text_report_decoder, text_report, "$.precedence", "flash"),
    ("label", v1.dead_letter_decoder, dead_letter, "$.label", "secret"),
    ("empty-text", v1.text_report_decoder, text_report, "$.text", ""),
    ("language", v1.text_report_decoder, text_report, "$.language", "EN"),
    ("version", v1.text_report_decoder, text_report, "$.schema_version", "1"),
    ("revision", v1.enriched_decoder, enriched, "$.revision", 0),
    ("offset", v1.enriched_decoder, enriched, "$.entities[0].start", -1),
    ("entity-type", v1.collate_input_decoder, task_result, "$.entities[0].type", "Tank"),
    ("mgrs", v1.sensor_reading_decoder, sensor, "$.position.mgrs", "32U"),
    ("datetime", v1.ingested_decoder, ingested, "$.deadline_at", "tomorrow"),
    ("reason", v1.dead_letter_decoder, dead_letter, "$.reason", "oops"),
    ("missing", v1.enriched_decoder, enriched, "$.trace_id", DROP),
]


@pytest.mark.parametrize(
    ("decoder", "sample", "path", "value"),
    [v[1:] for v in VIOLATIONS],
    ids=[v[0] for v in VIOLATIONS],
)
def test_schema_violation_names_its_path(
    decoder: msgspec.json.Decoder[Any], sample: Callable[[], dict[str, Any]], path: str, value: Any
) -> None:
    doc = sample()
    decoder.decode(encode(doc))  # the unmutated sample is valid: the mutation is what fails
    keys: list[Any] = [int(i) if i else k for k, i in re.findall(r"\.(\w+)|\[(\d+)\]", path)]
    node: Any = doc
    for key in keys[:-1]:
        node = node[key]
    if value is DROP:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    with pytest.raises(msgspec.ValidationError) as caught:
        decoder.decode(encode(doc))
    message = str(caught.value)
    if value is DROP:
        assert f"missing required field `{keys[-1]}`" in message
    else:
        assert message.endswith(f"at `{path}`"), message


# ---------------------------------------------------------------- bytes in dead letters


@pytest.mark.parametrize(
    "data",
    [b"", b"\xff\xfe\xfd", bytes(range(256)), b"\xc3(", "caf\u00e9".encode("latin-1"), b"{}\n"],
    ids=["empty", "invalid-utf8", "all-bytes", "bad-continuation", "latin-1", "json"],
)
def test_dead_letter_data_is_base64_and_round_trips(data: bytes) -> None:
    letter = v1.dead_letter_decoder.decode(encode(dead_letter()))
    letter = msgspec.structs.replace(letter, data=data)
    wire = v1.json_encoder.encode(letter)
    assert json.loads(wire)["data"] == base64.b64encode(data).decode("ascii")
    assert v1.dead_letter_decoder.decode(wire).data == data


def test_dead_letter_refuses_data_that_is_not_base64() -> None:
    doc = dead_letter() | {"data": "not base64!"}
    with pytest.raises(msgspec.ValidationError, match=r"\$\.data"):
        v1.dead_letter_decoder.decode(encode(doc))


# ---------------------------------------------------------------- the collate union


def test_collate_input_decodes_both_variants() -> None:
    report = v1.collate_input_decoder.decode(encode(ingested()))
    result = v1.collate_input_decoder.decode(encode(task_result()))
    assert isinstance(report, v1.IngestedReport) and report.expected_tasks == [
        "extract",
        "summarise",
    ]
    assert isinstance(result, v1.TaskResult) and result.entities[0].type == "Location"


@pytest.mark.parametrize("tag", ["enriched", None])
def test_collate_input_needs_a_known_tag(tag: str | None) -> None:
    doc = task_result()
    if tag is None:
        del doc["type"]
    else:
        doc["type"] = tag
    with pytest.raises(msgspec.ValidationError, match="type"):
        v1.collate_input_decoder.decode(encode(doc))
