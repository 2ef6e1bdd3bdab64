"""Judging an output's language: only what can be judged, a verdict only when confident, and
no reference text of the gold set flagged (flag precision before recall)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from services.domain.langid import LANGUAGES, identifier_for, identify_language
from services.tasks.language import (
    MIN_CONFIDENCE,
    LanguageVerdict,
    judge_language,
    judgeable_text,
    wrong_language_error,
    wrong_language_flag,
)

GOLD = Path(__file__).resolve().parents[2] / "ops" / "gold" / "reports"
ENGLISH = (
    "The forward patrol saw the vehicles heading north towards the bridge; they were followed "
    "by infantry on foot and no contact was made."
)


class Recorder:
    def __init__(self, answer: tuple[str | None, float]) -> None:
        self.answer = answer
        self.seen: list[str] = []

    def __call__(self, text: str) -> tuple[str | None, float]:
        self.seen.append(text)
        return self.answer


def test_codes_digits_and_capitals_are_set_aside() -> None:
    text = "SPOTREP 251430ZNOV26: 3 BTR-82A du 3e RIMa en 31U DQ 48251 11932, NATO l'a vu."
    rest = judgeable_text(text, ["Leclerc"])
    for gone in ("SPOTREP", "251430ZNOV26", "BTR-82A", "3e", "RIMa", "NATO", "48251"):
        assert gone not in rest
    assert "l'a vu" in rest and "du" in rest
    assert judgeable_text("Le char Leclerc avance.", ["Leclerc"]) == "Le char avance."


def test_a_short_text_is_not_judged_and_the_identifier_not_asked() -> None:
    identify = Recorder(("en", 0.99))
    verdict = judge_language("No contact at 31U DQ 48251 11932.", "fr", identify)
    assert verdict == LanguageVerdict("fr") and not verdict.wrong
    assert verdict.text_language == "fr" and identify.seen == []


def test_a_confident_other_language_is_wrong() -> None:
    verdict = judge_language(ENGLISH, "fr", Recorder(("en", 0.99)))
    assert verdict.wrong and verdict.text_language == "en"
    error = wrong_language_error(verdict, "translation")
    assert error.problem == "wrong_language" and error.items == ("en",)
    assert "English" in error.detail and "French" in error.detail
    flag = wrong_language_flag(verdict, "translate", "translation")
    assert flag.code == "wrong_language" and flag.items == ["en"]


@pytest.mark.parametrize("answer", [("en", MIN_CONFIDENCE - 0.01), ("fr", 0.99), (None, 0.0)])
def test_no_verdict_without_confidence_in_another_language(
    answer: tuple[str | None, float],
) -> None:
    verdict = judge_language(ENGLISH, "fr", Recorder(answer))
    assert not verdict.wrong and verdict.text_language == "fr"


def test_codes_compare_as_language_keys() -> None:
    assert not judge_language(ENGLISH, "fra", Recorder(("fr", 0.99))).wrong


def test_without_an_identifier_nothing_is_judged() -> None:
    assert judge_language(ENGLISH, "fr", None) == LanguageVerdict("fr")


def test_a_target_the_identifier_does_not_know_gets_no_identifier() -> None:
    assert "ja" not in LANGUAGES
    assert identifier_for("ja") is None
    assert identifier_for("fr") is identify_language


# --- calibration on the gold set: references never flagged, sources in another language caught --


def _gold() -> list[dict[str, object]]:
    if not GOLD.is_dir():
        pytest.skip("no gold set")
    return [json.loads(path.read_text("utf-8")) for path in sorted(GOLD.glob("*.json"))]


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+|\n+", text) if s.strip()]


def test_no_reference_text_of_the_gold_set_is_flagged() -> None:
    judged = 0
    for report in _gold():
        reference = report.get("reference_translation")
        if not isinstance(reference, dict):
            continue
        target, text = reference["language"], reference["text"]
        words = text.split()
        # The whole reference, each sentence (what a summary looks like), each opening.
        for piece in [text, *_sentences(text), *(" ".join(words[:k]) for k in (6, 10, 15))]:
            verdict = judge_language(piece, target, identify_language)
            assert not verdict.wrong, (report["id"], piece, verdict)
            judged += verdict.language is not None
    assert judged > 500


def test_most_gold_sources_passed_off_as_translations_are_flagged() -> None:
    caught = total = 0
    for report in _gold():
        reference = report.get("reference_translation")
        if not isinstance(reference, dict) or reference["language"] == report["language"]:
            continue
        total += 1
        caught += judge_language(
            str(report["text"]), reference["language"], identify_language
        ).wrong
    # The rest are short or made of codes (sensor notes, 9-lines): not judgeable, not flagged.
    assert total > 100 and caught / total >= 0.8
