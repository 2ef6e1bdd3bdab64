"""translate's logic with plain values: the output's language judged (wrong_language), a
translation cut by the token budget kept and flagged on the last attempt."""

from __future__ import annotations

import pytest

from schemas.v1 import Flag, IngestedReport
from services.config.schema import Config
from services.tasks.prompting import OutputInvalid
from services.translate.task import TranslateTask, build
from tests.reports import ingested_report

EN_REPORT = (
    "SPOTREP. 251430ZNOV26. Patrol observed 3 BTR-82A moving north at 31U DQ 48251 11932. "
    "No contact."
)
RU_REPORT = (
    "Донесение. В 251430ZNOV26 патруль заметил 3 БТР-82А, двигавшихся на север у моста в "
    "31U DQ 48251 11932. Огонь не открывался, наблюдение продолжается."
)
FRENCH = (
    "SPOTREP. 251430ZNOV26. La patrouille a observé 3 BTR-82A se dirigeant vers le nord en "
    "31U DQ 48251 11932. Pas de contact."
)
# What a model returned as the "French translation" of a held-out report: English.
ENGLISH = (
    "SPOTREP. 251430ZNOV26. The forward patrol saw 3 BTR-82A heading north towards the bridge "
    "at 31U DQ 48251 11932. The vehicles were followed by infantry on foot; no contact was made."
)


def report(text: str, language: str | None) -> IngestedReport:
    return ingested_report(text, ["translate"], language=language)


@pytest.fixture(scope="module")
def task() -> TranslateTask:
    """The task as the service builds it: the shipped glossary, the ingest identifier."""
    return build(Config(), "few-shot")


def codes(flags: list[Flag]) -> list[str]:
    return [f.code for f in flags]


# --- wrong_language --------------------------------------------------------------------------


@pytest.mark.parametrize("source", [(EN_REPORT, "en"), (RU_REPORT, "ru")], ids=["en", "ru"])
def test_an_english_translation_into_french_is_retried(
    task: TranslateTask, source: tuple[str, str]
) -> None:
    with pytest.raises(OutputInvalid) as caught:
        task.conclude(report(*source), ENGLISH, "stop", final=False)
    assert caught.value.problem == "wrong_language"
    assert caught.value.items == ("en",)


def test_an_english_translation_is_kept_flagged_on_the_last_attempt(task: TranslateTask) -> None:
    output = task.conclude(report(RU_REPORT, "ru"), ENGLISH, "stop", final=True)
    assert output.status == "ok" and output.text == ENGLISH
    # text_language says what the text is, not what was asked for.
    assert output.text_language == "en"
    [flag] = [f for f in output.flags if f.code == "wrong_language"]
    assert flag.task == "translate" and flag.items == ["en"]
    assert "English" in flag.detail and "French" in flag.detail


def test_a_french_translation_is_not_flagged(task: TranslateTask) -> None:
    output = task.conclude(report(EN_REPORT, "en"), FRENCH, "stop", final=False)
    assert output.text_language == "fr"
    assert "wrong_language" not in codes(output.flags)


@pytest.mark.parametrize(
    "text",
    [
        # Too few letters once codes and digits are set aside: no judgement, no flag.
        "No contact. 3 BTR-82A at 31U DQ 48251 11932.",
        "SPOTREP 251430ZNOV26 3 BTR-82A 31U DQ 48251 11932 NSTR",
        "Moving north.",
    ],
)
def test_what_cannot_be_judged_is_not_flagged(task: TranslateTask, text: str) -> None:
    output = task.conclude(report(EN_REPORT, "en"), text, "stop", final=True)
    assert "wrong_language" not in codes(output.flags)
    assert output.text_language == "fr"


def test_the_identifier_sees_neither_protected_tokens_nor_digits() -> None:
    seen: list[str] = []

    def identify(text: str) -> tuple[str | None, float]:
        seen.append(text)
        return "en", 0.99

    base = build(Config(), "few-shot")
    task = TranslateTask(
        glossary=base.glossary, target_language="fr", style="few-shot", identify=identify
    )
    with pytest.raises(OutputInvalid):
        task.conclude(report(EN_REPORT, "en"), ENGLISH, "stop", final=False)
    [text] = seen
    for token in ("251430ZNOV26", "BTR-82A", "31U DQ 48251 11932", "SPOTREP", "3"):
        assert token not in text
    assert not any(char.isdigit() for char in text)
    assert "forward patrol" in text


