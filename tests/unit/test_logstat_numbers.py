"""Numbers as logistics reports write them: FR/EN thousands separators, decimal marks,
Arabic-Indic digits and separators, number words; malformed runs are never read."""

from __future__ import annotations

import pytest

from services.logstat.numbers import (
    as_json_number,
    find_number_words,
    find_numbers,
    parse_number,
)


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("1 200", 1200.0),
        ("1,200", 1200.0),
        ("1.200", 1200.0),
        ("1 200 000", 1200000.0),
        ("1,200,000", 1200000.0),
        ("1.200.000", 1200000.0),
        ("1.200,5", 1200.5),
        ("1,200.50", 1200.5),
        ("1 200,5", 1200.5),
        ("2,5", 2.5),
        ("2.75", 2.75),
        ("0,250", 0.25),
        ("1234,567", 1234.567),
        ("12000", 12000.0),
        ("١٢٠٠", 1200.0),
        ("١٬٢٠٠", 1200.0),
        ("٢٫٥", 2.5),
        ("۱۲۰۰", 1200.0),
        ("1\u00a0200", 1200.0),
        ("1\u202f200", 1200.0),
        ("1'200", 1200.0),
    ],
)
def test_values(written: str, value: float) -> None:
    assert parse_number(written) == value


@pytest.mark.parametrize(
    "written", ["12 00", "1,2,3", "1..200", "12,00,0", "4,00,0", "007", "1.20,0"]
)
def test_malformed_runs_have_no_value(written: str) -> None:
    assert parse_number(written) is None


def test_a_list_separator_ends_a_number() -> None:
    found = find_numbers("1 200, 300 L")
    assert [(n.text, n.value) for n in found] == [("1 200", 1200.0), ("300", 300.0)]


def test_a_spaced_run_that_is_not_one_number_is_split_or_malformed() -> None:
    assert [(n.text, n.value) for n in find_numbers("A. 2 3 000 L")] == [
        ("2", 2.0),
        ("3 000", 3000.0),
    ]
    assert [(n.text, n.value) for n in find_numbers("CL III: 1 20 0 L")] == [("1 20 0", None)]


def test_digits_glued_to_a_designation_are_no_number() -> None:
    assert find_numbers("BTR-82A and F-34") == []


def test_digits_after_the_arabic_conjunction_are_a_number() -> None:
    assert [n.text for n in find_numbers("و٢ طن")] == ["٢"]


def test_offsets_point_at_the_written_number() -> None:
    text = "Il reste ١٢٬٠٠٠ طلقة et 3,5 m3."
    for n in find_numbers(text):
        assert text[n.start : n.end] == n.text


def test_number_words_skip_articles() -> None:
    found = find_number_words("trois caisses, a box, deux camions, шесть ящиков, ثلاث شاحنات")
    assert [(n.text, n.value) for n in found] == [
        ("trois", 3.0),
        ("deux", 2.0),
        ("шесть", 6.0),
        ("ثلاث", 3.0),
    ]


def test_json_numbers_are_integers_when_whole() -> None:
    assert as_json_number(1200.0) == 1200 and isinstance(as_json_number(1200.0), int)
    assert as_json_number(2.5) == 2.5
