"""`vigie tail` shows what an analyst needs of an event, a task's own output included."""

from __future__ import annotations

import datetime as dt

from schemas.v1 import EnrichedEvent, TaskOutcome
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
