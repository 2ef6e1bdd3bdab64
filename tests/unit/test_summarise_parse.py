"""Reading a summary out of model text; bounding its length."""

from __future__ import annotations

import pytest

from services.summarise.parse import over_limit, parse_summary, truncate_words, word_count
from services.tasks.prompting import REPORT_OPEN, OutputInvalid

SUMMARY = "Trois BTR-82A vers le nord en 31U DQ 48251 11932 à 251430ZNOV26 ; aucun tir."


def _problem(raw: str, finish: str | None = "stop", max_words: int = 60) -> str:
    with pytest.raises(OutputInvalid) as caught:
        parse_summary(raw, finish, max_words=max_words)
    return caught.value.problem


@pytest.mark.parametrize(
    "raw",
    [
        SUMMARY,
        f" {SUMMARY}\n",
        f"BLUF: {SUMMARY}",
        f"**BLUF:** {SUMMARY}",
        f"Résumé : {SUMMARY}",
        f"{SUMMARY}\n\nReport:\n{REPORT_OPEN}\nnext",
        f"{SUMMARY}\nBLUF: another",
    ],
)
def test_labels_and_echoes_removed(raw: str) -> None:
    assert parse_summary(raw, "stop", max_words=60) == SUMMARY


def test_lines_become_one_paragraph() -> None:
    assert parse_summary("Trois BTR-82A.\nAucun tir.", "eos", max_words=60) == (
        "Trois BTR-82A. Aucun tir."
    )


@pytest.mark.parametrize("raw", ["", "  ", "BLUF:", "BLUF: …", f"{REPORT_OPEN}"])
def test_empty(raw: str) -> None:
    assert _problem(raw) == "empty"


def test_truncated() -> None:
    assert _problem(SUMMARY, "length") == "truncated"


def test_loop_that_ran_into_the_budget_is_kept_collapsed() -> None:
    raw = SUMMARY + " Aucun tir." * 30
    assert parse_summary(raw, "length", max_words=60) == SUMMARY + " Aucun tir."


def test_too_long_beyond_a_small_margin() -> None:
    ten = "un deux trois quatre cinq six sept huit neuf dix"
    assert parse_summary(ten + " onze douze", "stop", max_words=10) == ten + " onze douze"
    assert _problem(ten + " onze douze treize", max_words=10) == "too_long"
    assert over_limit(66, 60) is False and over_limit(67, 60) is True


def test_word_count() -> None:
    assert word_count("") == 0
    assert word_count("Колонна из 6 Т-72Б3 — на запад.") == 7


def test_truncate_at_a_sentence_end() -> None:
    text = (
        "Trois BTR-82A vers le nord. Aucun tir. La patrouille poursuit son observation du secteur."
    )
    assert truncate_words(text, 8) == "Trois BTR-82A vers le nord. Aucun tir."


def test_truncate_at_a_word_when_no_sentence_end_keeps_enough() -> None:
    text = "Trois BTR-82A vers le nord en 31U DQ 48251 11932 à 251430ZNOV26, sans tir"
    assert truncate_words(text, 6) == "Trois BTR-82A vers le nord en…"


def test_truncate_leaves_short_text_and_strips_the_label() -> None:
    assert truncate_words("BLUF: Aucun tir.", 10) == "Aucun tir."
    assert truncate_words("Aucun tir.", 0) == ""
