"""Summary measures (services/evaluation/summary.py), on plain values."""

from __future__ import annotations

from services.evaluation.summary import check_summary, fact_recalled, source_numbers, word_count

SOURCE = (
    "SPOTREP 200900CMAY26: 3 BTR-82A et 1 200 hommes en 37RCR 5314 0499. "
    "Stock d'eau 2000 L, besoin 1500 L par jour. Relève à 1830."
)


def test_a_fact_needs_its_numbers_codes_and_half_its_content_words() -> None:
    fact = "eau potable insuffisante : 2000 litres en stock pour un besoin de 1500 litres par jour"
    assert fact_recalled(fact, "Eau insuffisante : stock 2 000 litres, besoin 1500 litres/jour.")
    assert not fact_recalled(fact, "Eau insuffisante : stock 2000 litres, besoin élevé.")
    assert not fact_recalled(fact, "2000 et 1500.")  # the numbers alone are not the fact
    grid = "point de passage n° 4 en 37RCR 5314 0499"
    assert fact_recalled(grid, "Passage n° 4 (37RCR53140499) visité.")
    assert not fact_recalled(grid, "Passage n° 4 visité.")
    assert fact_recalled("3 BTR-82A", "trois ? non : 3 btr-82a observés")


def test_a_dtg_in_the_summary_carries_the_day_and_time_of_a_fact() -> None:
    assert fact_recalled("visite le 20 à 09h00", "Visite 200900CMAY26.")
    assert not fact_recalled("visite le 21 à 09h00", "Visite 200900CMAY26.")


def test_a_fact_without_numbers_or_content_words_must_appear_as_written() -> None:
    assert fact_recalled("RAS", "Situation : RAS.")
    assert not fact_recalled("RAS", "Situation calme.")


def test_source_numbers_include_grouped_figures_times_and_dtg_parts() -> None:
    numbers = source_numbers(SOURCE, [12.5])
    assert {"3", "1200", "2000", "1500", "18", "30", "1830", "20", "9", "0", "900"} <= numbers
    assert {"2026", "12.5"} <= numbers
    assert "500" not in numbers


def test_summary_precision_checks_dtgs_grids_and_numbers_against_the_source() -> None:
    good = check_summary("200900CMAY26 : 3 BTR-82A en 37RCR 5314 0499, 1 200 hommes.", SOURCE)
    assert good.unsupported == () and len(good.checked) == 5
    bad = check_summary("210900CMAY26 : 500 chars en 37RCR 5314 0500 ; 17 mai 2026.", SOURCE)
    assert bad.unsupported == ("210900CMAY26", "37RCR 5314 0500", "500", "17")
    arabic = check_summary("٣ مركبات", "3 مركبات")
    assert arabic.unsupported == () and arabic.checked == ("3",)


def test_word_count() -> None:
    assert word_count("Trois BTR-82A vers le nord.") == 5
    assert word_count("") == 0
