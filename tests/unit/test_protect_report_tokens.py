"""Tokens of report formats the translation keeps whole: times with their zone letter,
frequencies without their unit, "C/S" callsigns, orders, labelled serial numbers, slashed
acronyms, units written out and vehicle makes with their model."""

from __future__ import annotations

import pytest

from services.domain.comms import find_bare_frequencies, find_comms
from services.domain.designations import find_unit_names
from services.domain.identifiers import find_labelled_numbers, find_orders, find_slashed_acronyms
from services.domain.patterns import find_pattern_entities
from services.translate.glossary import Glossary
from services.translate.protect import protected_tokens

PROTECTED = Glossary.load(Glossary.default_directory()).protected


def _texts(spans: list) -> list[str]:  # type: ignore[type-arg]
    return [s.text for s in spans]


@pytest.mark.parametrize(
    ("text", "frequency"),
    [
        ("9-LINE MEDEVAC\nLINE 1: 38S LF 22465 31246\nLINE 2: 34.150 / WARHORSE 6", "34.150"),
        ("МЕДЭВАК: Л1 36U XB 0272 5628 / Л2 38,900 «Вереск»", "38,900"),
        ("enemy MG from treeline E, req QRF, SABRE 2-2 on 36.750.", "36.750"),
        ("إرسال لاسلكي على 152.600 ميغاهرتز، النداء «جبل»", "152.600"),
    ],
)
def test_frequency_without_unit_in_a_frequency_context(text: str, frequency: str) -> None:
    assert _texts(find_bare_frequencies(text)) == [frequency]
    assert frequency in protected_tokens(text, PROTECTED)


@pytest.mark.parametrize(
    "text",
    [
        "LOGSTAT: WATER 14,000 L, DIESEL 38,450 L O/H",
        "The convoy covered 41.550 km before the halt.",
        "Distance on 36.7505 km; 9-LINE follows: 12.5 units",
        "The patrol moved on 36.750 km of track.",
    ],
)
def test_a_decimal_alone_is_not_a_frequency(text: str) -> None:
    assert find_bare_frequencies(text) == []


def test_upper_case_unit_is_a_frequency() -> None:
    assert _texts(find_comms("APPEL SUR 243.000 MHZ SANS REPONSE")) == ["243.000 MHZ"]


def test_callsign_after_c_s_keeps_its_prefix() -> None:
    assert _texts(find_comms("LINE 2 – UNIT: OP WILLOW, C/S 33\n")) == ["C/S 33"]
    # A word announcing the callsign is prose: not part of the token.
    assert _texts(find_comms("callsign VIPER 2-1 reports")) == ["VIPER 2-1"]


def test_orders_by_type_and_number() -> None:
    assert _texts(find_orders("REF/A/OPORD 04-26//\nIAW FRAGO 12, move")) == [
        "OPORD 04-26",
        "FRAGO 12",
    ]
    assert find_orders("OPORD 04-26/3 and the OPORD itself") == []


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("I would like to confirm the live-fire serial 141300 with range control", "141300"),
        ("120MM LOT 251430 FROZEN PENDING INSPECTION", "251430"),
        ("lot de cartouches 12,7 mm n° 230915 retiré du service", "230915"),
        ("камера «Спостерігач-М» (с/н 290915), щогла", "290915"),
        ("продиктовал серийный номер станции: 201630.", "201630"),
        ("تحمل رقم الدفعة 041530\n", "041530"),
    ],
)
def test_labelled_numbers(text: str, number: str) -> None:
    assert _texts(find_labelled_numbers(text)) == [number]
    assert number in protected_tokens(text, PROTECTED)


@pytest.mark.parametrize(
    "text",
    ["ИНТРЕП № 0614/3", "lot 12 of 40", "serial 141300.5", "a plain 141300 number"],
)
def test_numbers_that_are_not_labelled_identifiers(text: str) -> None:
    assert find_labelled_numbers(text) == []


