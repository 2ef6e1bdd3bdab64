"""MGRS parser: surface forms, digit counts, letter/zone validity, offsets."""

from __future__ import annotations

import warnings

import pytest

from services.domain.mgrs_ref import find_mgrs

PARIS = (48.858198, 2.294496)


def test_reference_sentence_offsets_and_position() -> None:
    text = "Patrouille à 251430ZNOV26, contact en 31U DQ 48251 11932, trois BTR-82A."
    (entity,) = find_mgrs(text)
    assert (entity.start, entity.end) == (38, 56)
    assert entity.text == "31U DQ 48251 11932" == text[38:56]
    assert (entity.type, entity.form, entity.value) == ("Location", "mgrs", "31UDQ4825111932")
    assert entity.lat == pytest.approx(48.8582, abs=1e-4)
    assert entity.lon == pytest.approx(2.2945, abs=1e-4)
    assert (entity.lat, entity.lon) == PARIS


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("31UDQ4825111932", "31UDQ4825111932"),
        ("31U DQ 48251 11932", "31UDQ4825111932"),
        ("31U DQ 4825111932", "31UDQ4825111932"),
        ("31UDQ 48251 11932", "31UDQ4825111932"),
        ("31U DQ48251 11932", "31UDQ4825111932"),
        ("31 U DQ 48251 11932", "31UDQ4825111932"),
        ("31U\u00a0DQ\u00a048251\u00a011932", "31UDQ4825111932"),
        ("4QFJ12345678", "4QFJ12345678"),
        ("4QFJ 1234 5678", "4QFJ12345678"),
        ("4Q FJ 1234 5678", "4QFJ12345678"),
        ("4QFJ 12345678", "4QFJ12345678"),
        ("04QFJ12345678", "4QFJ12345678"),
        ("04Q FJ 1234 5678", "4QFJ12345678"),
    ],
)
def test_surface_forms_canonicalised(text: str, value: str) -> None:
    (entity,) = find_mgrs(text)
    assert entity.value == value
    assert (entity.start, entity.end) == (0, len(text))


def test_hawaii_position() -> None:
    (entity,) = find_mgrs("4QFJ12345678")
    assert entity.lat == pytest.approx(21.309478, abs=1e-6)
    assert entity.lon == pytest.approx(-157.916819, abs=1e-6)


@pytest.mark.parametrize("half", [0, 1, 2, 3, 4, 5])
def test_every_even_digit_count(half: int) -> None:
    value = f"31UDQ{'48251'[:half]}{'11932'[:half]}"
    (entity,) = find_mgrs(f"grille {value} fin")
    assert entity.value == value
    assert len(value) - 5 == 2 * half
    # Coarser references name the south-west corner of a larger square around the same point.
    assert entity.lat is not None and entity.lon is not None
    assert 48.0 < entity.lat < 49.3
    assert 1.6 < entity.lon < 3.0


@pytest.mark.parametrize(
    "text",
    [
        "31UDQ4",
        "31UDQ482",
        "31UDQ48251",
        "31UDQ4825111",
        "31UDQ482511193",
        "31UDQ48251119321",
        "31UDQ482511193211",
        "31UDQ 482 1193",
        "31UDQ 48251 1193",
    ],
)
def test_odd_or_unbalanced_digits_rejected(text: str) -> None:
    assert find_mgrs(text) == []


@pytest.mark.parametrize(
    "text",
    [
        # Band letters I and O do not exist.
        "31IDQ48251193",
        "31ODQ48251193",
        # Band letters stop at X; A, B, Y, Z are polar (UPS), not MGRS bands.
        "31ADQ48251193",
        "31YDQ48251193",
        # Square columns skip I and O.
        "31UIQ48251193",
        "31UOQ48251193",
        # Square rows stop at V.
        "31UDW48251193",
        "31UDX48251193",
        "31UDY48251193",
        "31UDZ48251193",
        # Zones are 1-60.
        "0UDQ48251193",
        "00UDQ48251193",
        "61UDQ48251193",
        "99UDQ48251193",
        # Lower case is not accepted (see module docstring).
        "31udq4825111932",
        "31Udq4825111932",
        # Well-formed but not a real square: the converter refuses it.
        "60XVV1234",
        "31XDQ1234",
        # Inside a longer token.
        "A31UDQ48251193",
        "31UDQ48251193B",
        "X-31UDQ48251193Y",
        "ж31UDQ48251193",
        # Square alone with spaces reads as a unit name.
        "11E BP",
        # Arabic-Indic digits are not grid digits.
        "31UDQ٤٨٢٥١١٩٣",
    ],
)
def test_invalid_rejected(text: str) -> None:
    assert find_mgrs(text) == []


@pytest.mark.parametrize("ignore_warnings", [False, True])
@pytest.mark.parametrize("text", ["10SDQ", "01NDQ6087", "08UQQ80"])
def test_square_outside_band_rejected_whatever_the_warning_filter(
    text: str, ignore_warnings: bool
) -> None:
    # The converter only warns on these; the result must not depend on how warnings are handled.
    with warnings.catch_warnings():
        if ignore_warnings:
            warnings.simplefilter("ignore")
        assert find_mgrs(text) == []


@pytest.mark.parametrize(
    ("text", "lat"),
    [("49XHQ469793", 84.41392), ("13CDM9812", -80.05298)],
)
def test_polar_band_extensions_accepted(text: str, lat: float) -> None:
    (entity,) = find_mgrs(text)
    assert entity.lat == pytest.approx(lat, abs=1e-5)


@pytest.mark.parametrize(
    "prefix",
    ["", "Контакт в ", "الاتصال في ", "Zone d'intérêt à l'est : ", "🚩 "],
)
def test_offsets_with_non_ascii_prefix(prefix: str) -> None:
    text = f"{prefix}31U DQ 48251 11932, fin."
    (entity,) = find_mgrs(text)
    assert entity.start == len(prefix)
    assert text[entity.start : entity.end] == "31U DQ 48251 11932"


def test_several_references() -> None:
    found = find_mgrs("De 31UDQ4825111932 à 4QFJ 1234 5678 puis 04QFJ12.")
    assert [e.value for e in found] == ["31UDQ4825111932", "4QFJ12345678", "4QFJ12"]
