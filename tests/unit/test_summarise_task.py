"""summarise's logic with plain values: a summary cut to length on the last attempt is kept
and flagged ``truncated``; a summary not in the target language is retried, then flagged
``wrong_language``; the report's own language decides which number words support a figure."""

from __future__ import annotations

import pytest

from schemas.v1 import Flag, IngestedReport
from services.config.schema import Config, TasksConfig
from services.summarise.task import SummariseTask, build
from services.tasks.prompting import OutputInvalid
from tests.reports import ingested_report

REPORT_FR = (
    "COMPTE RENDU — 3e RIMa, 2e compagnie.\nLe 251430ZNOV26, la patrouille observe trois "
    "BTR-82A en mouvement vers le nord, position 31U DQ 48251 11932. Aucun tir. Demande de "
    "consignes."
)
REPORT_EN = (
    "SPOTREP. At 251430ZNOV26 the patrol observed a tank and three BTR-82A moving north at "
    "31U DQ 48251 11932. No contact."
)
# 41 words: over the limit of 10 by far.
LONG = (
    "Trois BTR-82A du dispositif adverse se déplacent vers le nord en 31U DQ 48251 11932 à "
    "251430ZNOV26, observés par une patrouille du 3e RIMa. Aucun tir n'a été échangé et la "
    "patrouille demande des consignes pour la suite de sa mission."
)
ENGLISH = (
    "Three BTR-82A are moving north at 31U DQ 48251 11932 at 251430ZNOV26, observed by a "
    "patrol of the 3e RIMa; no shots were fired and the patrol is asking for orders."
)
FRENCH = (
    "Trois BTR-82A se dirigent vers le nord en 31U DQ 48251 11932 à 251430ZNOV26, observés "
    "par une patrouille du 3e RIMa ; aucun tir, la patrouille demande des consignes."
)


def report(text: str, language: str | None) -> IngestedReport:
    return ingested_report(text, ["summarise"], language=language)


def task(max_words: int = 60) -> SummariseTask:
    """The task as the service builds it (the ingest identifier), with a word limit."""
    return build(Config(tasks=TasksConfig(summary_max_words=max_words)), "few-shot")


def codes(flags: list[Flag]) -> list[str]:
    return [f.code for f in flags]


# --- truncated -------------------------------------------------------------------------------


def test_a_summary_cut_to_length_on_the_last_attempt_is_flagged() -> None:
    output = task(max_words=10).conclude(report(REPORT_FR, "fr"), LONG, "stop", final=True)
    assert output.status == "ok" and output.text is not None
    assert len(output.text.split()) <= 10
    [flag] = [f for f in output.flags if f.code == "truncated"]
    assert flag.task == "summarise"
    assert "41 words" in flag.detail and "10" in flag.detail


def test_a_summary_cut_by_the_budget_on_the_last_attempt_is_flagged() -> None:
    cut = "Trois BTR-82A se déplacent vers le nord en 31U DQ 48251 11932, observés par"
    output = task().conclude(report(REPORT_FR, "fr"), cut, "length", final=True)
    assert output.status == "ok" and output.text
    [flag] = [f for f in output.flags if f.code == "truncated"]
    assert "token budget" in flag.detail


def test_a_summary_within_its_limit_is_not_flagged_truncated() -> None:
    output = task().conclude(report(REPORT_FR, "fr"), FRENCH, "stop", final=True)
    assert "truncated" not in codes(output.flags)


def test_too_long_before_the_last_attempt_is_retried() -> None:
    with pytest.raises(OutputInvalid) as caught:
        task(max_words=10).conclude(report(REPORT_FR, "fr"), LONG, "stop", final=False)
    assert caught.value.problem == "too_long"


# --- wrong_language --------------------------------------------------------------------------


def test_a_summary_not_in_the_target_language_is_retried() -> None:
    with pytest.raises(OutputInvalid) as caught:
        task().conclude(report(REPORT_FR, "fr"), ENGLISH, "stop", final=False)
    assert caught.value.problem == "wrong_language"
    assert caught.value.items == ("en",)


def test_a_summary_not_in_the_target_language_is_flagged_on_the_last_attempt() -> None:
    output = task().conclude(report(REPORT_FR, "fr"), ENGLISH, "stop", final=True)
    assert output.text == ENGLISH and output.text_language == "en"
    [flag] = [f for f in output.flags if f.code == "wrong_language"]
    assert flag.task == "summarise" and flag.items == ["en"]


def test_a_french_summary_is_not_flagged() -> None:
    output = task().conclude(report(REPORT_FR, "fr"), FRENCH, "stop", final=False)
    assert output.text_language == "fr" and output.flags == []


def test_a_summary_made_of_codes_is_not_judged() -> None:
    summary = "3 BTR-82A vers le nord en 31U DQ 48251 11932 à 251430ZNOV26."
    output = task().conclude(report(REPORT_FR, "fr"), summary, "stop", final=False)
    assert output.text_language == "fr" and output.flags == []


def test_a_short_summary_copied_from_an_english_report_is_in_english() -> None:
    # Too short for the identifier to judge; four words and more, all of them the report's own.
    copied = "Patrol observed a tank moving north."
    with pytest.raises(OutputInvalid) as caught:
        task().conclude(report(REPORT_EN, "en"), copied, "stop", final=False)
    assert caught.value.problem == "wrong_language" and caught.value.items == ("en",)
    output = task().conclude(report(REPORT_EN, "en"), copied, "stop", final=True)
    assert output.text_language == "en"
    [flag] = [f for f in output.flags if f.code == "wrong_language"]
    assert "copied from the report" in flag.detail


def test_a_short_french_summary_of_an_english_report_keeping_its_codes_is_french() -> None:
    # The codes, names and words in capitals it keeps from the report are no copy.
    summary = "SPOTREP : trois BTR-82A vers le nord en 31U DQ 48251 11932, sans contact."
    output = task().conclude(report(REPORT_EN, "en"), summary, "stop", final=False)
    assert output.text_language == "fr" and output.flags == []


# --- number words of the report's language ---------------------------------------------------


def test_an_article_does_not_support_a_figure() -> None:
    # "a tank" is not a count: "1" in the summary is unsupported.
    summary = "1 char et trois BTR-82A vers le nord."
    with pytest.raises(OutputInvalid) as caught:
        task().conclude(report(REPORT_EN, "en"), summary, "stop", final=False)
    assert caught.value.problem == "unfaithful" and caught.value.items == ("1",)
