"""Choosing the gold reports of a run (services/evaluation/gold.py, run.py), the
configuration of the services an evaluation starts, and a run written then scored again."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from schemas.v1 import EnrichedEvent, TaskOutcome
from services.config.schema import Config
from services.evaluation.gold import load_gold
from services.evaluation.output import write_results
from services.evaluation.run import EvalOptions, choose_reports, eval_config, rescore, scored
from services.evaluation.runner import Collected


def test_the_splits_and_ids() -> None:
    dev, test = load_gold(split="dev"), load_gold(split="test")
    assert len(dev) + len(test) == len(load_gold()) >= 150
    assert {r.split for r in dev} == {"dev"}
    chosen = load_gold(split="dev", ids=("ru-intrep-108", "ar-intrep-110"))
    assert [r.id for r in chosen] == ["ru-intrep-108", "ar-intrep-110"]
    with pytest.raises(KeyError, match="en-spotrep-020"):
        load_gold(split="test", ids=("en-spotrep-020",))


def test_a_limit_takes_the_languages_in_turn() -> None:
    dev = load_gold(split="dev")
    five = choose_reports(dev, 5)
    assert sorted(r.language for r in five) == ["ar", "en", "fr", "ru", "uk"]
    seven = choose_reports(dev, 7)
    assert [r.language for r in seven] == ["ar", "en", "fr", "ru", "uk", "ar", "en"]
    assert choose_reports(dev, None) == dev and choose_reports(dev, 10_000) == dev


def test_the_services_get_the_tasks_model_and_long_deadlines() -> None:
    options = EvalOptions(tasks=("extract",), deadline=1200.0)
    cfg = eval_config(Config(), options, model="gemma3-270m", engine="stand-in")
    assert cfg.ingest.tasks == ("extract",)
    assert (cfg.inference.model, cfg.inference.engine) == ("gemma3-270m", "stand-in")
    assert cfg.collate.deadline_for("FLASH") == cfg.collate.deadline_for("ROUTINE") == 1200.0
    kept = eval_config(Config(), EvalOptions(deadline=None))
    assert kept.collate == Config().collate and kept.ingest.tasks == Config().ingest.tasks
    # The engine serves adapters (inference.adapter): --adapter reaches the inference section.
    assert eval_config(Config(), options, adapter="lora-1").inference.adapter == "lora-1"
    assert eval_config(Config(), options).inference.adapter is None


def test_a_run_written_then_scored_again_gives_the_same_figures(tmp_path: Path) -> None:
    [gold] = load_gold(split="dev", ids=("en-free_text-006",))
    now = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
    event = EnrichedEvent(
        report_id="r",
        revision=1,
        partial=False,
        label="np",
        kind="report",
        source="gold",
        precedence="FLASH",
        original_text=gold.text,
        normalised_text=gold.text,
        language="en",
        language_confidence=1.0,
        entities=[],
        ingested_at=now,
        published_at=now,
        trace_id="0" * 32,
        provenance=[],
        tasks=[TaskOutcome(task=t, status="ok") for t in Config().ingest.tasks],
        translation=gold.reference_text,
        summary=gold.summary_facts[0],
        target_language="fr",
    )
    collected = Collected(events={gold.id: event}, complete={gold.id}, seconds={gold.id: 1.5})
    options = EvalOptions(ids=(gold.id,))
    first = scored(
        Config(),
        options,
        [gold],
        collected,
        identify=lambda text: "fr",
        run_id="1",
        started_at="2026-11-25T00:00:00+00:00",
        wall_s=2.0,
    )
    paths = write_results(first, tmp_path, "vigie eval --ids en-free_text-006")
    assert {p.name for p in paths} >= {"eval.json", "eval.md", "events.jsonl", "statuses.png"}
    again = rescore(Config(), tmp_path, identify=lambda text: "fr")
    assert again.figures == first.figures
    assert again.collected.seconds == {gold.id: 1.5}
    document = json.loads((tmp_path / "eval.json").read_text())
    assert document["figures"]["translation"]["chrf"]["score"] == 100.0
    assert "# vigie eval" in (tmp_path / "eval.md").read_text()
