"""DTG parser: surface forms, zone letters, inferred month/year, rejections, offsets."""

from __future__ import annotations

import datetime as dt

import pytest

from services.domain.dtg import find_dtgs, find_zoned_times

UTC = dt.UTC
OBS = dt.datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _one(text: str, observed_at: dt.datetime | None = OBS) -> tuple[str | None, list[str]]:
    found = find_dtgs(text, observed_at)
    assert len(found) == 1, found
    entity = found[0]
    assert entity.type == "DateTime"
    assert entity.form == "dtg"
    assert text[entity.start : entity.end] == entity.text
    return entity.value, list(entity.flags)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("251430ZNOV26", "2026-11-25T14:30:00Z"),
        ("25 1430Z NOV 26", "2026-11-25T14:30:00Z"),
        ("251430Z NOV 2026", "2026-11-25T14:30:00Z"),
        ("251430Z NOV26", "2026-11-25T14:30:00Z"),
        ("251430ZNOV 2026", "2026-11-25T14:30:00Z"),
        ("25 1430ZNOV26", "2026-11-25T14:30:00Z"),
        ("25143015ZNOV26", "2026-11-25T14:30:15Z"),
        ("25 143059Z NOV 26", "2026-11-25T14:30:59Z"),
        ("251430Znov26", "2026-11-25T14:30:00Z"),
        ("251430z nov 26", "2026-11-25T14:30:00Z"),
        ("251430ZNov2026", "2026-11-25T14:30:00Z"),
        ("010000ZJAN00", "2000-01-01T00:00:00Z"),
        ("011200ZMAR45", "2045-03-01T12:00:00Z"),
        ("311200ZDEC99", "2099-12-31T12:00:00Z"),
        ("311200ZDEC1999", "1999-12-31T12:00:00Z"),
        ("291200ZFEB28", "2028-02-29T12:00:00Z"),
        ("DTG/251430ZNOV26//", "2026-11-25T14:30:00Z"),
    ],
)
def test_explicit_forms(text: str, value: str) -> None:
    assert _one(text) == (value, [])


@pytest.mark.parametrize(
    ("month", "number"),
    [
        ("JAN", 1),
        ("FEB", 2),
        ("MAR", 3),
        ("APR", 4),
        ("MAY", 5),
        ("JUN", 6),
        ("JUL", 7),
        ("AUG", 8),
        ("SEP", 9),
        ("OCT", 10),
        ("NOV", 11),
        ("DEC", 12),
        ("FEV", 2),
        ("FÉV", 2),
        ("fév", 2),
        ("AVR", 4),
        ("MAI", 5),
        ("JUIN", 6),
        ("juin", 6),
        ("JUIL", 7),
        ("AOU", 8),
        ("AOÛ", 8),
        ("aoû", 8),
        ("DÉC", 12),
        ("déc", 12),
    ],
)
def test_month_names(month: str, number: int) -> None:
    assert _one(f"101200Z{month}26") == (f"2026-{number:02d}-10T12:00:00Z", [])


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("251430ANOV26", "2026-11-25T13:30:00Z"),
        ("251430BNOV26", "2026-11-25T12:30:00Z"),
        ("251430INOV26", "2026-11-25T05:30:00Z"),
        ("251430KNOV26", "2026-11-25T04:30:00Z"),
        ("251430LNOV26", "2026-11-25T03:30:00Z"),
        ("251430MNOV26", "2026-11-25T02:30:00Z"),
        ("250600MNOV26", "2026-11-24T18:00:00Z"),
        ("251430NNOV26", "2026-11-25T15:30:00Z"),
        ("251430RNOV26", "2026-11-25T19:30:00Z"),
        ("251430YNOV26", "2026-11-26T02:30:00Z"),
        ("251430ZNOV26", "2026-11-25T14:30:00Z"),
        # Crossing midnight, a month end, a leap day and a year end.
        ("250030ANOV26", "2026-11-24T23:30:00Z"),
        ("010030AMAR26", "2026-02-28T23:30:00Z"),
        ("010000BMAR24", "2024-02-29T22:00:00Z"),
        ("010030AJAN27", "2026-12-31T23:30:00Z"),
        ("011100MJAN26", "2025-12-31T23:00:00Z"),
        ("302300NAPR26", "2026-05-01T00:00:00Z"),
        ("311830YDEC26", "2027-01-01T06:30:00Z"),
    ],
)
def test_zone_letters(text: str, value: str) -> None:
    assert _one(text) == (value, [])


@pytest.mark.parametrize(
    ("text", "observed_at"),
    [
        ("251430JNOV26", None),
        ("251430J NOV 2026", OBS),
        ("251430JNOV", OBS),
        ("251430J", OBS),
    ],
)
def test_zone_j_is_local_time_without_value(text: str, observed_at: dt.datetime | None) -> None:
    assert _one(text, observed_at) == (None, ["local_time"])


