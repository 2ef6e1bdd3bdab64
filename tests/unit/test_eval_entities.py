"""Entity and quantity measures (services/evaluation/entities.py, quantities.py), plain values."""

from __future__ import annotations

from typing import Literal

from schemas.v1 import Entity, EntityType
from services.evaluation.entities import (
    Counts,
    in_word_model_entities,
    match_entities,
    normalised_values,
    value_kind,
)
from services.evaluation.gold import GoldEntity, GoldQuantity
from services.evaluation.quantities import is_quantity_output, match_quantities

TEXT = "251430ZNOV26 2 BTR-82A at 31U DQ 48251 11932 near the enemy, 48.8582N 2.2945E"
GOLD = [
    GoldEntity("DateTime", "251430ZNOV26", 0, 12, "2026-11-25T14:30:00Z"),
    GoldEntity("Quantity", "2", 13, 14),
    GoldEntity("MilitaryPlatform", "BTR-82A", 15, 22),
    GoldEntity("Location", "31U DQ 48251 11932", 26, 44, "31UDQ4825111932"),
    GoldEntity("Location", "48.8582N 2.2945E", 61, 77, "48.858200,2.294500"),
]


def entity(
    type_: EntityType,
    start: int,
    end: int,
    source: Literal["pattern", "model"] = "pattern",
    value: str | None = None,
) -> Entity:
    return Entity(
        type=type_, text=TEXT[start:end], start=start, end=end, value=value, source=source
    )


def test_counts_give_precision_recall_f1() -> None:
    c = Counts(tp=3, fp=1, fn=3)
    assert (c.precision, c.recall) == (0.75, 0.5)
    assert c.f1 is not None and abs(c.f1 - 0.6) < 1e-9
    assert Counts().precision is None and Counts(fn=2).recall == 0.0
    assert Counts(tp=1) + Counts(fp=2) == Counts(1, 2, 0)


def test_exact_span_and_type_per_type_and_per_source() -> None:
    predicted = [
        entity("DateTime", 0, 12),
        entity("Quantity", 13, 14, "model"),
        entity("Weapon", 15, 22, "model"),  # right span, wrong type
        entity("Location", 26, 44),
        entity("Unit", 54, 56, "model"),  # "en" inside "enemy"
    ]
    by_type, by_source = match_entities(GOLD, predicted)
    assert by_type["DateTime"] == Counts(tp=1)
    assert by_type["Weapon"] == Counts(fp=1)
    assert by_type["MilitaryPlatform"] == Counts(fn=1)
    assert by_type["Location"] == Counts(tp=1, fn=1)
    assert by_source == {"pattern": Counts(tp=2), "model": Counts(tp=1, fp=2)}


def test_a_gold_entity_is_matched_once() -> None:
    by_type, _ = match_entities(GOLD[:1], [entity("DateTime", 0, 12), entity("DateTime", 0, 12)])
    assert by_type["DateTime"] == Counts(tp=1, fp=1)


def test_normalised_values_need_an_overlapping_entity_with_the_same_value() -> None:
    predicted = [
        entity("DateTime", 0, 12, value="2026-11-25T14:30:00Z"),
        entity("Location", 26, 40, value="31UDQ4825111932"),  # shorter span, same value
        entity("Location", 61, 77, value="48.8582,2.2945"),  # same position, 4 decimals
    ]
    counts = normalised_values(GOLD, predicted)
    assert counts.gold == {"dtg": 1, "mgrs": 1, "latlon": 1}
    assert counts.found == {"dtg": 1, "mgrs": 1, "latlon": 1}
    wrong = [entity("DateTime", 0, 12, value="2026-12-25T14:30:00Z")]
    missed = normalised_values(GOLD, wrong)
    assert missed.found == {} and "dtg: 251430ZNOV26 = 2026-11-25T14:30:00Z" in missed.missed
    assert [value_kind(g) for g in GOLD] == ["dtg", None, None, "mgrs", "latlon"]


def test_model_entities_cutting_a_word_are_found() -> None:
    predicted = [
        entity("Unit", 54, 56, "model"),
        entity("Unit", 54, 56, "pattern"),
        entity("MilitaryPlatform", 15, 22, "model"),
    ]
    assert [e.text for e in in_word_model_entities(TEXT, predicted)] == ["en"]


def test_quantities_match_on_value_unit_status_and_overlap() -> None:
    gold = [
        GoldQuantity("diesel", 18500, "litres", "on_hand", "18,500 L", 10, 18),
        GoldQuantity("diesel", 6000, "litres", "required", "6,000 L", 30, 37),
    ]
    items = [
        {"quantity": 18500.0, "unit": "litres", "status": "on_hand", "start": 10, "end": 16},
        {"quantity": 6000, "unit": "litres", "status": "on_hand", "start": 30, "end": 37},
        {"quantity": 6000, "unit": "litres", "status": "required", "start": 50, "end": 57},
    ]
    counts, spurious, missed = match_quantities(gold, items)
    assert counts == Counts(tp=1, fp=2, fn=1)
    assert len(spurious) == 2 and missed == [gold[1]]
    assert is_quantity_output({"items": items, "unit": None})
    assert not is_quantity_output({"items": [{"words": 3}]})
    assert not is_quantity_output({"count": 3})
