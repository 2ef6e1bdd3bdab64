"""The gold set (ops/gold) is right: every offset, every normalised value, every required field.

A measure is only as good as its references: this runs in `make test`, so a report added with a
wrong offset or a miscomputed grid fails here, naming the file and the field.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import typing
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

import mgrs
import pytest

from schemas.v1 import EntityType

GOLD = Path(__file__).resolve().parents[2] / "ops" / "gold" / "reports"
LANGUAGES = {"fr", "en", "ru", "uk", "ar"}
FORMS = {
    "spotrep", "sitrep", "intrep", "compte_rendu", "logstat", "nine_line", "free_text",
    "sensor_note",
}  # fmt: skip
UNITS = {
    "litres", "m3", "rounds", "boxes", "days_of_supply", "tonnes", "each", "personnel",
    "rations", "vehicles",
}  # fmt: skip
STATUSES = {"on_hand", "required", "consumed", "unserviceable"}
ENTITY_TYPES = set(typing.get_args(EntityType))
MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    )
}
#: DDHHMM[SS] zone [MON [YY[YY]]], spaces optional (the shape; the values are checked below).
DTG_RE = re.compile(
    r"^(\d{2})\s?(\d{2})(\d{2})(\d{2})?\s?([A-Z])\s?(?:([A-Z]{3})\s?(\d{2}|\d{4})?)?$"
)


def reports() -> list[tuple[str, dict[str, Any]]]:
    return [(p.stem, json.loads(p.read_text("utf-8"))) for p in sorted(GOLD.glob("*.json"))]


def ids() -> list[str]:
    return [name for name, _ in reports()]


@pytest.fixture(scope="module")
def gold() -> list[tuple[str, dict[str, Any]]]:
    return reports()


@pytest.mark.parametrize(("name", "report"), reports(), ids=ids())
def test_a_report_is_well_formed(name: str, report: dict[str, Any]) -> None:
    assert report["id"] == name
    assert report["split"] in ("dev", "test")
    assert report["language"] in LANGUAGES
    assert name.startswith(f"{report['language']}-")
    assert report["form"] in FORMS
    assert report["label"] in ("np", "dr", "s", "ts")
    assert report["precedence"] in ("FLASH", "IMMEDIATE", "PRIORITY", "ROUTINE")
    text = report["text"]
    assert text and text == text.strip() and "\r" not in text
    assert unicodedata.normalize("NFC", text) == text
    ref = report["reference_translation"]
    assert ref["language"] == ("en" if report["language"] == "fr" else "fr")
    assert ref["text"].strip()
    assert isinstance(report["injection"], bool)
    assert report["summary_facts"] and all(f.strip() for f in report["summary_facts"])
    for token in report["protected_tokens"]:
        assert token in text, f"protected token {token!r} is not in the text"
    for term in report["glossary_terms"]:
        assert term["source"].casefold() in text.casefold(), term
        assert term["target"].strip()
    for trap in report.get("traps", []):
        assert trap["text"] in text, trap


def _slice(text: str, item: dict[str, Any], what: str) -> None:
    start, end = item["start"], item["end"]
    assert 0 <= start < end <= len(text), f"{what} {item['text']!r}: bad offsets"
    assert text[start:end] == item["text"], (
        f"{what} {item['text']!r}: text[{start}:{end}] is {text[start:end]!r}"
    )


def _dtg_value(surface: str, value: str) -> None:
    match = DTG_RE.match(surface.upper())
    assert match, f"DTG {surface!r}: not DDHHMM[SS]Z[MON[YY]]"
    day, hour, minute, second, zone, month, year = match.groups()
    when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert when.tzinfo is not None and when.utcoffset() == dt.timedelta(0), value
    # Zone letters: A–M (no J) are UTC+1..+12, N–Y UTC−1..−12, Z UTC.
    letters = "ABCDEFGHIKLM"
    if zone == "Z":
        offset = 0
    elif zone in letters:
        offset = letters.index(zone) + 1
    else:
        assert zone in "NOPQRSTUVWXY", f"DTG {surface!r}: zone {zone} (J is local time)"
        offset = -("NOPQRSTUVWXY".index(zone) + 1)
    local = when + dt.timedelta(hours=offset)
    assert (local.day, local.hour, local.minute) == (int(day), int(hour), int(minute)), (
        f"DTG {surface!r} is not {value}"
    )
    if second:
        assert local.second == int(second)
    if month:
        assert MONTHS[month] == local.month, f"DTG {surface!r}: month"
    if year:
        assert local.year % (100 if len(year) == 2 else 10_000) == int(year), surface


def _mgrs_value(surface: str, value: str) -> None:
    compact = re.sub(r"\s", "", surface).upper()
    assert value == compact, f"MGRS {surface!r}: value {value!r} is not the compact form"
    digits = re.sub(r"^\d{1,2}[A-Z]{3}", "", value)
    assert digits.isdigit() and len(digits) % 2 == 0 and len(digits) <= 10, value
    mgrs.MGRS().toLatLon(value)  # raises on an invalid reference


@pytest.mark.parametrize(("name", "report"), reports(), ids=ids())
def test_offsets_and_normalised_values_are_right(name: str, report: dict[str, Any]) -> None:
    text = report["text"]
    for entity in report["entities"]:
        assert entity["type"] in ENTITY_TYPES, entity
        _slice(text, entity, entity["type"])
        value = entity.get("value")
        if entity["type"] == "DateTime" and value is not None:
            _dtg_value(entity["text"], value)
        if entity["type"] == "Location" and value is not None:
            if re.fullmatch(r"-?\d+\.\d{6},-?\d+\.\d{6}", value):
                lat, lon = map(float, value.split(","))
                assert -90 <= lat <= 90 and -180 <= lon <= 180, value
            else:
                _mgrs_value(entity["text"], value)
    spans = sorted((e["start"], e["end"]) for e in report["entities"])
    for (s1, e1), (s2, e2) in itertools.pairwise(spans):
        assert e1 <= s2 or (s1, e1) == (s2, e2), f"overlapping gold entities at {s1}-{e1}/{s2}"
    for quantity in report.get("quantities", []):
        _slice(text, quantity, "quantity")
        assert quantity["unit"] in UNITS and quantity["status"] in STATUSES, quantity
        assert isinstance(quantity["quantity"], int | float) and quantity["quantity"] >= 0


def test_the_set_covers_what_it_must(gold: list[tuple[str, dict[str, Any]]]) -> None:
    assert len(gold) >= 150
    languages = Counter(r["language"] for _, r in gold)
    assert set(languages) == LANGUAGES and min(languages.values()) >= 20, languages
    forms = Counter(r["form"] for _, r in gold)
    assert set(forms) == FORMS, forms
    splits = Counter(r["split"] for _, r in gold)
    assert splits["dev"] >= 40 and splits["test"] >= 60, splits
    assert sum(r["injection"] for _, r in gold) >= 8
    assert sum(bool(r.get("traps")) for _, r in gold) >= 8
    assert sum(bool(r.get("quantities")) for _, r in gold) >= 15
    lengths = sorted(len(r["text"]) for _, r in gold)
    assert lengths[0] < 80 and lengths[-1] > 600, "from one line to a dozen sentences"
    texts = [r["text"] for _, r in gold]
    assert len(set(texts)) == len(texts), "a report appears twice"
