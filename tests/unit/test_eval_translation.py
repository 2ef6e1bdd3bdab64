"""Translation measures (services/evaluation/translation.py), on plain values."""

from __future__ import annotations

from services.evaluation.gold import GoldTerm
from services.evaluation.translation import (
    chrf,
    judge_language,
    judgeable,
    protected_counts,
    py3langid_identifier,
    term_followed,
)


def test_chrf_is_corpus_level_with_its_signature() -> None:
    perfect = chrf(["le chat est noir"], ["le chat est noir"])
    assert perfect is not None and perfect.score == 100.0 and perfect.segments == 1
    assert perfect.signature.startswith("nrefs:1|case:mixed|eff:yes|nc:6|nw:0")
    worse = chrf(["le chat est noir", ""], ["le chat est noir", "le chien est blanc"])
    assert worse is not None and 0 < worse.score < 100
    assert chrf([], []) is None


def test_a_term_is_followed_on_word_boundaries_plural_allowed() -> None:
    armoured = GoldTerm("مركبات مدرعة", "véhicule blindé")
    assert term_followed(armoured, "3 véhicules blindés de type VAB")
    assert term_followed(armoured, "Véhicule Blindé")
    assert not term_followed(armoured, "3 blindés")
    company = GoldTerm("рота", "compagnie")
    assert term_followed(company, "la 2e compagnie et les compagnies")
    assert not term_followed(GoldTerm("батальон", "bataillon"), "bataillonnaire")
    assert term_followed(
        GoldTerm("БМП", "véhicule de combat d'infanterie"), "un véhicule de combat d’infanterie"
    )
    assert term_followed(GoldTerm("x", "poste-frontière"), "le poste frontière")


def test_protected_tokens_count_with_multiplicity() -> None:
    counts = protected_counts(
        ["BTR-82A", "31U DQ 48251 11932", "BTR-82A"],
        "2 BTR-82A at 31U DQ 48251 11932, then 1 BTR-82A",
        "2 BTR-82A en 31U DQ 48251 11932, puis 1 BTR 82A",
    )
    assert [(c.token, c.in_source, c.in_output, c.kept, c.lost) for c in counts] == [
        ("BTR-82A", 2, 1, 1, 1),
        ("31U DQ 48251 11932", 1, 1, 1, 0),
    ]


def test_an_output_too_short_to_judge_is_not_judged() -> None:
    def never(text: str) -> str:
        raise AssertionError("not to be called")

    assert judgeable("SPOTREP 251430ZNOV26 2 BTR-82A", ["BTR-82A"]) == "SPOTREP"
    assert judge_language("SPOTREP 251430ZNOV26: 2 BTR-82A", never) is None


def test_language_is_judged_on_the_words() -> None:
    seen: list[str] = []

    def identify(text: str) -> str:
        seen.append(text)
        return "fr"

    assert judge_language("La patrouille a observé 3 BTR-82A vers le nord.", identify) == "fr"
    assert seen == ["La patrouille a observé vers le nord."]


def test_py3langid_tells_the_gold_languages_apart() -> None:
    identify = py3langid_identifier()
    assert identify("La patrouille a observé une colonne ennemie près du pont.") == "fr"
    assert identify("The patrol observed an enemy column near the bridge.") == "en"
    assert identify("Патруль заметил колонну противника у моста.") == "ru"
