"""Protected tokens: what a translation must copy byte for byte, and what it altered."""

from __future__ import annotations

import json

import pytest

from services.cli.demo_feed import DEMO_FEED
from services.domain.designations import find_equipment, find_unit_designations
from services.translate.glossary import Glossary
from services.translate.protect import altered, protected_tokens

PROTECTED = Glossary.load(Glossary.default_directory()).protected


def _demo_texts() -> dict[str, str]:
    texts: dict[str, str] = {}
    for subject, payload, _ in DEMO_FEED:
        text = payload.decode()
        if text.startswith("{"):
            text = str(json.loads(text).get("text", text))
        texts[subject] = text
    return texts


DEMO = _demo_texts()


def test_french_demo_report() -> None:
    tokens = protected_tokens(DEMO["feeds.dr.report.patrouille-3rima"], PROTECTED)
    assert tokens == ["3e RIMa", "251430ZNOV26", "BTR-82A", "31U DQ 48251 11932"]


def test_english_spotrep() -> None:
    tokens = protected_tokens(DEMO["feeds.np.report.spotrep"], PROTECTED)
    # The SALUTE headings are words to translate, not acronyms.
    assert tokens == ["SPOTREP", "48.8582N 2.2945E", "251512ZNOV26", "Ural-4320"]


def test_russian_intrep_cyrillic_designation() -> None:
    tokens = protected_tokens(DEMO["feeds.s.report.intrep"], PROTECTED)
    assert tokens == ["INTREP", "Т-72Б3", "37U DQ 12345 67890", "260600ZNOV26"]


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("feeds.dr.report.ua-obs", ["36U VA 55000 22000", "251800ZNOV26"]),
        ("feeds.np.report.ar-obs", ["38S MB 11111 22222", "251900ZNOV26"]),
    ],
)
def test_ukrainian_and_arabic_reports(subject: str, expected: list[str]) -> None:
    # Cyrillic acronyms (САУ) are words to translate; grids and DTGs are kept in any script.
    assert protected_tokens(DEMO[subject], PROTECTED) == expected


@pytest.mark.parametrize(
    "unit", ["3e RIMa", "1er RCP", "2e REP", "11e BP", "6e RPIMa", "2nd Bn", "1st Bde", "2ème Cie"]
)
def test_unit_designations(unit: str) -> None:
    assert [s.text for s in find_unit_designations(f"Le {unit} rend compte.")] == [unit]


@pytest.mark.parametrize(
    "text", ["le 1er Mai", "on the 5th May", "la 2e compagnie", "10th Armored Division"]
)
def test_not_unit_designations(text: str) -> None:
    assert find_unit_designations(text) == []


@pytest.mark.parametrize(
    "designation",
    ["BTR-82A", "T-72B3", "Т-72Б3", "Ural-4320", "ZU-23-2", "AMX-10RC", "M777", "M109A6", "2S19"],
)
def test_equipment_designations(designation: str) -> None:
    assert [s.text for s in find_equipment(f"vu: {designation}, en mouvement")] == [designation]


@pytest.mark.parametrize("text", ["Saint-Lô", "arrière-garde", "sous-officier", "BTR"])
def test_hyphenated_words_without_digits_are_not_equipment(text: str) -> None:
    assert find_equipment(text) == []


def test_frequencies_and_callsigns() -> None:
    text = "Contact radio sur 145.500 MHz puis 30,025 MHz, indicatif VIPER 2-1."
    assert protected_tokens(text) == ["145.500 MHz", "30,025 MHz", "VIPER 2-1"]


def test_acronyms_latin_only_two_letters_or_more() -> None:
    text = "Le VBCI et un A passent; БТР и САУ; NATO/OTAN."
    assert protected_tokens(text) == ["VBCI", "NATO", "OTAN"]


def test_listed_tokens_count_only_where_present() -> None:
    text = "Le Leclerc et le CAESAR appuient."
    assert protected_tokens(text, ["Leclerc", "CAESAR", "Griffon"]) == ["Leclerc", "CAESAR"]
    # Case-sensitive and whole words only.
    assert protected_tokens("leclerc, Leclercs", ["Leclerc"]) == []


def test_report_in_capitals_protects_only_listed_tokens() -> None:
    text = "ENEMY PATROL OBSERVED NEAR THE BRIDGE WITH ONE BTR-82A, SPOTREP FOLLOWS AT 251430ZNOV26"
    assert protected_tokens(text, ["SPOTREP"]) == ["BTR-82A", "SPOTREP", "251430ZNOV26"]


def test_longest_span_wins_and_tokens_are_unique() -> None:
    text = "BTR-82A puis BTR-82A; 3e RIMa et RIMa; 31UDQ4825111932."
    assert protected_tokens(text, ["BTR", "RIMa"]) == [
        "BTR-82A",
        "3e RIMa",
        "RIMa",
        "31UDQ4825111932",
    ]


def test_empty_and_plain_text() -> None:
    assert protected_tokens("") == []
    assert protected_tokens("La patrouille rentre sans incident.") == []


def test_altered_is_byte_for_byte() -> None:
    tokens = ["3e RIMa", "BTR-82A", "31U DQ 48251 11932", "Т-72Б3"]
    output = "Le 3e RIMa voit des BTR-82 en 31U DQ 4825111932 et des T-72B3."
    assert altered(tokens, output) == ["BTR-82A", "31U DQ 48251 11932", "Т-72Б3"]
    assert altered(tokens, " ".join(tokens)) == []


# --- multiplicity: a token n times in the source must be kept n times ---------------------------


def test_a_token_twice_in_the_source_is_altered_when_kept_once() -> None:
    source = "Deux BTR-82A au nord, puis un BTR-82A au sud."
    tokens = protected_tokens(source)
    assert tokens == ["BTR-82A"]
    assert altered(tokens, "Deux BTR-82A au nord, puis un BTR-82 au sud.", source=source) == [
        "BTR-82A"
    ]
    assert altered(tokens, "Two BTR-82A north, then one BTR-82A south.", source=source) == []


def test_whole_tokens_are_counted_not_substrings() -> None:
    source = "Un T-72 et un T-72B3 ; 2S1 en batterie."
    tokens = protected_tokens(source)
    assert set(tokens) == {"T-72", "T-72B3", "2S1"}
    # "T-72" and "2S1" appear only inside other tokens or longer words.
    output = "One T-72B3 and one T-72B3; 2S19 in battery."
    assert sorted(altered(tokens, output, source=source)) == ["2S1", "T-72"]
    assert altered(tokens, "One T-72 and one T-72B3; 2S1 in battery.", source=source) == []
