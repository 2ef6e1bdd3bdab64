"""The tasks benchmark's pure parts: variants of settings, per-report token counts."""

from __future__ import annotations

import argparse
import datetime as dt

import pytest

from loadtest.tasks_throughput_bench import parse_variant, token_counts
from schemas.v1 import EnrichedEvent, Provenance, TokenUsage

T = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)


def test_a_variant_names_settings_over_the_shipped_ones() -> None:
    assert parse_variant("shipped:") == ("shipped", {})
    assert parse_variant(
        "baseline:VIGIE_INFERENCE__BATCH_INVARIANT=true, VIGIE_INFERENCE__MAX_SEQUENCES=14"
    ) == (
        "baseline",
        {"VIGIE_INFERENCE__BATCH_INVARIANT": "true", "VIGIE_INFERENCE__MAX_SEQUENCES": "14"},
    )
    for bad in ("x:BATCH_INVARIANT=true", "x:VIGIE_INFERENCE__THREADS", ":VIGIE_A__B=1"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_variant(bad)


def event(usage: TokenUsage | None, *by_task: tuple[str, TokenUsage]) -> EnrichedEvent:
    return EnrichedEvent(
        report_id="r", revision=1, partial=False, label="np", kind="report", source="s",
        precedence="ROUTINE", original_text="x", normalised_text="x", language="en",
        language_confidence=0.9, entities=[], tasks=[], ingested_at=T, published_at=T,
        trace_id="0" * 32, usage=usage,
        provenance=[Provenance(stage=t, version="1", started_at=T, finished_at=T, usage=u)
                    for t, u in by_task],
    )  # fmt: skip


def test_token_counts_are_per_report() -> None:
    counts = token_counts(
        [
            event(TokenUsage(prompt_tokens_computed=100, prompt_tokens_reused=300,
                             generated_tokens=50, discarded_tokens=10)),
            event(TokenUsage(prompt_tokens_computed=300, prompt_tokens_reused=300,
                             generated_tokens=70)),
            event(None),
        ]
    )  # fmt: skip
    assert counts["prompt_tokens_computed"]["mean"] == round(400 / 3, 1)
    assert counts["generated_tokens"]["p50"] == 50
    assert counts["discarded_tokens"]["mean"] == round(10 / 3, 1)
    assert counts["prompt_reused_share"] == 0.6
    assert counts["reports_without_usage"] == 1


def test_token_counts_say_which_task_generated_and_discarded() -> None:
    counts = token_counts(
        [
            event(None, ("translate", TokenUsage(generated_tokens=80, discarded_tokens=40)),
                  ("summarise", TokenUsage(generated_tokens=60))),
            event(None, ("translate", TokenUsage(generated_tokens=40))),
        ]
    )  # fmt: skip
    assert counts["by_task"]["translate"]["generated_tokens"] == 60
    assert counts["by_task"]["translate"]["discarded_tokens"] == 20
    assert counts["by_task"]["summarise"]["generated_tokens"] == 30
    assert set(counts["by_task"]) == {"translate", "summarise"}
