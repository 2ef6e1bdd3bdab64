"""Lat/long parser: decimal, DDM, DMS and compact forms, hemispheres, ranges, offsets."""

from __future__ import annotations

import pytest

from services.domain.latlon import find_latlons

DMS_LAT = 48 + 51 / 60 + 29.5 / 3600
DMS_LON = 2 + 17 / 60 + 40.2 / 3600


@pytest.mark.parametrize(
    ("text", "lat", "lon"),
    [
        ("48.8582, 2.2945", 48.8582, 2.2945),
        ("48.8582 2.2945", 48.8582, 2.2945),
        ("48.8582,2.2945", 48.8582, 2.2945),
        ("48.8582°, 2.2945°", 48.8582, 2.2945),
        ("-33.86, 151.21", -33.86, 151.21),
        ("+33.86, -151.21", 33.86, -151.21),
        ("−33.86, 151.21", -33.86, 151.21),
        ("40.7128, -74.0060", 40.7128, -74.006),
        ("48.8582N 2.2945E", 48.8582, 2.2945),
        ("48.8582N, 2.2945E", 48.8582, 2.2945),
        ("48.8582N2.2945E", 48.8582, 2.2945),
        ("48.8582 N 2.2945 E", 48.8582, 2.2945),
        ("48.8582°N 2.2945°E", 48.8582, 2.2945),
        ("48.8582N/2.2945E", 48.8582, 2.2945),
        ("N48.8582 E2.2945", 48.8582, 2.2945),
        ("N 48.8582, E 2.2945", 48.8582, 2.2945),
        ("33.86S 151.21E", -33.86, 151.21),
        ("S33.86 E151.21", -33.86, 151.21),
        ("40.7128N 74.0060W", 40.7128, -74.006),
        ("33.86S 70.65W", -33.86, -70.65),
        ("48.8582N 2.2945O", 48.8582, -2.2945),
        ("2.2945E 48.8582N", 48.8582, 2.2945),
        ("48°N 2°E", 48.0, 2.0),
        ("48°51.49'N 2°17.67'E", 48 + 51.49 / 60, 2 + 17.67 / 60),
        ("48° 51.49′ N, 2° 17.67′ E", 48 + 51.49 / 60, 2 + 17.67 / 60),
        ("33°51'S 151°12'E", -(33 + 51 / 60), 151.2),
        ("48°51'29.5\"N 2°17'40.2\"E", DMS_LAT, DMS_LON),
        ("48°51'29.5''N 2°17'40.2''E", DMS_LAT, DMS_LON),
        ("48° 51′ 29.5″ N 2° 17′ 40.2″ E", DMS_LAT, DMS_LON),
        ("48° 51′ 29.5″ N, 2° 17′ 40.2″ E", DMS_LAT, DMS_LON),
        ("N48°51'29.5\" E2°17'40.2\"", DMS_LAT, DMS_LON),
        ("321942.29N 0351234.56E", 32 + 19 / 60 + 42.29 / 3600, 35 + 12 / 60 + 34.56 / 3600),
        ("321942N 0351234E", 32 + 19 / 60 + 42 / 3600, 35 + 12 / 60 + 34 / 3600),
        ("321942.29S 0351234.56W", -(32 + 19 / 60 + 42.29 / 3600), -(35 + 12 / 60 + 34.56 / 3600)),
        ("90.00N 180.00W", 90.0, -180.0),
    ],
)
def test_forms(text: str, lat: float, lon: float) -> None:
    (entity,) = find_latlons(text)
    assert (entity.type, entity.form) == ("Location", "latlon")
    assert (entity.start, entity.end) == (0, len(text))
    assert entity.lat == pytest.approx(lat, abs=1e-6)
    assert entity.lon == pytest.approx(lon, abs=1e-6)
    assert entity.value == f"{entity.lat:.6f},{entity.lon:.6f}"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("48.8582N 2.2945E", "48.858200,2.294500"),
        ("-33.86, 151.21", "-33.860000,151.210000"),
        ("48°51'29.5\"N 2°17'40.2\"E", "48.858194,2.294500"),
        ("0.00S 0.00W", "0.000000,0.000000"),
        ("-0.00, -0.00", "0.000000,0.000000"),
    ],
)
def test_value_format(text: str, value: str) -> None:
    (entity,) = find_latlons(text)
    assert entity.value == value


@pytest.mark.parametrize(
    "text",
    [
        # Out of range.
        "91.00, 2.00",
        "48.85, 181.00",
        "-90.01, 2.00",
        "91.0000N 2.0000E",
        "48.0N 181.0E",
        "90°30'N 2°E",
        "48°60'N 2°10'E",
        "48°51'60\"N 2°17'40\"E",
        "326042N 0351234E",
        # Bare numbers need two decimals each and a comma or space between.
        "48.8, 2.2945",
        "48.8582, 2.2",
        "48.8582; 2.2945",
        "48, 2",
        "48 2",
        # Hemisphere letters on both halves or neither, one latitude and one longitude.
        "48.8582N 2.2945",
        "48.8582N 2.2945N",
        "2.2945E 2.2945W",
        # A hemisphere letter and a sign contradict each other.
        "-48.8582N 2.2945E",
        # Integer degrees without a degree sign are not coordinates.
        "48N 2E",
        # Compact latitude is DDMMSS and longitude DDDMMSS.
        "321942.29N 351234.56E",
        "3219N 03512E",
        # Inside longer tokens or number runs.
        "v48.8582, 2.2945",
        "48.8582, 2.2945x",
        "1.48.8582, 2.2945",
        "48.8582, 2.2945.7",
        "48.8582NE 2.2945E",
        # Arabic-Indic digits.
        "٤٨.٨٥٨٢, ٢.٢٩٤٥",
    ],
)
def test_rejected(text: str) -> None:
    assert find_latlons(text) == []


def test_valid_pair_found_after_rejected_prefix() -> None:
    text = "12.5N 48.8582N 2.2945E"
    (entity,) = find_latlons(text)
    assert (entity.start, entity.text) == (6, "48.8582N 2.2945E")


@pytest.mark.parametrize(
    "prefix",
    ["", "Позиция противника: ", "موقع العدو ", "Coordonnées relevées à l'aube : ", "🛰️ "],
)
def test_offsets_with_non_ascii_prefix(prefix: str) -> None:
    text = f"{prefix}48°51'29.5\"N 2°17'40.2\"E — fin"
    (entity,) = find_latlons(text)
    assert entity.start == len(prefix)
    assert text[entity.start : entity.end] == "48°51'29.5\"N 2°17'40.2\"E"


def test_pairs_in_order() -> None:
    found = find_latlons("A: 48.8582N 2.2945E ; B: -33.86, 151.21.")
    assert [e.value for e in found] == ["48.858200,2.294500", "-33.860000,151.210000"]
