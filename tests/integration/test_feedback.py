"""Analysts' corrections on a REAL nats-server with the generated permissions: validation against
the published event, label isolation, no write-down, and the training set they export to."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import msgspec
import pytest

from bus.publish import JetStreamPublisher, PublishError
from bus.topology import build_topology
from schemas.v1 import (
    CorrectedEntity,
    CorrectedQuantity,
    Correction,
    EnrichedEvent,
    TaskOutcome,
    json_encoder,
)
from services.config.schema import Config, topology_settings
from services.feedback.correction import CorrectionError, build_correction, decode_correction
from services.feedback.dataset import (
    DatasetError,
    check_labels,
    from_corrections,
    load_dataset,
    render_dataset,
    report_from_event,
)
from services.feedback.store import (
    events_by_id,
    find_event,
    read_corrections,
    submit_correction,
)
from services.tasks.registry import task_registry
from services.tasks.wiring import task_logic
from tests.integration.secured import connect_as, secured_server
from tests.integration.test_cli import vigie

T0 = dt.datetime(2026, 11, 25, 14, 30, tzinfo=dt.UTC)
FILLS = dict(task_registry().fills())
TEXT = "2nd Bn reports 2 BTR-82A at grid 31UDQ4825111932. 4000 L of diesel remaining."


def event(label: str, report_id: str = "r-1", revision: int = 1) -> EnrichedEvent:
    return EnrichedEvent(
        report_id=report_id,
        revision=revision,
        partial=False,
        label=label,  # type: ignore[arg-type]
        kind="report",
        source="unit7",
        precedence="ROUTINE",
        original_text=TEXT,
        normalised_text=TEXT,
        language="en",
        language_confidence=0.99,
        entities=[],
        tasks=[TaskOutcome(task=t, status="ok") for t in FILLS],
        ingested_at=T0,
        published_at=T0,
        trace_id="0" * 31 + "1",
        provenance=[],
        translation="Le 2e Bn signale 2 BTR-82A.",
    )


async def publish_event(js: object, ev: EnrichedEvent) -> None:
    await JetStreamPublisher(js).publish(  # type: ignore[arg-type]
        f"enriched.{ev.label}.{ev.kind}.{ev.source}",
        json_encoder.encode(ev),
        msg_id=f"{ev.report_id}:r{ev.revision}",
    )


def translate_task() -> str:
    return next(t for t, f in FILLS.items() if "translation" in f)


def entity_task() -> str:
    return next(t for t, f in FILLS.items() if "entities" in f)


def quantity_task() -> str:
    return next(t for t, f in FILLS.items() if "outputs" in f)


def test_a_correction_is_checked_against_its_event_and_task() -> None:
    ev = event("dr")
    fixed = "Le 2e bataillon signale 2 BTR-82A en 31UDQ4825111932."
    c = build_correction(ev, translate_task(), author="sgt.martin", translation=fixed, fills=FILLS)
    assert (c.label, c.kind, c.source, c.revision) == ("dr", "report", "unit7", 1)
    # The wire form round-trips and is validated on the way in.
    assert decode_correction(json_encoder.encode(c)) == c
    with pytest.raises(CorrectionError, match="exactly one of"):
        build_correction(ev, translate_task(), author="a", fills=FILLS)
    with pytest.raises(CorrectionError, match="fills"):
        build_correction(ev, translate_task(), author="a", summary="x", fills=FILLS)
    with pytest.raises(CorrectionError, match=r"normalised_text\[0:3\]"):
        build_correction(
            ev,
            entity_task(),
            author="a",
            entities=[CorrectedEntity(type="Unit", text="2nd Bn", start=0, end=3)],
            fills=FILLS,
        )
    with pytest.raises(CorrectionError, match="not a valid correction"):
        decode_correction(b'{"report_id": "r-1"}')
    lowered = msgspec.structs.replace(c, label="np")
    with pytest.raises(CorrectionError, match="carries the label of the event"):
        from services.feedback.correction import check_correction

        check_correction(lowered, ev, FILLS)


async def test_corrections_stay_at_their_label_and_never_write_down(tmp_path: Path) -> None:
    async with secured_server(tmp_path) as secured:
        collate = await connect_as(secured, "collate")
        cjs = collate.nc.jetstream()
        for label in ("dr", "s"):
            await publish_event(cjs, event(label))
        analyst_dr = await connect_as(secured, "analyst-dr")
        analyst_s = await connect_as(secured, "analyst-s")
        js_dr, js_s = analyst_dr.nc.jetstream(), analyst_s.nc.jetstream()

        # The dr analyst corrects the dr event.
        found = await find_event(js_dr, "dr", "report", "unit7", "r-1", 1)
        assert found is not None and found.label == "dr"
        c_dr = build_correction(
            found, translate_task(), author="dr-analyst", translation="Fixed dr.", fills=FILLS
        )
        receipt = await submit_correction(js_dr, JetStreamPublisher(js_dr), c_dr, FILLS)
        assert receipt.stream == "FEEDBACK_DR"
        # Stored once: a resubmission of the same correction is a duplicate.
        again = await submit_correction(js_dr, JetStreamPublisher(js_dr), c_dr, FILLS)
        assert again.duplicate

        # A correction of an event never published: a clear refusal, nothing stored.
        ghost = msgspec.structs.replace(c_dr, report_id="r-404", correction_id="ghost")
        with pytest.raises(CorrectionError, match="no event r-404 revision 1"):
            await submit_correction(js_dr, JetStreamPublisher(js_dr), ghost, FILLS)

        # The s analyst corrects the s event at s...
        s_event = await find_event(js_s, "s", "report", "unit7", "r-1", 1)
        assert s_event is not None
        c_s = build_correction(
            s_event,
            quantity_task(),
            author="s-analyst",
            quantities=[
                CorrectedQuantity(
                    item="diesel", quantity=4000, unit="litres", status="on_hand", text="4000 L"
                )
            ],
            fills=FILLS,
        )
        receipt = await submit_correction(js_s, JetStreamPublisher(js_s), c_s, FILLS)
        assert receipt.stream == "FEEDBACK_S"
        assert await analyst_s.violations() == []

        # ...but cannot write into feedback.dr: no write-down, whatever the body says.
        written_down = msgspec.structs.replace(c_s, label="dr", correction_id="down")
        with pytest.raises((PublishError, Exception)):
            await JetStreamPublisher(js_s, timeout=1.0).publish(
                "feedback.dr.report.unit7", json_encoder.encode(written_down), msg_id="down"
            )
        assert any('publish to "feedback.dr.report.unit7"' in v for v in analyst_s.errors)

        # Reading: the s analyst reads dr and s corrections; the dr analyst never s.
        assert [c.correction_id for c in await read_corrections(js_s, "dr")] == [c_dr.correction_id]
        assert [c.correction_id for c in await read_corrections(js_s, "s")] == [c_s.correction_id]
        assert [c.correction_id for c in await read_corrections(js_dr, "dr")] == [
            c_dr.correction_id
        ]
        with pytest.raises(Exception):  # noqa: B017 - denied: the server never answers
            await js_dr.stream_info("FEEDBACK_S", timeout=0.5)  # type: ignore[call-arg]
        await analyst_dr.nc.close()
        await analyst_s.nc.close()
        await collate.nc.close()


async def test_export_builds_the_serving_prompt_of_each_task(tmp_path: Path) -> None:
    async with secured_server(tmp_path) as secured:
        collate = await connect_as(secured, "collate")
        await publish_event(collate.nc.jetstream(), event("dr"))
        analyst = await connect_as(secured, "analyst-dr")
        js = analyst.nc.jetstream()
        ev = await find_event(js, "dr", "report", "unit7", "r-1", 1)
        assert ev is not None
        fixed = "Le 2e bataillon signale deux BTR-82A en 31UDQ4825111932 ; reste 4000 L de gazole."
        entities = [
            CorrectedEntity(type="Unit", text="2nd Bn", start=0, end=6),
            CorrectedEntity(type="MilitaryPlatform", text="BTR-82A"),
        ]
        for c in (
            build_correction(ev, translate_task(), author="a", translation=fixed, fills=FILLS),
            build_correction(ev, entity_task(), author="a", entities=entities, fills=FILLS),
        ):
            await submit_correction(js, JetStreamPublisher(js), c, FILLS)
        corrections = await read_corrections(js, "dr")
        events = await events_by_id(js, "dr", {(c.report_id, c.revision) for c in corrections})
        await analyst.nc.close()
        await collate.nc.close()

    cfg = Config()
    logics = {name: task_logic(name, cfg) for name in FILLS}
    examples, skipped = from_corrections(corrections, events, logics)
    assert skipped == [] and len(examples) == 2
    by_task = {e.task: e for e in examples}
    report = report_from_event(ev)
    for task, example in by_task.items():
        # Exactly what the task service would send the engine for this report.
        spec = logics[task].prompt(report, None)
        assert example.prompt == spec.prompt and example.style == spec.style
        assert example.label == "dr" and example.origin.startswith("feedback:")
    assert by_task[translate_task()].completion.startswith(fixed)
    answer = json.loads(by_task[entity_task()].completion)
    assert answer == {
        "entities": [
            {"type": "Unit", "text": "2nd Bn"},
            {"type": "MilitaryPlatform", "text": "BTR-82A"},
        ]
    }
    data = render_dataset(examples, check_labels(examples, ["dr"], mix=False), ["feedback.dr"])
    loaded = load_dataset(data)
    assert loaded.label == "dr" and loaded.examples == examples
    # A set whose lines were edited after export is refused.
    with pytest.raises(DatasetError, match="fingerprint"):
        load_dataset(data.replace(b"BTR-82A", b"T-72"))


def test_labels_mix_only_when_asked_and_then_carry_the_highest() -> None:
    with pytest.raises(DatasetError, match="--mix-labels"):
        check_labels([], ["dr", "s"], mix=False)
    assert check_labels([], ["np", "s", "dr"], mix=True) == "s"


async def test_the_cli_submits_and_exports(
    tmp_path: Path, nats_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from bus.connect import connect
    from bus.provision import provision

    nc = await connect(nats_url, name="t")
    js = nc.jetstream()
    await provision(js, build_topology(topology_settings(Config())))
    await publish_event(js, event("dr"))
    await publish_event(js, event("s", report_id="r-2"))
    await nc.close()
    good = build_correction(
        event("dr"), translate_task(), author="a", translation="Fixed.", fills=FILLS
    )
    path = tmp_path / "c.json"
    path.write_bytes(json_encoder.encode(good))
    assert await vigie(nats_url, "feedback", str(path)) == 0
    assert "FEEDBACK_DR seq 1" in capsys.readouterr().out
    unknown = msgspec.structs.replace(good, report_id="nope", correction_id="x")
    path.write_bytes(json_encoder.encode(unknown))
    assert await vigie(nats_url, "feedback", str(path)) == 2
    assert "correction refused: no event nope" in capsys.readouterr().err
    path.write_bytes(b'{"report_id": 3}')
    assert await vigie(nats_url, "feedback", str(path)) == 2

    out = tmp_path / "set.jsonl"
    argv = ["dataset", "export", "--label", "dr", "--include-gold", "dev", "--out", str(out)]
    assert await vigie(nats_url, *argv) == 0
    data = load_dataset(out.read_bytes())
    assert data.label == "dr"
    assert {e.label for e in data.examples} == {"dr"}
    assert any(e.origin == f"feedback:{good.correction_id}" for e in data.examples)
    assert any(e.origin.startswith("gold:") for e in data.examples)
    # Two labels: refused unless mixed explicitly, and then the set is s.
    argv = ["dataset", "export", "--label", "dr", "--label", "s", "--out", str(out)]
    assert await vigie(nats_url, *argv) == 2
    assert await vigie(nats_url, *argv, "--mix-labels", "--include-gold", "dev") == 0
    data = load_dataset(out.read_bytes())
    assert data.label == "s" and {e.label for e in data.examples} <= {"np", "dr", "s"}


def test_correction_is_a_public_wire_type() -> None:
    from bus import contract

    assert Correction in contract.PUBLIC_TYPES