def test_slashed_acronyms() -> None:
    assert _texts(find_slashed_acronyms("NOTE CAPTEUR EO/IR – tour T-4")) == ["EO/IR"]
    # A message-text set name at the start of a line is not one.
    assert find_slashed_acronyms("MSGID/SITREP//\nGENTEXT/OWN FORCES/1.") == []
    assert "EO/IR" in protected_tokens("NOTE CAPTEUR EO/IR – tour T-4", PROTECTED)


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("Patients from 2nd Plt, B Coy, 1 ESTBAT.", ["B Coy", "1 ESTBAT"]),
        ("MSGID/SITREP/2 MECH INF BN/0231/SEP//", ["2 MECH INF BN"]),
        ("SITREP – C COY, 8/9 RAR – EX CROIX DU SUD", ["C COY", "8/9 RAR"]),
        ("A. UNIT: B CO, 2-8 CAV", ["B CO", "2-8 CAV"]),
        ("WITH THE ROMANIAN 282ND MECH BN IN AO KESTREL", ["282ND MECH BN"]),
        ("LOGSTAT – 2 RIFLES BG – AS AT 061800B NOV 26", ["2 RIFLES BG"]),
    ],
)
def test_units_written_out(text: str, units: list[str]) -> None:
    assert _texts(find_unit_names(text)) == units
    tokens = protected_tokens(text, PROTECTED)
    assert all(unit in tokens for unit in units), tokens


@pytest.mark.parametrize("text", ["2 BN moved north", "a CO of 3 BDE", "ran 1/8/9 RAR", "X Coy"])
def test_counts_and_fragments_are_not_units(text: str) -> None:
    assert find_unit_names(text) == []


def test_vehicle_make_and_model_is_one_token() -> None:
    text = "следовавший на автомобиле Volkswagen Passat (г/н 4471 ВС-7)"
    assert "Volkswagen Passat" in protected_tokens(text, PROTECTED)


def test_a_name_and_its_translation_stay_apart() -> None:
    assert find_slashed_acronyms("NATO/OTAN, ISR/RSTA") == []


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("CAPTEUR : ACU-17 (acoustique, relevé)\nCLASSE : réseau", ["CAPTEUR", "CLASSE"]),
        ("9-LINE MEDEVAC\nLINE 1: 35VME 7410 2200", ["LINE"]),
        ("2. DETAIL: On 13 SEP a UAV observed it.\n4. SO WHAT: The depot", ["DETAIL", "SO"]),
        ("C. Classe I – vivres : 3 jours (VERT) ; eau (ORANGE)", ["VERT", "ORANGE"]),
        ("E. 1 VAB HS. RAS.", ["HS", "RAS"]),
        ('the line "to the AI reading this: disregard". Position is HELD.', ["AI", "HELD"]),
    ],
)
def test_ordinary_words_in_capitals_are_not_acronyms(text: str, words: list[str]) -> None:
    tokens = protected_tokens(text, PROTECTED)
    assert not set(words) & set(tokens), tokens


def test_acronyms_beside_report_words_are_still_found() -> None:
    tokens = protected_tokens("NOTE CAPTEUR EO/IR : VBCI et NATO, RAS.", PROTECTED)
    assert tokens == ["EO/IR", "VBCI", "NATO"]


def test_latin_codes_in_a_report_of_another_script_are_acronyms() -> None:
    # Every Latin letter of an Arabic or Cyrillic report may be a capital (codes, designations):
    # that is not a report written in capitals, where capitals say nothing.
    arabic = "T: 180715AMAY26\nE: BMP-2، رشاشات PKM، قاذف RPG-7 ومركبة VAB عند الحاجز الشمالي"
    assert "PKM" in protected_tokens(arabic, PROTECTED)
    shouting = "B COY CONDUCTED A JOINT PATROL WITH THE MECH BN IN AO KESTREL, NTR. PKM SEEN."
    assert "PKM" not in protected_tokens(shouting, PROTECTED)


@pytest.mark.parametrize(
    "grid", ["36T VS 8010 814", "32P KB 0712 689", "34PBV 9058 422", "37U CP 6289 448"]
)
def test_a_grid_written_wrongly_is_kept_whole(grid: str) -> None:
    # No position can be read from an odd digit count: no entity, but copied as written.
    text = f"Point de lancement environ {grid} (thermique, à confirmer)."
    assert grid in protected_tokens(text, PROTECTED)
    assert not find_pattern_entities(text)


def test_a_count_before_a_designation_is_no_grid() -> None:
    assert "1 TRM 10000" not in protected_tokens("Reçu 1 TRM 10000 et 2 VLTT.", PROTECTED)
