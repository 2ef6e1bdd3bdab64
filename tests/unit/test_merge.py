"""Merging pattern and model entities: the patterns win where both read the same characters."""

from __future__ import annotations

from schemas.v1 import Entity, EntityType
from services.domain.patterns import find_pattern_entities
from services.extract.merge import merge_entities

TEXT = (
    "COMPTE RENDU — 3e RIMa, 2e compagnie.\n"
    "Le 251430ZNOV26, la patrouille observe trois BTR-82A en mouvement vers le nord, "
    "position 31U DQ 48251 11932. Aucun tir."
)


def _model(kind: EntityType, text: str, occurrence: int = 0) -> Entity:
    start = -1
    for _ in range(occurrence + 1):
        start = TEXT.index(text, start + 1)
    return Entity(type=kind, text=text, start=start, end=start + len(text), source="model")


PATTERNS = find_pattern_entities(TEXT)
DTG = next(e for e in PATTERNS if e.type == "DateTime")
GRID = next(e for e in PATTERNS if e.type == "Location")


def test_the_fixture_has_a_dtg_and_a_grid() -> None:
    assert DTG.text == "251430ZNOV26" and GRID.text == "31U DQ 48251 11932"
    assert DTG.source == GRID.source == "pattern"


def test_model_entities_apart_from_the_patterns_are_kept() -> None:
    unit, platform = _model("Unit", "3e RIMa"), _model("MilitaryPlatform", "BTR-82A")
    merged = merge_entities(PATTERNS, [platform, unit])
    assert merged == [unit, DTG, platform, GRID]


def test_model_location_or_datetime_overlapping_a_pattern_entity_is_dropped() -> None:
    model = [
        _model("Location", "31U DQ 48251 11932"),  # the same span
        _model("Location", "31U DQ"),  # a part
        _model("Location", "position 31U DQ 48251 11932"),  # a longer span
        _model("DateTime", "251430Z"),
        _model("DateTime", "Le 251430ZNOV26"),
        _model("Location", "DQ 48251 11932. Aucun"),  # partial overlap
    ]
    assert merge_entities(PATTERNS, model) == PATTERNS


def test_a_piece_of_a_pattern_entity_is_dropped_whatever_its_type() -> None:
    model = [_model("Quantity", "48251"), _model("CommsIdentifier", "1430Z")]
    assert merge_entities(PATTERNS, model) == PATTERNS


def test_another_type_spanning_more_than_a_pattern_entity_is_kept() -> None:
    text = "Le 251430ZNOV26"
    wider = _model("Organisation", text)
    assert merge_entities(PATTERNS, [wider]) == sorted(
        [*PATTERNS, wider], key=lambda e: (e.start, e.end, e.type)
    )


def test_model_location_not_overlapping_is_kept() -> None:
    place = _model("Location", "nord")
    assert place in merge_entities(PATTERNS, [place])


def test_exact_duplicates_are_removed() -> None:
    unit = _model("Unit", "3e RIMa")
    assert merge_entities(PATTERNS, [unit, unit]) == merge_entities(PATTERNS, [unit])
    assert merge_entities([DTG, DTG], []) == [DTG]


def test_same_span_different_types_are_both_kept() -> None:
    a, b = _model("Unit", "2e compagnie"), _model("Organisation", "2e compagnie")
    merged = merge_entities([], [b, a])
    assert merged == [b, a]  # same span: sorted by type name


def test_sorted_by_start_end_type() -> None:
    model = [
        _model("MilitaryPlatform", "BTR-82A"),
        _model("Quantity", "trois"),
        _model("Quantity", "trois BTR-82A"),
        _model("Unit", "3e RIMa"),
    ]
    merged = merge_entities(PATTERNS, model)
    keys = [(e.start, e.end, e.type) for e in merged]
    assert keys == sorted(keys) and len(merged) == len(PATTERNS) + 4


def test_no_model_entities() -> None:
    assert merge_entities(PATTERNS, []) == PATTERNS
    assert merge_entities([], []) == []