@pytest.mark.parametrize(
    ("text", "observed_at", "value"),
    [
        ("251430Z", OBS, "2026-11-25T14:30:00Z"),
        ("021200Z", dt.datetime(2026, 12, 30, tzinfo=UTC), "2027-01-02T12:00:00Z"),
        ("301200Z", dt.datetime(2027, 1, 2, tzinfo=UTC), "2026-12-30T12:00:00Z"),
        ("281200Z", dt.datetime(2026, 3, 2, tzinfo=UTC), "2026-02-28T12:00:00Z"),
        # The nearest month lacks the day: the next-nearest one that has it wins.
        ("310800Z", dt.datetime(2026, 11, 29, tzinfo=UTC), "2026-10-31T08:00:00Z"),
        ("301200Z", dt.datetime(2026, 2, 27, tzinfo=UTC), "2026-01-30T12:00:00Z"),
        # The zone shifts the instant across the year end; nearest is judged in UTC.
        ("010030A", dt.datetime(2026, 12, 31, 23, 0, tzinfo=UTC), "2026-12-31T23:30:00Z"),
        # Naive observed_at is UTC; an aware one is converted before choosing the month.
        ("251430Z", dt.datetime(2026, 11, 20, 12, 0), "2026-11-25T14:30:00Z"),
        (
            "301200Z",
            dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "2026-11-30T12:00:00Z",
        ),
    ],
)
def test_month_inferred(text: str, observed_at: dt.datetime, value: str) -> None:
    assert _one(text, observed_at) == (value, ["month_inferred"])


@pytest.mark.parametrize(
    ("text", "observed_at", "value"),
    [
        ("251430ZNOV", OBS, "2026-11-25T14:30:00Z"),
        ("021200ZJAN", dt.datetime(2026, 12, 28, tzinfo=UTC), "2027-01-02T12:00:00Z"),
        ("301200Z DEC", dt.datetime(2027, 1, 3, tzinfo=UTC), "2026-12-30T12:00:00Z"),
        ("291200ZFEB", dt.datetime(2027, 3, 1, tzinfo=UTC), "2028-02-29T12:00:00Z"),
    ],
)
def test_year_inferred_from_observed_at(text: str, observed_at: dt.datetime, value: str) -> None:
    assert _one(text, observed_at) == (value, ["year_inferred"])


def test_year_inferred_without_observed_at_is_current_year() -> None:
    year = dt.datetime.now(UTC).year
    assert _one("151200ZJUN", None) == (f"{year}-06-15T12:00:00Z", ["year_inferred"])


def test_four_digit_count_after_month_is_not_a_year() -> None:
    (entity,) = find_dtgs("251430Z NOV 1234 hommes", OBS)
    assert (entity.text, entity.value, entity.flags) == (
        "251430Z NOV",
        "2026-11-25T14:30:00Z",
        ["year_inferred"],
    )


@pytest.mark.parametrize(
    ("text", "observed_at"),
    [
        ("001430ZNOV26", OBS),
        ("321430ZNOV26", OBS),
        ("311430ZNOV26", OBS),
        ("311430ZAPR26", OBS),
        ("291200ZFEB26", OBS),
        ("301200ZFEB28", OBS),
        ("252430ZNOV26", OBS),
        ("251460ZNOV26", OBS),
        ("25143060ZNOV26", OBS),
        ("251430", OBS),
        ("251430 NOV 26", OBS),
        ("251430a", OBS),
        ("251430Z", None),
        ("251430J", None),
        ("251430ZNOVEMBER", OBS),
        ("251430ZXYZ", OBS),
        ("X251430ZNOV26", OBS),
        ("251430ZNOV26X", OBS),
        ("251430ZNOV262", OBS),
        ("1251430ZNOV26", OBS),
        ("ref251430Z", OBS),
        ("д251430ZNOV26", OBS),
        ("251430ZNOV26ж", OBS),
        ("2514 30Z NOV 26", OBS),
        ("٢٥١٤٣٠ZNOV26", OBS),
    ],
)
def test_rejected(text: str, observed_at: dt.datetime | None) -> None:
    assert find_dtgs(text, observed_at) == []


def test_offsets_after_french_accents() -> None:
    text = "Reçu à l'état-major : élément ennemi observé à 251430ZNOV26 près de Vézelay."
    (entity,) = find_dtgs(text)
    assert (entity.start, entity.end) == (47, 59)
    assert text[entity.start : entity.end] == "251430ZNOV26"
    assert entity.value == "2026-11-25T14:30:00Z"


def test_several_dtgs_in_order() -> None:
    text = "Départ 250600ZNOV26, retour 251800A NOV 26."
    found = find_dtgs(text)
    assert [(e.text, e.value) for e in found] == [
        ("250600ZNOV26", "2026-11-25T06:00:00Z"),
        ("251800A NOV 26", "2026-11-25T17:00:00Z"),
    ]


def test_number_before_a_whole_dtg_is_not_its_day() -> None:
    # "FAUCON 23" is a callsign; the DTG is the six-digit group after it.
    (entity,) = find_dtgs("SPOTREP FAUCON 23 140615CAPR26 : 2 T-72B3", OBS)
    assert entity.text == "140615CAPR26"
    assert entity.value == "2026-04-14T03:15:00Z"


def test_day_apart_from_its_time_is_still_read() -> None:
    # 143059 is no day-hour-minute group (hour 30): "25" is the day.
    assert _one("25 143059Z NOV 26") == ("2026-11-25T14:30:59Z", [])
    assert _one("25 1430Z NOV 26") == ("2026-11-25T14:30:00Z", [])


def test_zoned_times() -> None:
    text = "at 1520Z, 0620C and 2400B; not 2560Z, 1520z, M1520Z, 12.1520Z nor 152030Z"
    assert [text[s:e] for s, e in find_zoned_times(text)] == ["1520Z", "0620C", "2400B"]