def test_a_low_confidence_guess_is_not_a_verdict() -> None:
    base = build(Config(), "few-shot")
    task = TranslateTask(
        glossary=base.glossary,
        target_language="fr",
        style="few-shot",
        identify=lambda text: ("en", 0.6),
    )
    output = task.conclude(report(EN_REPORT, "en"), ENGLISH, "stop", final=False)
    assert "wrong_language" not in codes(output.flags) and output.text_language == "fr"


def test_without_an_identifier_nothing_is_judged() -> None:
    base = build(Config(), "few-shot")
    task = TranslateTask(glossary=base.glossary, target_language="fr", style="few-shot")
    output = task.conclude(report(EN_REPORT, "en"), ENGLISH, "stop", final=True)
    assert "wrong_language" not in codes(output.flags) and output.text_language == "fr"


# --- truncated -------------------------------------------------------------------------------


def test_a_translation_cut_by_the_budget_is_retried(task: TranslateTask) -> None:
    with pytest.raises(OutputInvalid) as caught:
        task.conclude(report(EN_REPORT, "en"), FRENCH[:60], "length", final=False)
    assert caught.value.problem == "truncated"


def test_a_translation_cut_by_the_budget_is_kept_flagged_on_the_last_attempt(
    task: TranslateTask,
) -> None:
    cut = "SPOTREP. 251430ZNOV26. La patrouille a observé 3 BTR-82A se dirigeant vers"
    output = task.conclude(report(EN_REPORT, "en"), cut, "length", final=True)
    assert output.status == "ok" and output.text == cut
    [flag] = [f for f in output.flags if f.code == "truncated"]
    assert flag.task == "translate"
    assert "token budget" in flag.detail
    # The words the report has and the words the cut translation kept, to judge the loss.
    assert "15 words" in flag.detail and "11" in flag.detail
    # The protected tokens it never reached are flagged as missing too.
    assert "protected_altered" in codes(output.flags)


# --- the report copied: its language, where no identifier can judge it -------------------------

# en-logstat-017's "French translation" in the first full test-split run: the report in
# capitals, copied; every word in capitals or with a digit, so the identifier had nothing to
# read, and no flag said it was English.
LOGSTAT = (
    "LOGSTAT – 2 RIFLES BG – AS AT 061800B NOV 26\nSER 1 – CL I: 5 DOS, WATER 14,000 L\n"
    "SER 2 – CL III: DIESEL 38,000 L O/H, 12,000 L REQD FOR MOVE\n"
    "SER 4 – CL VIII: MED RESUP REQD, 2 BOXES CAT A KITS\n"
    "SER 6 – REMARKS: RESUP CONVOY TO DEPART 0600 HRS LOCAL 7 NOV."
)
LOGSTAT_COPIED = (
    "LOGSTAT – 2 RIFLES BG – 061800B NOV 26\nSER 1 – CL I: 5 DOS, WATER 14,000 L\n"
    "SER 2 – CL III: DIESEL 38,000 L O/H, 12,000 L REQD FOR MOVE\n"
    "SER 4 – CL VIII: MED RESUP REQD, 2 BOXES CAT A KITS"
)


def test_a_report_in_capitals_copied_is_in_its_language(task: TranslateTask) -> None:
    with pytest.raises(OutputInvalid) as caught:
        task.conclude(report(LOGSTAT, "en"), LOGSTAT_COPIED, "stop", final=False)
    assert caught.value.problem == "wrong_language" and "copied" in caught.value.detail
    output = task.conclude(report(LOGSTAT, "en"), LOGSTAT_COPIED, "stop", final=True)
    assert "wrong_language" in codes(output.flags) and output.text_language == "en"


def test_a_translation_keeping_the_reports_names_is_no_copy(task: TranslateTask) -> None:
    french = (
        "LOGSTAT – 2 RIFLES BG – au 061800B NOV 26\nSER 1 – CL I : 5 jours de vivres, eau "
        "14 000 L\nSER 2 – CL III : gazole 38 000 L disponibles, 12 000 L requis pour le "
        "mouvement\nSER 4 – CL VIII : réapprovisionnement médical requis, 2 caisses de lots "
        "CAT A"
    )
    output = task.conclude(report(LOGSTAT, "en"), french, "stop", final=True)
    assert "wrong_language" not in codes(output.flags)


def test_no_gold_reference_translation_reads_as_a_copy() -> None:
    from services.evaluation.gold import load_gold
    from services.tasks.language import copies_source
    from services.translate.protect import protected_tokens

    copies = [
        g.id
        for g in load_gold()
        if g.language != g.reference_language
        and copies_source(
            g.reference_text, g.text, [*g.protected_tokens, *protected_tokens(g.text)]
        )
    ]
    assert copies == []
