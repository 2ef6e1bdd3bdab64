"""`vigie tail` shows what an analyst needs of an event, a task's own output included."""

from __future__ import annotations

import datetime as dt

from schemas.v1 import EnrichedEvent, TaskOutcome, TokenUsage
from services.cli.inspect import format_enriched

T = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)


def test_every_task_output_is_shown_whatever_the_task() -> None:
    event = EnrichedEvent(
        report_id="r1", revision=1, partial=False, label="np", kind="report", source="s",
        precedence="ROUTINE", original_text="x", normalised_text="x", language="en",
        language_confidence=0.9, entities=[], ingested_at=T, published_at=T, trace_id="0" * 32,
        provenance=[], summary="Bref.",
        tasks=[TaskOutcome(task="wordcount", status="ok"),
               TaskOutcome(task="summarise", status="ok")],
        outputs={"wordcount": {"words": 7, "note": "sept mots"}},
    )  # fmt: skip
    lines = format_enriched("enriched.np.report.s", event).splitlines()
    assert "  tasks   wordcount ok, summarise ok" in lines
    assert '  wordcount {"words": 7, "note": "sept mots"}' in lines
    assert "  summary Bref." in lines


def test_the_tokens_a_report_cost_are_shown() -> None:
    event = EnrichedEvent(
        report_id="r1", revision=1, partial=False, label="np", kind="report", source="s",
        precedence="ROUTINE", original_text="x", normalised_text="x", language="en",
        language_confidence=0.9, entities=[], ingested_at=T, published_at=T, trace_id="0" * 32,
        provenance=[], tasks=[TaskOutcome(task="summarise", status="ok")],
        usage=TokenUsage(prompt_tokens_computed=120, prompt_tokens_reused=900,
                         generated_tokens=95, discarded_tokens=75),
    )  # fmt: skip
    lines = format_enriched("enriched.np.report.s", event).splitlines()
    assert "  tokens  prompt 120 computed + 900 reused, generated 95 (75 discarded)" in lines
