"""Units and radio identifiers read by the domain's finders: typed without the model, their
spans the things named (a frequency with its unit, a callsign without "C/S"), and precise on
the gold set."""

from __future__ import annotations

from collections import Counter

from schemas.v1 import Entity
from services.domain.patterns import find_pattern_entities
from services.evaluation.gold import load_gold
from services.extract.designated import designated_entities

TEXT = (
    "SITREP 2 MECH INF BN. TF SENTINEL et SGTIA 3 (3e RIMa) en 31U DQ 48251 11932 à "
    "251430ZNOV26. RAVEN 3 sur 38.900 MHz, C/S 21B. التردد 152.600 ميغاهرتز."
)


def _found(text: str) -> list[tuple[str, str]]:
    return [(e.type, e.text) for e in designated_entities(text, find_pattern_entities(text))]


def test_units_and_radio_identifiers_are_typed() -> None:
    assert _found(TEXT) == [
        ("Unit", "2 MECH INF BN"),
        ("Unit", "TF SENTINEL"),
        ("Unit", "SGTIA 3"),  # a task group, though shaped like a callsign
        ("Unit", "3e RIMa"),
        ("CommsIdentifier", "RAVEN 3"),
        ("CommsIdentifier", "38.900 MHz"),
        ("CommsIdentifier", "21B"),  # the callsign, not its "C/S"
        ("CommsIdentifier", "152.600 ميغاهرتز"),  # the frequency with its unit
    ]


def test_every_entity_is_a_span_of_the_text_from_the_pattern_stage() -> None:
    for entity in designated_entities(TEXT):
        assert TEXT[entity.start : entity.end] == entity.text
        assert entity.source == "pattern"


def test_a_positional_entity_wins_an_overlap() -> None:
    start = TEXT.index("RAVEN 3")
    covering = Entity(type="DateTime", text=TEXT[start : start + 9], start=start, end=start + 9)
    found = [e.text for e in designated_entities(TEXT, [covering])]
    assert "RAVEN 3" not in found and "38.900 MHz" in found


def test_precise_on_the_gold_set() -> None:
    right: Counter[str] = Counter()
    wrong: Counter[str] = Counter()
    for report in load_gold():
        gold = Counter((e.start, e.end, e.type) for e in report.entities)
        for entity in designated_entities(report.text, find_pattern_entities(report.text)):
            key = (entity.start, entity.end, entity.type)
            if gold[key] > 0:
                gold[key] -= 1
                right[entity.type] += 1
            else:
                wrong[entity.type] += 1
    # 2026-12-06: Unit 44 right of 46, CommsIdentifier 80 of 82.
    for kind in ("Unit", "CommsIdentifier"):
        assert right[kind] >= 40, (kind, right, wrong)
        assert right[kind] / (right[kind] + wrong[kind]) >= 0.9, (kind, right, wrong)
