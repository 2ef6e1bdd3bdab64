"""Protected tokens of the classes a translation used to be free to alter: slashed references,
NATO stock numbers, telephone numbers, mixed-case acronyms, exercise and operation names,
callsigns written without their "callsign" word, named task groups, and equipment named in
several pieces (protected as one token). Each class also has its look-alikes in ordinary prose,
which must stay translatable."""

from __future__ import annotations

import pytest

from services.domain.comms import find_named_callsigns
from services.translate.glossary import Glossary
from services.translate.placeholders import mask
from services.translate.protect import protected_tokens

PROTECTED = Glossary.load(Glossary.default_directory()).protected


def _tokens(text: str) -> list[str]:
    return protected_tokens(text, PROTECTED)


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("Ref. 0012/FFDJ/DL\nUNCLASSIFIED", "0012/FFDJ/DL"),
        ("N° 112/3RIMa/2Cie/OPS", "112/3RIMa/2Cie/OPS"),
        ("N° 044/SGTIA-M/CDT", "044/SGTIA-M/CDT"),
        ("المرجع: رقم 210830/خ.ا/2026", "210830/خ.ا/2026"),
    ],
)
def test_slashed_reference_is_one_token(text: str, token: str) -> None:
    assert token in _tokens(text)


def test_dates_and_message_text_lines_are_not_references() -> None:
    assert _tokens("le 12/05/2026 à 1400") == []
    assert _tokens("MSGID/SITREP/TF KESTREL/0017/FEB//") == ["MSGID", "SITREP", "TF KESTREL"]


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("фільтр паливний NSN 2910-12-345-6789 — 12 шт.", "NSN 2910-12-345-6789"),
        ("1 kit d'embrayage demandé, 2520-14-563-2208, priorité 02", "2520-14-563-2208"),
    ],
)
def test_nato_stock_number_with_and_without_prefix(text: str, token: str) -> None:
    assert _tokens(text) == [token]


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("call the duty NCO at +48 512 330 417, not the TOC.", "+48 512 330 417"),
        ("le numéro de son fils : +227 96 48 15 30. Je repars", "+227 96 48 15 30"),
        ("контакт «Дядя Саша» +375 29 618-40-27, последний вызов", "+375 29 618-40-27"),
        ("هاتف ثريا 00882 16 2345 6789 للطوارئ فقط.", "00882 16 2345 6789"),
        ("رقم هاتف رئيس البلدية للتنسيق: 03 415 227. الرجاء", "03 415 227"),
    ],
)
def test_telephone_number_is_one_token(text: str, token: str) -> None:
    assert token in _tokens(text)


def test_quantities_with_thousands_spaces_are_not_telephone_numbers() -> None:
    assert _tokens("Reçu 4 200 L de gazole, 14 000 L d'eau et 1 200 rations le 03 mai.") == []


def test_mixed_case_acronym() -> None:
    assert _tokens("FFDj – Liaison Detachment, Camp Lemonnier") == ["FFDj"]
    assert _tokens("SITREP – 1er RIMaP-NC") == ["SITREP", "1er RIMaP-NC"]


def test_plurals_and_roman_ordinals_are_words() -> None:
    assert _tokens("Two IEDs found near the XXe siècle bridge") == []


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("planning conference for exercise SAND CROSS 26.", "SAND CROSS 26"),
        ("Patrol debrief – Ex JUNGLE TALON – 16 April 2026", "JUNGLE TALON"),
        ("SPOTREP – 090745CJUL26 – exercice IRON WOLF", "IRON WOLF"),
        ("SITREP – EX CROIX DU SUD – 101900LJUN26", "CROIX DU SUD"),
        ("dans le cadre de l'opération HIBISCUS", "HIBISCUS"),
    ],
)
def test_exercise_and_operation_names(text: str, token: str) -> None:
    assert token in _tokens(text)


def test_the_word_exercise_in_prose_protects_nothing() -> None:
    assert _tokens("The exercise was cancelled. Exercice de tir au camp le 11 août.") == []


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("SPOTREP – RAVEN 3 – 090512BFEB26", "RAVEN 3"),
        ("1 WIA, req QRF, SABRE 2-2 on 36.750.", "SABRE 2-2"),
        ("Line 2: 41.125 / CHEETAH 13.", "CHEETAH 13"),
        ("b) appel radio d'ÉPERVIER 20 à 2215.", "ÉPERVIER 20"),
        ("Hotel Two Two: contact front, small arms", "Hotel Two Two"),
        ("SPOTREP // AIGLE 41 // OBSERVE 1 HELICOPTER MOVING NORTH //", "AIGLE 41"),
    ],
)
def test_callsign_without_its_word(text: str, token: str) -> None:
    assert token in _tokens(text)


