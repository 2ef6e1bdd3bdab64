"""The evaluator's matching rules (services/evaluation/text.py), on plain values."""

from __future__ import annotations

import pytest

from services.evaluation.text import ascii_digits, count, fold, numbers, on_word_boundaries


def test_fold_ignores_case_accents_tatweel_and_typographic_marks() -> None:
    assert fold("Véhicule BLINDÉ") == "vehicule blinde"
    assert fold("l’ennemi – 3") == "l'ennemi - 3"
    assert fold("مـدرعة") == "مدرعة"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 200 litres et 1,200 L et 1200", ["1200", "1200", "1200"]),
        ("3,5 m3 puis 0,50 t", ["3.5", "3", "0.5"]),
        ("18,500 L ON HAND", ["18500"]),
        ("grid 5314 0499", ["5314", "499"]),
        ("٤٨٬٠٠٠ لتر و١٢٫٥ طن", ["48000", "12.5"]),
        ("no figures", []),
    ],
)
def test_numbers_are_read_as_canonical_values(text: str, expected: list[str]) -> None:
    assert numbers(text) == expected


def test_ascii_digits_keeps_offsets() -> None:
    text = "اللواء ٣٥ مدرع"
    assert ascii_digits(text) == "اللواء 35 مدرع"
    assert len(ascii_digits(text)) == len(text)


@pytest.mark.parametrize(
    ("text", "span", "expected"),
    [
        ("the enemy moved", (4, 6), False),  # "en" inside "enemy"
        ("the enemy moved", (4, 9), True),
        ("Л3 1A 2C", (3, 4), True),  # a figure glued to a letter may be split
        ("2S19 and 2S1", (0, 3), False),  # digit to digit: inside the designation
        ("تقدمت بالدبابة", (7, 14), True),  # the proclitic ب before the article
        ("تقدمت بالدبابة", (8, 14), False),  # inside the word beyond a proclitic
        ("abc", (1, 1), False),
    ],
)
def test_word_boundaries(text: str, span: tuple[int, int], expected: bool) -> None:
    assert on_word_boundaries(text, *span) is expected


def test_count_is_byte_for_byte_and_non_overlapping() -> None:
    assert count("BTR-82A", "2 BTR-82A, 1 BTR-82A") == 2
    assert count("BTR-82A", "BTR 82A") == 0
    assert count("aa", "aaaa") == 2
    assert count("", "text") == 0
