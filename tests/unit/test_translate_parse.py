"""Reading a translation out of model text; the quality check and its flags; skipping."""

from __future__ import annotations

import pytest

from services.tasks.prompting import REPORT_CLOSE, REPORT_OPEN, OutputInvalid
from services.tasks.text import collapse_repetition, flag_items
from services.translate.glossary import GlossaryTerm
from services.translate.parse import (
    clean_translation,
    needs_translation,
    parse_translation,
    translation_check,
)

SOURCE = "Le 251430ZNOV26, la patrouille observe trois BTR-82A en 31U DQ 48251 11932."
PROTECTED = ["251430ZNOV26", "BTR-82A", "31U DQ 48251 11932"]
GOOD = "On 251430ZNOV26, the patrol observes three BTR-82A at 31U DQ 48251 11932."


def _problem(raw: str, finish: str | None = "stop", **kwargs: object) -> OutputInvalid:
    with pytest.raises(OutputInvalid) as caught:
        parse_translation(raw, finish, protected=PROTECTED, **kwargs)  # type: ignore[arg-type]
    return caught.value


def test_plain_answer() -> None:
    assert parse_translation(f"  {GOOD}\n", "stop", protected=PROTECTED) == GOOD
    assert parse_translation(GOOD, "eos", protected=PROTECTED) == GOOD
    assert parse_translation(GOOD, None, protected=PROTECTED) == GOOD


@pytest.mark.parametrize(
    "raw",
    [
        f"English: {GOOD}",
        f"Translation:\n{GOOD}",
        f"Here is the translation:\n{GOOD}",
        f"{GOOD}\n\nFrench:\n{REPORT_OPEN}\nLa suite",
        f"{GOOD}\nFrench: un autre exemple",
        f"{REPORT_OPEN}\n{GOOD}\n{REPORT_CLOSE}",
        f"{GOOD}\nGlossary:\nchar = tank",
        f"```\n{GOOD}\n```",
    ],
)
def test_echoed_labels_and_prompt_parts_are_cut(raw: str) -> None:
    assert parse_translation(raw, "stop", protected=PROTECTED) == GOOD


def test_multiline_translation_is_kept() -> None:
    text = f"REPORT — 3e RIMa.\n{GOOD}\nNo fire."
    assert parse_translation(text, "stop", protected=PROTECTED) == text


@pytest.mark.parametrize("raw", ["", "   \n ", "English:", f"{REPORT_OPEN}\n{REPORT_CLOSE}"])
def test_empty(raw: str) -> None:
    assert _problem(raw).problem == "empty"


def test_truncated_when_the_budget_ended_it() -> None:
    assert _problem(GOOD, "length").problem == "truncated"


def test_runaway_loop_is_collapsed_and_not_truncated() -> None:
    raw = GOOD + " No fire." * 40 + " No fi"
    assert parse_translation(raw, "length", protected=PROTECTED) == GOOD + " No fire."


def test_two_identical_sentences_are_the_report_s_own() -> None:
    text = f"{GOOD} Request orders. Request orders."
    assert parse_translation(text, "stop", protected=PROTECTED) == text


def test_word_loops() -> None:
    assert collapse_repetition("des des des des chars") == ("des chars", True)
    assert collapse_repetition("très très bien") == ("très très bien", False)


@pytest.mark.parametrize("raw", ["...", "251430ZNOV26 — 31U DQ 48251 11932 / BTR-82A"])
def test_no_words_is_unparseable(raw: str) -> None:
    # Protected tokens alone are codes, not words of a translation; "BTR" counts as a word.
    if "BTR" in raw:
        assert parse_translation(raw, "stop", protected=PROTECTED) == raw
    else:
        assert _problem(raw).problem == "unparseable"


def test_repeating_the_source_is_unparseable() -> None:
    assert _problem(SOURCE, source=SOURCE).problem == "unparseable"
    codes = "SPOTREP 251430ZNOV26 31U DQ 48251 11932"
    # A report of codes only is the same in every language.
    kept = ["251430ZNOV26", "31U DQ 48251 11932"]
    assert parse_translation(codes, "stop", protected=kept, source=codes) == codes


def test_protected_altered_names_the_tokens() -> None:
    raw = "On 25 Nov at 14:30Z, the patrol observes three BTR-82A at 31U DQ 4825111932."
    problem = _problem(raw)
    assert problem.problem == "protected_altered"
    assert problem.items == ("251430ZNOV26", "31U DQ 48251 11932")
    assert problem.recoverable


