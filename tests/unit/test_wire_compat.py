"""Schema 1.2 against 1.1: open task names and flag codes, old and new readers, stored state.

``tests/fixtures/wire-1.1/`` holds the JSON Schemas 1.1 published (what a reader outside Vigie
validates against) and a collate state written by 1.1 services (what the KV buckets hold when a
deployment upgrades).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from schemas import v1
from services.collate import logic
from services.tasks.registry import task_registry
from tests.unit.test_contract import validate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "wire-1.1"
T = dt.datetime(2026, 12, 6, 9, 30, tzinfo=dt.UTC)


def old_schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))
    return schema


def event(task: str = "summarise", flag: str = "unfaithful_summary") -> v1.EnrichedEvent:
    stored = v1.collate_state_decoder.decode((FIXTURES / "collate-state.json").read_bytes())
    plan = logic.plan_revision(stored, T)
    assert plan is not None
    built = logic.build_event(stored, plan, T, fills=task_registry().fills())
    outcomes = [
        msgspec.structs.replace(o, task=task) if o.task == "summarise" else o for o in built.tasks
    ]
    flags = [msgspec.structs.replace(f, code=flag, task=task) for f in built.flags]
    return msgspec.structs.replace(built, tasks=outcomes, flags=flags)


def as_json(value: msgspec.Struct) -> Any:
    return json.loads(v1.json_encoder.encode(value))


def test_state_written_by_1_1_is_read_and_completed_after_the_upgrade() -> None:
    stored = v1.collate_state_decoder.decode((FIXTURES / "collate-state.json").read_bytes())
    assert stored.schema_version == "1.1" and v1.readable(stored.schema_version)
    assert logic.is_complete(stored)
    built = event()
    assert built.schema_version == v1.SCHEMA_VERSION == "1.3" and not built.partial
    assert built.summary == "Deux camions en 31U DQ 48251 11932."
    assert built.translation is None  # skipped: already in French
    assert [e.value for e in built.entities] == ["31UDQ4825111932"]
    assert [f.code for f in built.flags] == ["unfaithful_summary"]
    assert built.outputs == {}


def test_a_1_1_reader_reads_1_2_messages_that_use_its_tokens() -> None:
    schema = old_schema("EnrichedEvent")
    assert validate(as_json(event()), schema, schema) == []
    result = v1.InferenceResult(
        request_id="r", client="translate", label="np", precedence="ROUTINE", status="ok",
        cached_prompt_tokens=120,
    )  # fmt: skip
    schema = old_schema("InferenceResult")
    assert validate(as_json(result), schema, schema) == []


def test_a_1_1_reader_refuses_a_new_task_or_flag_so_readers_upgrade_first() -> None:
    schema = old_schema("EnrichedEvent")
    assert validate(as_json(event(task="logstat")), schema, schema) != []
    assert validate(as_json(event(flag="wrong_language")), schema, schema) != []


def test_a_1_2_reader_keeps_tokens_it_does_not_know() -> None:
    data = v1.json_encoder.encode(event(task="logstat", flag="unit_confusion"))
    read = v1.enriched_decoder.decode(data)
    assert "logstat" in {t.task for t in read.tasks}
    assert [f.code for f in read.flags] == ["unit_confusion"]
    with_output = msgspec.structs.replace(read, outputs={"logstat": {"items": [{"qty": 3}]}})
    again = v1.enriched_decoder.decode(v1.json_encoder.encode(with_output))
    assert again.outputs == {"logstat": {"items": [{"qty": 3}]}}


@pytest.mark.parametrize("token", ["Logstat", "log-stat", "9lives", "", "a" * 32, "with space"])
def test_tokens_outside_the_pattern_are_refused(token: str) -> None:
    with pytest.raises(msgspec.ValidationError):
        v1.enriched_decoder.decode(v1.json_encoder.encode(event(task=token)))
    with pytest.raises(msgspec.ValidationError):
        v1.enriched_decoder.decode(v1.json_encoder.encode(event(flag=token.upper() or "-")))
