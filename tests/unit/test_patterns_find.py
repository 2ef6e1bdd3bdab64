"""find_pattern_entities: all parsers together, overlap resolution, scripts around entities."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from schemas.v1 import Entity
from services.domain.patterns import find_pattern_entities
from services.domain.spans import resolve_overlaps

OBS = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def _summary(entities: list[Entity]) -> list[tuple[str, str | None, str]]:
    return [(e.form or "", e.value, e.text) for e in entities]


@pytest.mark.parametrize("text", ["", " ", "\n\t", "RAS.", "Aucun contact, 3 véhicules."])
def test_nothing_to_find(text: str) -> None:
    assert find_pattern_entities(text, OBS) == []


def test_reference_sentence() -> None:
    text = "Patrouille à 251430ZNOV26, contact en 31U DQ 48251 11932, trois BTR-82A."
    found = find_pattern_entities(text)
    assert _summary(found) == [
        ("dtg", "2026-11-25T14:30:00Z", "251430ZNOV26"),
        ("mgrs", "31UDQ4825111932", "31U DQ 48251 11932"),
    ]
    assert [(e.start, e.end) for e in found] == [(13, 25), (38, 56)]
    assert all(e.source == "pattern" for e in found)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Разведка: 251430ZNOV26, колонна в 31U DQ 48251 11932, координаты 48.8582N 2.2945E.",
            [
                ("dtg", "2026-11-25T14:30:00Z", "251430ZNOV26"),
                ("mgrs", "31UDQ4825111932", "31U DQ 48251 11932"),
                ("latlon", "48.858200,2.294500", "48.8582N 2.2945E"),
            ],
        ),
        (
            "رصد العدو 251430ZNOV26 في 31UDQ4825111932 و 48.8582, 2.2945 انتهى",
            [
                ("dtg", "2026-11-25T14:30:00Z", "251430ZNOV26"),
                ("mgrs", "31UDQ4825111932", "31UDQ4825111932"),
                ("latlon", "48.858200,2.294500", "48.8582, 2.2945"),
            ],
        ),
        (
            "Élément repéré à 48°51'29.5\"N 2°17'40.2\"E, à 251430A NOV 26 — fin.",
            [
                ("latlon", "48.858194,2.294500", "48°51'29.5\"N 2°17'40.2\"E"),
                ("dtg", "2026-11-25T13:30:00Z", "251430A NOV 26"),
            ],
        ),
        (
            "🚩🚩 4QFJ12345678 puis 251430Z",
            [
                ("mgrs", "4QFJ12345678", "4QFJ12345678"),
                ("dtg", "2026-11-25T14:30:00Z", "251430Z"),
            ],
        ),
    ],
)
def test_mixed_scripts_offsets(text: str, expected: list[tuple[str, str | None, str]]) -> None:
    found = find_pattern_entities(text, OBS)
    assert _summary(found) == expected
    for entity in found:
        assert text[entity.start : entity.end] == entity.text
    assert [e.start for e in found] == sorted(e.start for e in found)


def test_emoji_counts_as_one_code_point() -> None:
    (entity,) = find_pattern_entities("🚩 251430ZNOV26")
    assert (entity.start, entity.end) == (2, 14)


def test_compact_latlon_wins_over_dtg_inside_it() -> None:
    text = "Cible 251430N 0351234E."
    (entity,) = find_pattern_entities(text, OBS)
    assert (entity.form, entity.text, entity.start) == ("latlon", "251430N 0351234E", 6)


def test_dtg_alone_with_same_digits_is_still_found() -> None:
    (entity,) = find_pattern_entities("Cible 251430N.", OBS)
    assert (entity.form, entity.value) == ("dtg", "2026-11-25T15:30:00Z")


def test_dtg_next_to_latlon_both_kept() -> None:
    found = find_pattern_entities("251430ZNOV26 48.8582, 2.2945", OBS)
    assert _summary(found) == [
        ("dtg", "2026-11-25T14:30:00Z", "251430ZNOV26"),
        ("latlon", "48.858200,2.294500", "48.8582, 2.2945"),
    ]


@pytest.mark.parametrize(
    ("observed_at", "count"),
    [(None, 1), (OBS, 2)],
)
def test_observed_at_is_passed_to_dtg(observed_at: dt.datetime | None, count: int) -> None:
    found = find_pattern_entities("251430ZNOV26 et 261200Z", observed_at)
    assert len(found) == count


def test_entities_survive_wire_validation() -> None:
    text = "Контакт 251430ZNOV26 в 31U DQ 48251 11932 / 48.8582N 2.2945E"
    found = find_pattern_entities(text, OBS)
    decoded = msgspec.json.decode(msgspec.json.encode(found), type=list[Entity])
    assert decoded == found
    assert len(found) == 3


def _e(start: int, end: int, form: str) -> Entity:
    return Entity(type="Location", text="x" * (end - start), start=start, end=end, form=form)


@pytest.mark.parametrize(
    ("entities", "kept"),
    [
        ([], []),
        ([_e(0, 7, "short"), _e(0, 16, "long")], ["long"]),
        ([_e(5, 9, "inner"), _e(0, 16, "outer")], ["outer"]),
        ([_e(0, 10, "left"), _e(5, 20, "right")], ["right"]),
        ([_e(0, 10, "first"), _e(5, 15, "second")], ["first"]),
        ([_e(3, 8, "a"), _e(3, 8, "b")], ["a"]),
        ([_e(10, 15, "late"), _e(0, 10, "early")], ["early", "late"]),
        ([_e(0, 4, "a"), _e(2, 12, "b"), _e(10, 14, "c")], ["b"]),
        ([_e(0, 4, "a"), _e(2, 6, "b"), _e(5, 9, "c")], ["a", "c"]),
    ],
)
def test_resolve_overlaps(entities: list[Entity], kept: list[str]) -> None:
    assert [e.form for e in resolve_overlaps(entities)] == kept