def test_final_attempt_keeps_altered_tokens_without_raising() -> None:
    raw = "English: the patrol observes three BTR-82 at a grid."
    assert parse_translation(raw, "stop", protected=PROTECTED, check_protected=False) == (
        "the patrol observes three BTR-82 at a grid."
    )
    assert clean_translation(raw) == "the patrol observes three BTR-82 at a grid."


# ------------------------------------------------------------------------------ check

TERMS = [
    GlossaryTerm("fr", "patrouille", "en", "patrol"),
    GlossaryTerm("fr", "char", "en", "tank"),
]


def test_check_all_good() -> None:
    quality, flags = translation_check(
        SOURCE, "The patrol saw tanks; " + GOOD, terms=TERMS, protected=PROTECTED
    )
    assert (quality.glossary_terms, quality.glossary_followed) == (2, 2)
    assert (quality.protected_tokens, quality.protected_kept) == (3, 3)
    assert flags == []


def test_check_flags_misses() -> None:
    translation = "The squad observes three BTR-82 at 31U DQ 48251 11932 on 251430ZNOV26."
    quality, flags = translation_check(SOURCE, translation, terms=TERMS, protected=PROTECTED)
    assert (quality.glossary_terms, quality.glossary_followed) == (2, 0)
    assert (quality.protected_tokens, quality.protected_kept) == (3, 2)
    glossary_flag, protected_flag = flags
    assert glossary_flag.code == "glossary_missed" and glossary_flag.task == "translate"
    assert glossary_flag.items == ["patrouille → patrol", "char → tank"]
    assert protected_flag.code == "protected_altered" and protected_flag.task == "translate"
    assert protected_flag.items == ["BTR-82A"]


def test_check_counts_only_tokens_present_in_the_source() -> None:
    quality, _ = translation_check("Rien.", "Nothing.", terms=[], protected=["BTR-82A"])
    assert (quality.protected_tokens, quality.protected_kept) == (0, 0)


def test_flag_items_respect_the_wire_limits() -> None:
    items = flag_items(["x" * 300, *[str(n) for n in range(40)]])
    assert len(items) == 32 and len(items[0]) == 256 and items[0].endswith("…")


@pytest.mark.parametrize(
    ("source", "target", "needed"),
    [
        ("fr", "fr", False),
        ("FR", "fr", False),
        ("fra", "fr", False),
        ("en", "fr", True),
        ("ru", "fr", True),
        (None, "fr", True),
        ("und", "fr", True),
        ("fr", "en", True),
    ],
)
def test_needs_translation(source: str | None, target: str, needed: bool) -> None:
    assert needs_translation(source, target) is needed


def test_check_counts_protected_tokens_with_multiplicity() -> None:
    source = "Le 251430ZNOV26, trois BTR-82A puis deux BTR-82A en 31U DQ 48251 11932."
    translation = "On 251430ZNOV26, three BTR-82A then two BTR 82A at 31U DQ 48251 11932."
    quality, flags = translation_check(source, translation, terms=[], protected=PROTECTED)
    # Occurrences, not distinct tokens: 4 in the source, 3 kept.
    assert (quality.protected_tokens, quality.protected_kept) == (4, 3)
    [flag] = flags
    assert flag.code == "protected_altered"
    assert flag.items == ["BTR-82A (2 in the source, 1 kept)"]


def test_parse_retries_a_token_kept_fewer_times_than_the_source_has_it() -> None:
    source = "Le 251430ZNOV26, trois BTR-82A puis deux BTR-82A en 31U DQ 48251 11932."
    translation = "On 251430ZNOV26, three BTR-82A then two BTR 82A at 31U DQ 48251 11932."
    problem = _problem(translation, source=source)
    assert problem.problem == "protected_altered" and problem.items == ("BTR-82A",)


def test_check_counts_whole_tokens_not_substrings_of_other_tokens() -> None:
    # "T-72" is only inside "T-72B3" in this translation: it was not kept.
    source = "Un T-72 et un T-72B3 au nord."
    translation = "One T-72B3 and one T-72B3 to the north."
    quality, [flag] = translation_check(source, translation, terms=[], protected=["T-72", "T-72B3"])
    assert (quality.protected_tokens, quality.protected_kept) == (2, 1)
    assert flag.code == "protected_altered" and flag.items == ["T-72"]