def test_headings_and_counts_are_not_callsigns() -> None:
    tokens = _tokens("SPOTREP // AIGLE 41 // OBSERVE 1 HELICOPTER MOVING NORTH //")
    assert not any(t.startswith("OBSERVE") for t in tokens)
    # Neither "LINE 2" nor "LINE" (a field name the translation renders) is protected.
    assert _tokens("LINE 2: 34.150 / WARHORSE 6\nLINE 3: 1A") == ["WARHORSE 6"]


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("INTREP 022 – J2 cell, TF SENTINEL – 141030CSEP26", "TF SENTINEL"),
        ("MSGID/SITREP/GTIA LYNX/042//", "GTIA LYNX"),
        ("Émetteur : SGTIA 3 (2e REP)", "SGTIA 3"),
    ],
)
def test_named_task_group(text: str, token: str) -> None:
    assert token in _tokens(text)


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("Справні: Leopard 2A4 — 9, M113 — 11", "Leopard 2A4"),
        ("The last of our Leopard 2A4s cleared the rail yard", "Leopard 2A4s"),
        ("Two of the CV90s are unserviceable", "CV90s"),
        ("a battery of four 2S19 Msta-S", "2S19 Msta-S"),
        ("12 T-72B3 and 2 BM-21 Grad", "BM-21 Grad"),
        ("perte du positionnement sur 4 VBMR Griffon", "VBMR Griffon"),
        ("compatible avec un système R-330Zh Zhitel.", "R-330Zh Zhitel"),
        ("repérés par le Falcon 50 de patrouille", "Falcon 50"),
        ("БРЕМ Bergepanzer 2 — 1.", "Bergepanzer 2"),
        ("квадрокоптер DJI Mavic 3 с записями", "DJI Mavic 3"),
        ("колонна: 3 МТ-ЛБ и 2 Тигр-М", "МТ-ЛБ"),
        ("hélicoptère Puma à 0730", "Puma"),
    ],
)
def test_equipment_in_several_pieces_is_one_token(text: str, token: str) -> None:
    assert token in _tokens(text)


def test_equipment_is_one_marker() -> None:
    masked = mask("Leopard 2A4 — 9, 2S19 Msta-S — 2", extra_protected=PROTECTED)
    assert masked is not None
    assert masked.text == "[P1] — 9, [P2] — 2"


def test_lists_and_statuses_are_not_joined_to_a_model() -> None:
    assert _tokens("2 M1A2 NMC") == ["M1A2", "NMC"]
    assert _tokens("L3 : A1 B1") == ["L3", "A1", "B1"]
    assert _tokens("with 2 CAESAR, 4 M777 and 1 Puma on standby") == ["CAESAR", "M777", "Puma"]
    # Touching models are a list: each its own token, however many there are.
    assert _tokens("Leopard 2A4 Leopard 2A6 BM-21 Grad Puma") == [
        "Leopard 2A4",
        "Leopard 2A6",
        "BM-21 Grad",
        "Puma",
    ]
    assert len(_tokens("Leopard 2A4 " * 500)) == 1


@pytest.mark.parametrize(
    "prose",
    [
        "Le convoi est arrivé à 1420. Trois véhicules sont en panne. Nous attendons la relève.",
        "The Patrol moved North at dawn. Enemy Forces Were Not Seen. Over 20 Vehicles passed.",
        "Колонна прошла Заречное в 0600. Потерь нет. Следующий доклад в 1200.",
    ],
)
def test_ordinary_prose_protects_nothing(prose: str) -> None:
    assert _tokens(prose) == []


@pytest.mark.parametrize(
    ("text", "callsigns"),
    [
        ("операторы используют позывные «Шмель» и «Оса», частота", ["Шмель", "Оса"]),
        ("Позывные: «Бархан» (ведущий), «Лиса-2». Потом «Бархан» ушёл.", ["Бархан", "Лиса-2"]),
        ("entre les indicatifs « Berkut-5 » et « Tuman ».\nTuman : reçu.", ["Berkut-5", "Tuman"]),
        ("Л1 36U XB 0272 5628 / Л2 38,900 «Вереск» / Л3 1A 2C", ["Вереск"]),
        ("«Гроза-1»: «Двадцатый, колонна».\n«Двадцатый»: «Принял».", ["Гроза-1", "Двадцатый"]),
    ],
)
def test_callsigns_that_are_names_are_kept_wherever_the_report_writes_them(
    text: str, callsigns: list[str]
) -> None:
    found = [span.text for span in find_named_callsigns(text)]
    assert sorted(set(found)) == sorted(callsigns)
    # Every occurrence: the translation must keep each, as many times as the report has it.
    assert len(found) == sum(text.count(c) for c in callsigns)
    assert set(callsigns) <= set(_tokens(text))


def test_a_quoted_place_is_no_callsign() -> None:
    # Quotes alone say nothing: a place, a company, a code word to translate.
    assert find_named_callsigns("Колонна прошла «Развилку» у посёлка «Берёза».") == []
