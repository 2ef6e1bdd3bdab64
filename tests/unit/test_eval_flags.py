"""Flag quality and silent failures (services/evaluation/flags.py), on plain values."""

from __future__ import annotations

from services.evaluation.flags import ERRORS, Case, flag_quality, silent_failures

CASES = [
    Case("r1", "t", "protected_altered", error=True, flagged=True, detail="BTR-82A (0/1)"),
    Case("r2", "t", "protected_altered", error=True, flagged=False, detail="T-72B3 (1/2)"),
    Case("r3", "t", "protected_altered", error=False, flagged=True),
    Case("r4", "t", "protected_altered", error=False, flagged=False),
    Case("r1", "t", "wrong_language", error=None, flagged=True, detail="identified as None"),
    Case("r2", "t", "wrong_language", error=True, flagged=True, detail="identified as en"),
    Case("r1", None, "suspected_injection", error=True, flagged=False),
]


def test_precision_and_recall_per_flag_over_what_the_gold_can_judge() -> None:
    quality = flag_quality(CASES)
    altered = quality["protected_altered"]
    assert (altered.outputs, altered.flagged, altered.errors) == (4, 2, 2)
    assert (altered.tp, altered.fp, altered.fn) == (1, 1, 1)
    assert (altered.precision, altered.recall) == (0.5, 0.5)
    language = quality["wrong_language"]
    assert (language.outputs, language.precision, language.recall) == (1, 1.0, 1.0)
    injection = quality["suspected_injection"]
    assert (injection.precision, injection.recall) == (None, 0.0)


def test_an_error_without_its_flag_is_a_silent_failure() -> None:
    silent = silent_failures(CASES)
    assert [(s.report, s.task, s.code, s.detail) for s in silent] == [
        ("r2", "t", "protected_altered", "T-72B3 (1/2)"),
        ("r1", None, "suspected_injection", ""),
    ]


def test_every_judged_flag_says_what_it_claims_to_catch() -> None:
    assert set(ERRORS) == {
        "protected_altered", "glossary_missed", "wrong_language", "unfaithful_summary",
        "entities_dropped", "suspected_injection",
    }  # fmt: skip
    assert all(ERRORS.values())
