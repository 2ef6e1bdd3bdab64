"""The generated contract (JSON Schemas, AsyncAPI): current, self-consistent, true to the types."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest

from bus import contract, topology
from schemas import v1
from schemas.headers import PUBLISHER_HEADERS

REPO_ROOT = Path(__file__).resolve().parents[2]
WHEN = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return contract.asyncapi_document()


# ---------------------------------------------------------------- drift


def test_committed_contract_is_current() -> None:
    stale = contract.check_contract(REPO_ROOT)
    assert stale == [], f"generated contract is stale: {stale}; run `python -m bus.contract`"


def test_write_then_check_detects_every_kind_of_drift(tmp_path: Path) -> None:
    assert contract.check_contract(tmp_path) == sorted(
        [f"schemas/jsonschema/{name}" for name in contract.json_schemas()]
        + ["schemas/asyncapi.json"]
    )
    assert len(contract.write_contract(tmp_path)) == len(contract.PUBLIC_TYPES) + 1
    assert contract.check_contract(tmp_path) == []
    assert contract.write_contract(tmp_path) == []  # nothing to do the second time

    (tmp_path / "schemas/asyncapi.json").write_text("{}\n")
    (tmp_path / "schemas/jsonschema/TextReport.json").unlink()
    (tmp_path / "schemas/jsonschema/Removed.json").write_text("{}\n")
    assert contract.check_contract(tmp_path) == [
        "schemas/asyncapi.json",
        "schemas/jsonschema/Removed.json",
        "schemas/jsonschema/TextReport.json",
    ]
    contract.write_contract(tmp_path)
    assert contract.check_contract(tmp_path) == []
    assert not (tmp_path / "schemas/jsonschema/Removed.json").exists()


def test_cli_check_fails_with_the_command_to_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert contract.main(["--check", "--root", str(tmp_path)]) == 1
    assert "python -m bus.contract" in capsys.readouterr().err
    assert contract.main(["--root", str(tmp_path)]) == 0
    assert contract.main(["--check", "--root", str(tmp_path)]) == 0


def test_files_are_sorted_indented_json_with_trailing_newline() -> None:
    text = (REPO_ROOT / "schemas/asyncapi.json").read_text(encoding="utf-8")
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------- AsyncAPI


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"external reference {ref!r}: the document must stand alone"
    node: Any = document
    for part in ref[2:].split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and key in node, f"{ref!r} does not resolve"
        node = node[key]
    return node


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


def test_asyncapi_header(doc: dict[str, Any]) -> None:
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["title"] == "Vigie"
    assert doc["info"]["version"] == v1.SCHEMA_VERSION
    assert "reads 1.7" in doc["info"]["description"]  # the compatibility policy is quoted
    assert doc["servers"]["nats"] == doc["servers"]["nats"] | {
        "host": "localhost:4222",
        "protocol": "nats",
    }


def test_every_ref_resolves_inside_the_document(doc: dict[str, Any]) -> None:
    found = refs(doc)
    assert len(found) > 50
    for ref in found:
        resolve(doc, ref)
    assert not any("$defs" in ref for ref in found)


def test_every_address_parameter_is_defined(doc: dict[str, Any]) -> None:
    for name, channel in doc["channels"].items():
        in_address = set(re.findall(r"\{([^}]*)\}", channel["address"]))
        assert in_address, name
        assert set(channel["parameters"]) == in_address, name
        for param in channel["parameters"].values():
            definition = resolve(doc, param["$ref"])
            assert definition.get("enum") or definition.get("description")


def test_addresses_and_parameters_follow_the_topology(doc: dict[str, Any]) -> None:
    params = doc["components"]["parameters"]
    assert params["label"]["enum"] == list(topology.LABELS)
    assert params["kind"]["enum"] == list(topology.KINDS)
    # Open tokens: the bus knows no task; the registry's names match the pattern stated.
    assert "enum" not in params["stage"] and "enum" not in params["task"]
    assert "^[a-z][a-z0-9_]{0,30}$" in params["task"]["description"]
    assert params["prec"]["enum"] == ["flash", "immediate", "priority", "routine"]
    assert topology.SOURCE_RE.pattern in params["source"]["description"]

    addresses = {c["address"] for c in doc["channels"].values()}
    assert addresses == {
        "feeds.{label}.{kind}.{source}",
        "enriched.{label}.{kind}.{source}",
        "dlq.{stage}.{label}",
        "feedback.{label}.{kind}.{source}",
        "audit.{label}.{action}",
        "work.{label}.{task}.{prec}",
        "work.{label}.collate.{prec}",
        "work.{label}.result.{prec}",
        "work.{label}.infer.{prec}",
        "work.{label}.inferred.{client}.{prec}",
    }
    # Every concrete feed subject the document allows is one ingest accepts.
    address = doc["channels"]["feeds"]["address"]
    for label, kind, source in itertools.product(
        params["label"]["enum"], params["kind"]["enum"], params["source"]["examples"]
    ):
        subject = address.format(label=label, kind=kind, source=source)
        assert topology.parse_feed_subject(subject) is not None, subject


def params_enum(doc: dict[str, Any], name: str) -> list[str]:
    return list(doc["components"]["parameters"][name]["enum"])


def test_operations_separate_public_from_internal(doc: dict[str, Any]) -> None:
    ops = {
        resolve(doc, op["channel"]["$ref"])["address"].split(".")[0]
        + ("" if "internal" not in [t["name"] for t in op["tags"]] else "*"): op["action"]
        for op in doc["operations"].values()
    }
    assert ops["feeds"] == "send"
    assert ops["enriched"] == "receive"
    assert ops["dlq"] == "receive"
    assert ops["audit"] == "send"
    assert params_enum(doc, "action") == list(topology.AUDIT_ACTIONS)
    assert "work*" in ops and "work" not in ops
    for op in doc["operations"].values():
        channel_ref = op["channel"]["$ref"]
        assert op["messages"], op
        # AsyncAPI 3: an operation's messages must be messages of its own channel.
        assert all(m["$ref"].startswith(channel_ref + "/messages/") for m in op["messages"])
        internal = op["tags"] == [{"name": "internal"}]
        assert op["description"].startswith("Internal") == internal


def test_feed_messages_and_publisher_headers(doc: dict[str, Any]) -> None:
    feed_messages = {
        resolve(doc, m["$ref"])["name"]: resolve(doc, m["$ref"])
        for m in doc["channels"]["feeds"]["messages"].values()
    }
    assert set(feed_messages) == {"TextReport", "PlainTextReport", "SensorReading"}
    plain = feed_messages["PlainTextReport"]
    assert plain["contentType"] == "text/plain"
    headers = resolve(doc, plain["headers"]["$ref"])
    assert headers["type"] == "object"
    assert set(headers["properties"]) == set(PUBLISHER_HEADERS)
    for name, text in PUBLISHER_HEADERS.items():
        assert headers["properties"][name]["description"] == text
    assert "Z" in headers["properties"]["Vigie-Precedence"]["enum"]


def test_components_hold_every_wire_type(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    for cls in contract.PUBLIC_TYPES:
        assert schemas[cls.__name__]["title"] == cls.__name__
    for name in ("Entity", "Provenance", "TaskOutcome", "MgrsPosition", "LatLonPosition"):
        assert name in schemas
    position = schemas["SensorReading"]["properties"]["position"]
    assert position["discriminator"] == "type"  # AsyncAPI's form, not OpenAPI's object
    for message in doc["components"]["messages"].values():
        payload = message["payload"]
        if "$ref" in payload:
            assert resolve(doc, payload["$ref"])["title"] == message["name"]


# ---------------------------------------------------------------- JSON Schemas vs the Structs


def struct_defs() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (file, name, definition)
        for file, schema in contract.json_schemas().items()
        for name, definition in schema["$defs"].items()
    ]


def test_schema_files_have_ids_titles_and_a_root() -> None:
    schemas = contract.json_schemas()
    assert sorted(schemas) == sorted(f"{cls.__name__}.json" for cls in contract.PUBLIC_TYPES)
    for file, schema in schemas.items():
        name = file.removesuffix(".json")
        assert schema["$id"] == f"https://vigie.invalid/schemas/v1/{name}.json"
        assert schema["title"] == name
        assert schema["$ref"] == f"#/$defs/{name}"
        on_disk = json.loads((REPO_ROOT / "schemas/jsonschema" / file).read_text("utf-8"))
        assert on_disk == schema


@pytest.mark.parametrize(
    ("file", "name", "definition"), struct_defs(), ids=[f"{f}:{n}" for f, n, _ in struct_defs()]
)
def test_schema_fields_match_the_struct(file: str, name: str, definition: dict[str, Any]) -> None:
    info = msgspec.inspect.type_info(getattr(v1, name))
    assert isinstance(info, msgspec.inspect.StructType)
    tag = [info.tag_field] if info.tag_field else []
    assert definition["required"] == tag + [f.encode_name for f in info.fields if f.required]
    assert list(definition["properties"]) == tag + [f.encode_name for f in info.fields]


# A small validator for exactly the keywords msgspec emits; an unknown keyword fails the test
# rather than being skipped, so a schema feature cannot go unchecked.
_ANNOTATIONS = {"$schema", "$id", "$defs", "title", "description", "default", "format"}
_TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def validate(value: Any, schema: dict[str, Any], root: dict[str, Any], at: str = "$") -> list[str]:
    errors: list[str] = []
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    for key, rule in schema.items():
        if key in _ANNOTATIONS or key in ("discriminator", "contentEncoding"):
            continue
        if key == "$ref":
            errors += validate(value, resolve(root, rule), root, at)
        elif key == "type":
            if rule in ("integer", "number"):
                ok = is_number and (rule == "number" or isinstance(value, int))
            else:
                ok = isinstance(value, _TYPES[rule])
            errors += [] if ok else [f"{at}: not {rule}"]
        elif key == "enum":
            errors += [] if value in rule else [f"{at}: {value!r} not in {rule}"]
        elif key == "anyOf":
            if all(validate(value, s, root, at) for s in rule):
                errors.append(f"{at}: matches no alternative")
        # As in JSON Schema, the keywords below only constrain values of their own type.
        elif key in ("required", "properties", "additionalProperties"):
            if isinstance(value, dict):
                errors += _validate_object(key, rule, value, root, at)
        elif key == "propertyNames":
            for k in value if isinstance(value, dict) else {}:
                errors += validate(k, rule, root, f"{at}.{k}(name)")
        elif key == "items":
            for i, v in enumerate(value if isinstance(value, list) else []):
                errors += validate(v, rule, root, f"{at}[{i}]")
        elif key in ("minItems", "maxItems"):
            if isinstance(value, list) and (
                len(value) < rule if key == "minItems" else len(value) > rule
            ):
                errors.append(f"{at}: fails {key} {rule}")
        elif key in ("minimum", "maximum"):
            if is_number and (value < rule if key == "minimum" else value > rule):
                errors.append(f"{at}: fails {key} {rule}")
        elif key in ("minLength", "maxLength", "pattern") and isinstance(value, str):
            if key == "minLength":
                ok = len(value) >= rule
            elif key == "maxLength":
                ok = len(value) <= rule
            else:
                ok = re.search(rule, value) is not None
            errors += [] if ok else [f"{at}: fails {key} {rule}"]
        elif key in ("minLength", "maxLength", "pattern"):
            pass
        else:
            raise AssertionError(f"validator does not know keyword {key!r}")
    return errors


def _validate_object(
    key: str, rule: Any, value: dict[str, Any], root: dict[str, Any], at: str
) -> list[str]:
    if key == "required":
        return [f"{at}: missing {k}" for k in rule if k not in value]
    if key == "properties":
        pairs = [(k, sub) for k, sub in rule.items() if k in value]
    else:
        pairs = [(k, rule) for k in value]
    return [e for k, sub in pairs for e in validate(value[k], sub, root, f"{at}.{k}")]


def _position() -> dict[str, Any]:
    return {"type": "latlon", "lat": 48.8, "lon": 2.3}


def _sensor() -> v1.SensorReading:
    return v1.SensorReading(
        sensor_id="radar-7",
        sensor_type="radar",
        position=v1.LatLonPosition(lat=48.8, lon=2.3),
        time=WHEN,
        detection_class="vehicle",
        confidence=0.7,
    )


def samples() -> dict[str, bytes]:
    when = WHEN
    prov = v1.Provenance(stage="extract", version="1", started_at=when, finished_at=when)
    ent = v1.Entity(type="Unit", text="3 Coy", start=0, end=5, flags=["guess"])
    common: dict[str, Any] = {
        "report_id": "src:1",
        "label": "ts",
        "kind": "sensor",
        "source": "radar_07",
        "precedence": "IMMEDIATE",
        "original_text": "3 Coy",
        "normalised_text": "3 Coy",
        "language": None,
        "language_confidence": None,
        "ingested_at": when,
        "trace_id": "t",
        "sensor": _sensor(),
    }
    report = v1.IngestedReport(
        subject="feeds.ts.sensor.radar_07",
        expected_tasks=["extract"],
        deadline_at=when,
        provenance=[prov],
        **common,
    )
    result = v1.TaskResult(
        report_id="src:1", task="extract", label="ts", status="ok", entities=[ent]
    )
    values: list[msgspec.Struct] = [
        v1.TextReport(text="contact", language="fr", observed_at=when),
        _sensor(),
        report,
        result,
        v1.EnrichedEvent(
            revision=1,
            partial=True,
            entities=[ent],
            tasks=[v1.TaskOutcome(task="extract", status="ok")],
            published_at=when,
            provenance=[prov],
            **common,
        ),
        v1.DeadLetter(
            stage="ingest",
            label="np",
            reason="too_large",
            message="6 MiB",
            recoverable=False,
            subject="feeds.np.report.x",
            headers={},
            data=b"\x00\xff",
            at=when,
        ),
        v1.CollateState(
            report_id="src:1",
            report=report,
            results=[result],
            published=[v1.PublishedRevision(revision=1, tasks=["extract"], partial=True)],
        ),
    ]
    return {f"{type(v).__name__}.json": v1.json_encoder.encode(v) for v in values}


@pytest.mark.parametrize("file", sorted(samples()))
def test_each_schema_validates_its_sample_and_msgspec_round_trips_it(file: str) -> None:
    schema = contract.json_schemas()[file]
    wire = samples()[file]
    assert validate(json.loads(wire), schema, schema) == []
    cls = getattr(v1, file.removesuffix(".json"))
    assert v1.json_encoder.encode(msgspec.json.decode(wire, type=cls)) == wire


@pytest.mark.parametrize(
    ("file", "change", "error"),
    [
        ("SensorReading.json", {"confidence": 1.5}, "$.confidence: fails maximum"),
        ("SensorReading.json", {"position": _position() | {"lat": -91}}, "$.position"),
        ("TextReport.json", {"text": ""}, "$.text: fails minLength"),
        ("TextReport.json", {"language": "EN"}, "$.language"),
        ("DeadLetter.json", {"label": "secret"}, "$.label: 'secret' not in"),
        ("EnrichedEvent.json", {"revision": True}, "$.revision: not integer"),
        ("CollateState.json", {"results": [{"type": "result"}]}, "$.results[0]: missing"),
    ],
)
def test_schemas_reject_what_the_decoders_reject(
    file: str, change: dict[str, Any], error: str
) -> None:
    schema = contract.json_schemas()[file]
    doc = json.loads(samples()[file]) | change
    errors = validate(doc, schema, schema)
    assert any(e.startswith(error) for e in errors), errors
    cls = getattr(v1, file.removesuffix(".json"))
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(doc, cls)


# ---------------------------------------------------------------- docstrings

_INDENTED_DOC = """A report as a unit wrote it.

    Its text is data.
      An indented example stays indented.
    """
# The same docstring as Python 3.13 compiles it and msgspec 0.23 hands it over: margin removed.
_DEDENTED_DOC = (
    "A report as a unit wrote it.\n\nIts text is data.\n  An indented example stays indented.\n"
)


@pytest.mark.parametrize("doc", [_INDENTED_DOC, _DEDENTED_DOC], ids=["indented", "dedented"])
def test_descriptions_do_not_depend_on_how_the_docstring_was_dedented(
    doc: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _DEDENTED_DOC.rstrip("\n")
    assert contract.docstring_text(doc) == expected
    monkeypatch.setattr(v1.TextReport, "__doc__", doc)
    schema = contract.json_schemas()["TextReport.json"]
    assert schema["$defs"]["TextReport"]["description"] == expected


def test_a_type_without_a_docstring_has_no_description(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(v1.TextReport, "__doc__", None)
    assert "description" not in contract.json_schemas()["TextReport.json"]["$defs"]["TextReport"]
