"""Model entities grounded by construction: the real llama.cpp engine, the shipped model, the
per-report span grammar — every entity the model writes is a span of the report, none dropped."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from schemas.v1 import IngestedReport
from services.evaluation.gold import load_gold
from services.extract.task import ExtractTask
from services.inference.engine import GenerationRequest
from tests.engine.test_llama_engine import default_model, llama_engine
from tests.reports import ingested_report

__all__ = ["default_model"]  # the session fixture, shared with the conformance suite

T0 = dt.datetime(2026, 12, 6, 8, 0, tzinfo=dt.UTC)
#: Four short dev reports, four languages and scripts (each ~10-40 s of generation on 2 cores).
IDS = ("fr-spotrep-001", "ar-intrep-113", "ru-sensor_note-124", "uk-sensor_note-124")


def ingested(rid: str, text: str, language: str) -> IngestedReport:
    return ingested_report(
        text, ["extract"], language=language, report_id=rid, at=T0, deadline_s=600
    )


@pytest.mark.timeout(600)
async def test_every_model_entity_is_a_grounded_span(default_model: Path) -> None:
    task = ExtractTask(style="few-shot", spans="source")
    gold = load_gold(ids=IDS)
    assert len(gold) == len(IDS)
    proposed = 0
    async with llama_engine(default_model, sequence_tokens=2048) as engine:
        for g in gold:
            report = ingested(g.id, g.text, g.language)
            spec = task.prompt(report, None)
            assert spec.prompt is not None and spec.json_schema is not None
            result = await engine.generate(
                GenerationRequest(
                    request_id=g.id,
                    max_tokens=spec.max_tokens,
                    prompt=spec.prompt,
                    stop=spec.stop,
                    json_schema=spec.json_schema,
                )
            )
            # The engine says it enforced the whole schema, the span keyword included.
            assert result.schema_enforced is True
            out = task.conclude(report, result.text, result.finish_reason, final=True)
            assert out.quality is not None
            print(g.id, result.text)
            assert out.dropped_entities == 0, (g.id, result.text, out.flags)
            assert out.quality.entities_grounded == out.quality.entities_proposed
            assert not [f for f in out.flags if f.code == "entities_dropped"]
            for entity in out.entities:
                assert g.text[entity.start : entity.end] == entity.text
            proposed += out.quality.entities_proposed or 0
    # Not vacuous: the model did name entities.
    assert proposed >= len(IDS)
