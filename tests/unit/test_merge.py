"""Merging pattern and model entities: the patterns win where both read the same characters;
model entities the model cannot type, or too thin for their type, are left out."""

from __future__ import annotations

import pytest

from schemas.v1 import Entity, EntityType
from services.domain.patterns import find_pattern_entities
from services.extract.merge import merge_entities, too_thin

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


def test_another_type_spanning_more_than_a_pattern_entity_is_left_out() -> None:
    # "Le 251430ZNOV26" as an Organisation: a DTG with a word around it is no entity.
    wider = _model("Organisation", "Le 251430ZNOV26")
    assert merge_entities(PATTERNS, [wider]) == PATTERNS


def test_model_location_not_overlapping_is_kept() -> None:
    place = _model("Location", "nord")
    assert place in merge_entities(PATTERNS, [place])


def test_exact_duplicates_are_removed() -> None:
    unit = _model("Unit", "3e RIMa")
    assert merge_entities(PATTERNS, [unit, unit]) == merge_entities(PATTERNS, [unit])
    assert merge_entities([DTG, DTG], []) == [DTG]


def test_a_span_given_several_types_is_left_out() -> None:
    # The model could not tell what "2e compagnie" is: neither guess is kept.
    a, b = _model("Unit", "2e compagnie"), _model("Organisation", "2e compagnie")
    unit = _model("Unit", "3e RIMa")
    assert merge_entities([], [b, a, unit, unit]) == [unit]


def test_a_span_across_a_list_or_field_boundary_is_left_out() -> None:
    # Two units with a comma between them, not one.
    across = _model("Unit", "3e RIMa, 2e compagnie")
    unit = _model("Unit", "3e RIMa")
    assert merge_entities([], [across, unit]) == [unit]


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("Unit", "166"),  # a name without a letter
        ("Person", "1"),
        ("MilitaryPlatform", "B"),  # one character
        ("CommsIdentifier", "151230"),  # one number alone: a time or a count
        ("CommsIdentifier", "A"),
        ("MilitaryPlatform", "SITREP quotidien n° 236"),  # the message's own name
        ("MilitaryPlatform", "EVASAN 9 LIGNES"),
        ("Location", "СИТРЕП"),
    ],
)
def test_too_thin_for_its_type(kind: EntityType, text: str) -> None:
    assert too_thin(kind, text)


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("Quantity", "3"),  # a count may be one digit
        ("Quantity", "٦"),
        ("DateTime", "1135"),
        ("Unit", "113 омсбр"),
        ("Unit", "2e REI"),
        ("MilitaryPlatform", "T-72B3"),
        ("CommsIdentifier", "41.250"),  # a frequency
        ("CommsIdentifier", "٤٣٫٢٥٠"),
        ("CommsIdentifier", "03 415 227"),  # a telephone number
        ("CommsIdentifier", "THOR 6"),
        ("Location", "Tapa"),
    ],
)
def test_not_too_thin(kind: EntityType, text: str) -> None:
    assert not too_thin(kind, text)


def test_thin_model_entities_are_left_out_and_the_rest_kept() -> None:
    thin = _model("Unit", "3")  # the "3" of "3e RIMa" alone
    kept = _model("MilitaryPlatform", "BTR-82A")
    assert merge_entities([], [thin, kept]) == [kept]


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
