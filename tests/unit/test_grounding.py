"""Grounding: a model entity survives only located in the report, as the report's own slice."""

from __future__ import annotations

import random

import pytest

from schemas.v1 import Entity, EntityType, Flag, Quality
from services.extract.grounding import Grounding, ground, grounding_quality
from services.extract.model import ENTITY_TYPES, ProposedEntity

FR = (
    "COMPTE RENDU — 3e RIMa, 2e compagnie.\n"
    "Le 251430ZNOV26, la patrouille observe trois BTR-82A en mouvement vers le nord, "
    "position 31U DQ 48251 11932. Aucun tir. Demande de consignes."
)
RU = "INTREP: колонна из 6 Т-72Б3 замечена в 37U DQ 12345 67890 в 260600ZNOV26, движется на запад."
AR = "دورية تفيد برصد ثلاث مركبات مدرعة عند 38S MB 11111 22222 الساعة 251900ZNOV26."


def _p(kind: EntityType, text: str) -> ProposedEntity:
    return ProposedEntity(type=kind, text=text)


def _assert_sliced(grounding: Grounding, text: str) -> None:
    for entity in grounding.entities:
        assert text[entity.start : entity.end] == entity.text
        assert entity.source == "model"


def test_exact_match() -> None:
    g = ground([_p("Unit", "3e RIMa"), _p("MilitaryPlatform", "BTR-82A")], FR)
    _assert_sliced(g, FR)
    assert [(e.type, e.text, e.start) for e in g.entities] == [
        ("Unit", "3e RIMa", FR.index("3e RIMa")),
        ("MilitaryPlatform", "BTR-82A", FR.index("BTR-82A")),
    ]
    assert g.dropped == [] and g.repeated == 0


def test_case_insensitive_match_keeps_the_source_text() -> None:
    g = ground([_p("Unit", "3E RIMA"), _p("Quantity", "Trois")], FR)
    _assert_sliced(g, FR)
    assert [e.text for e in g.entities] == ["3e RIMa", "trois"]


def test_whitespace_flexible_match_keeps_the_source_text() -> None:
    text = "Position 31U  DQ\n48251 11932, unité 2e\u00a0compagnie."
    g = ground([_p("Location", "31U DQ 48251 11932"), _p("Unit", "2e compagnie")], text)
    _assert_sliced(g, text)
    assert [e.text for e in g.entities] == ["31U  DQ\n48251 11932", "2e\u00a0compagnie"]


def test_dash_and_apostrophe_variants() -> None:
    text = "Deux BTR\u201182A à l\u2019est d\u2019Avdiivka."
    g = ground([_p("MilitaryPlatform", "BTR-82A"), _p("Location", "d'Avdiivka")], text)
    _assert_sliced(g, text)
    assert [e.text for e in g.entities] == ["BTR\u201182A", "d\u2019Avdiivka"]


def test_surrounding_whitespace_of_a_proposal_is_ignored() -> None:
    g = ground([_p("Unit", "  3e RIMa \n")], FR)
    assert [e.text for e in g.entities] == ["3e RIMa"]


def test_repeated_text_each_proposal_takes_the_next_occurrence() -> None:
    text = "Deux T-72 au nord, deux T-72 au sud, et un T-72 à l'est."
    g = ground([_p("MilitaryPlatform", "T-72")] * 3, text)
    _assert_sliced(g, text)
    assert [e.start for e in g.entities] == [
        text.index("T-72"),
        text.index("T-72", text.index("T-72") + 1),
        text.rindex("T-72"),
    ]


def test_same_span_may_hold_two_types() -> None:
    text = "Observed 2 Russian T-90M."
    g = ground([_p("Nationality", "Russian"), _p("Organisation", "Russian")], text)
    assert [(e.type, e.start) for e in g.entities] == [
        ("Nationality", 11),
        ("Organisation", 11),
    ]


def test_a_proposal_repeated_more_often_than_the_text_has_it_is_one_entity() -> None:
    g = ground([_p("Unit", "3e RIMa"), _p("Unit", "3e RIMa"), _p("Unit", "3E RIMA")], FR)
    assert len(g.entities) == 1 and g.dropped == [] and g.repeated == 2
    quality, flags = grounding_quality(g)
    assert quality == Quality(entities_proposed=3, entities_grounded=3)
    assert flags == []


def test_exact_occurrence_preferred_over_a_case_variant() -> None:
    text = "KHARKIV: patrouille partie de Kharkiv."
    g = ground([_p("Location", "Kharkiv")], text)
    assert g.entities[0].start == text.rindex("Kharkiv")
    g = ground([_p("Location", "Kharkiv"), _p("Location", "Kharkiv")], text)
    assert sorted(e.text for e in g.entities) == ["KHARKIV", "Kharkiv"]


def test_whole_word_preferred_over_a_match_inside_a_word() -> None:
    text = "Convoi vers Uralsk: deux Ural chargés."
    g = ground([_p("MilitaryPlatform", "Ural")], text)
    assert g.entities[0].start == text.index("Ural ")


def test_a_match_inside_a_word_is_still_found() -> None:
    # Arabic attaches "ب" (at/with) to the noun: "برصد" holds "رصد".
    g = ground([_p("Quantity", "ثلاث"), _p("Location", "رصد")], AR)
    _assert_sliced(g, AR)
    assert len(g.entities) == 2


def test_not_found_is_dropped_and_flagged() -> None:
    proposals = [
        _p("Unit", "3e RIMa"),
        _p("Person", "Colonel Dupont"),
        _p("MilitaryPlatform", "T-80"),
        _p("Person", "Colonel Dupont"),
    ]
    g = ground(proposals, FR)
    assert [e.text for e in g.entities] == ["3e RIMa"]
    assert g.dropped == proposals[1:]
    quality, flags = grounding_quality(g)
    assert quality == Quality(entities_proposed=4, entities_grounded=1)
    assert flags == [
        Flag(
            code="entities_dropped",
            detail=flags[0].detail,
            task="extract",
            items=["Colonel Dupont", "T-80"],
        )
    ]
    assert "3 entities" in flags[0].detail


@pytest.mark.parametrize("text", ["", " ", "\n\t", "\u3000"])
def test_blank_proposals_are_dropped(text: str) -> None:
    g = ground([_p("Unit", text)], FR)
    assert g.entities == [] and len(g.dropped) == 1
    _, flags = grounding_quality(g)
    assert flags[0].items == ["(blank)"]


def test_proposal_longer_than_the_text_is_dropped() -> None:
    g = ground([_p("Location", "Kharkiv oblast")], "Kharkiv")
    assert g.entities == [] and len(g.dropped) == 1


def test_nothing_proposed() -> None:
    g = ground([], FR)
    assert g == Grounding(entities=[], dropped=[])
    assert grounding_quality(g) == (Quality(entities_proposed=0, entities_grounded=0), [])


def test_empty_text() -> None:
    g = ground([_p("Unit", "3e RIMa")], "")
    assert g.entities == [] and len(g.dropped) == 1


def test_regex_characters_in_a_proposal_are_literal() -> None:
    text = "Frequency 45.250 MHz (primary), callsign [VIPER] 6*."
    g = ground(
        [
            _p("CommsIdentifier", "45.250 MHz"),
            _p("CommsIdentifier", "[VIPER] 6*"),
            _p("CommsIdentifier", "45x250"),
        ],
        text,
    )
    _assert_sliced(g, text)
    assert [e.text for e in g.entities] == ["45.250 MHz", "[VIPER] 6*"]
    assert [p.text for p in g.dropped] == ["45x250"]


def test_cyrillic() -> None:
    g = ground([_p("MilitaryPlatform", "т-72б3"), _p("Quantity", "6"), _p("Location", "ЗАПАД")], RU)
    _assert_sliced(g, RU)
    assert [e.text for e in g.entities] == ["6", "Т-72Б3", "запад"]


def test_arabic() -> None:
    g = ground([_p("MilitaryPlatform", "مركبات مدرعة"), _p("Location", "دمشق")], AR)
    _assert_sliced(g, AR)
    assert [e.text for e in g.entities] == ["مركبات مدرعة"]
    assert [p.text for p in g.dropped] == ["دمشق"]


def test_offsets_are_code_points_after_astral_characters() -> None:
    text = "📡 Relais 🛰 capté: 3e RIMa à Kharkiv."
    g = ground([_p("Unit", "3e RIMa"), _p("Location", "kharkiv")], text)
    _assert_sliced(g, text)
    assert g.entities[0].start == text.index("3e RIMa")


def test_entities_are_sorted_by_span() -> None:
    g = ground([_p("MilitaryPlatform", "BTR-82A"), _p("Unit", "3e RIMa")], FR)
    assert [e.start for e in g.entities] == sorted(e.start for e in g.entities)
    assert all(isinstance(e, Entity) for e in g.entities)


def test_flag_items_are_bounded() -> None:
    proposals = [_p("Person", f"Inconnu numéro {i} " + "x" * 200) for i in range(50)]
    _, flags = grounding_quality(ground(proposals, FR))
    assert len(flags[0].items) == 32
    assert all(len(item) <= 80 for item in flags[0].items)


# --- property: whatever is proposed, an entity is always the source slice -------------------------
# hypothesis is not a dev dependency; a seeded generator explores the same space reproducibly.

_ALPHABET = "aAbBéÉ Tt-‑'’\n\u00a0ЖжяЯمرك5 .\u200b🛰"


def _random_text(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(n))


def _mutated(rng: random.Random, text: str) -> str:
    """A piece of ``text`` as a model might misquote it: case, spacing, dashes changed."""
    if not text:
        return _random_text(rng, rng.randint(0, 4))
    start = rng.randrange(len(text))
    piece = text[start : start + rng.randint(0, 12)]
    choice = rng.randrange(5)
    if choice == 0:
        return piece.upper()
    if choice == 1:
        return " ".join(piece.split())
    if choice == 2:
        return piece.replace("-", "\u2011").replace("'", "\u2019")
    if choice == 3:
        return _random_text(rng, rng.randint(0, 6))
    return piece


@pytest.mark.parametrize("seed", range(20))
def test_property_entities_are_always_the_source_slice(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(50):
        text = _random_text(rng, rng.randint(0, 60))
        proposals = [
            _p(rng.choice(ENTITY_TYPES), _mutated(rng, text)) for _ in range(rng.randint(0, 8))
        ]
        g = ground(proposals, text)
        _assert_sliced(g, text)
        spans = [(e.type, e.start, e.end) for e in g.entities]
        assert len(spans) == len(set(spans))
        assert all(e.end > e.start for e in g.entities)
        assert len(g.entities) + g.repeated + len(g.dropped) == len(proposals)
        quality, _ = grounding_quality(g)
        assert quality.entities_proposed == len(proposals)


# --- word boundaries: a whole word, or an Arabic word after its clitic; nothing inside a word ---


def _reasons(g: Grounding) -> str:
    _, flags = grounding_quality(g)
    return flags[0].detail if flags else ""


def test_a_match_inside_a_word_is_refused() -> None:
    text = "Enemy patrol sighted near the bridge at dawn."
    g = ground([_p("Unit", "en"), _p("Location", "ridge")], text)
    assert g.entities == []
    assert [p.text for p in g.dropped] == ["en", "ridge"]
    assert "2 only inside a longer word" in _reasons(g)


def test_a_match_ending_inside_a_word_is_refused() -> None:
    # "T-72" is not the "T-72B3" the report names, nor "Харьков" its "Харькова".
    text = "Колонна Т-72Б3 вышла из Харькова."
    g = ground([_p("MilitaryPlatform", "Т-72"), _p("Location", "Харьков")], text)
    assert g.entities == [] and len(g.dropped) == 2


def test_a_whole_word_later_in_the_text_is_taken_and_the_inner_match_never() -> None:
    text = "Enemy column; en route to the bridge."
    g = ground([_p("Location", "en")], text)
    assert [(e.text, e.start) for e in g.entities] == [("en", text.index("en route"))]


AR_CLITICS = (
    "وصلت القافلة إلى الجسر عند الفجر وبالقرب من المعبر شوهدت دبابتان، وللجنود ذخيرة "
    "تكفي بـ1500 طلقة و٢٤ قذيفة، ثم عبرت بالجسر."
)


def test_arabic_whole_word() -> None:
    g = ground([_p("Location", "المعبر"), _p("Location", "الجسر")], AR_CLITICS)
    _assert_sliced(g, AR_CLITICS)
    # The whole word "الجسر" before the clitic-prefixed one ("بالجسر") later in the text.
    assert [(e.text, e.start) for e in g.entities] == [
        ("الجسر", AR_CLITICS.index(" الجسر") + 1),
        ("المعبر", AR_CLITICS.index("المعبر")),
    ]


@pytest.mark.parametrize(
    ("proposal", "word"),
    [
        ("القرب", "وبالقرب"),  # و + ب
        ("قرب", "وبالقرب"),  # و + بال
        ("جنود", "وللجنود"),  # و + لل
        ("1500", "بـ1500"),  # ب and a tatweel before digits
        ("٢٤", "و٢٤"),
    ],
)
def test_arabic_clitic_prefixed_match_is_accepted_without_the_clitic(
    proposal: str, word: str
) -> None:
    kind: EntityType = "Quantity" if proposal[0].isdigit() else "Location"
    g = ground([_p(kind, proposal)], AR_CLITICS)
    _assert_sliced(g, AR_CLITICS)
    [entity] = g.entities
    assert entity.text == proposal
    assert entity.end == AR_CLITICS.index(word) + len(word)


def test_arabic_arbitrary_match_inside_a_word_is_refused() -> None:
    # "عبر" inside "المعبر" follows "الم", no clitic; "دباب" ends inside "دبابتان".
    text = "شوهدت دبابتان قرب المعبر."
    g = ground([_p("Location", "عبر"), _p("MilitaryPlatform", "دباب")], text)
    assert g.entities == [] and len(g.dropped) == 2
    assert "2 only inside a longer word" in _reasons(g)


# --- type plausibility -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("Quantity", "patrouilles"),
        ("Quantity", "les"),  # an article, and no count
        ("DateTime", "patrouilles"),
        ("CommsIdentifier", "nord"),
    ],
)
def test_an_implausible_proposal_is_dropped_with_the_reason(kind: EntityType, text: str) -> None:
    g = ground([_p(kind, text)], "Le 3e RIMa : les patrouilles parties vers le nord.")
    assert g.entities == [] and [p.text for p in g.dropped] == [text]
    detail = _reasons(g)
    assert "1 implausible for its type" in detail and kind in detail


@pytest.mark.parametrize(
    ("kind", "text", "source"),
    [
        ("Quantity", "trois", FR),
        ("Quantity", "un", "Évacuer un blessé."),  # the numeral one, as the gold set has it
        ("Quantity", "une quinzaine", "Environ une quinzaine de fantassins."),
        ("Quantity", "Пара", "Пара БМП біля мосту."),
        ("Quantity", "6", RU),
        ("Quantity", "ثلاث", AR),
        ("Quantity", "الثلاث", "عبرت الثلاث دبابات"),  # a number word after its article
        ("Quantity", "٢٤", "و٢٤ قذيفة"),
        ("DateTime", "251430ZNOV26", FR),
        ("DateTime", "jeudi", "Attaque prévue jeudi à l'aube."),
        ("CommsIdentifier", "VIPER", "Indicatif VIPER sur le réseau."),
        ("CommsIdentifier", "Сокол", "Позывной Сокол на связи."),
        ("CommsIdentifier", "صقر", "النداء صقر على الشبكة."),  # a script without capitals
        ("CommsIdentifier", "channel 16", "Warned on channel 16."),
        ("Location", "nord", FR),  # no rule for places, units, people...
    ],
)
def test_plausible_proposals_are_kept(kind: EntityType, text: str, source: str) -> None:
    g = ground([_p(kind, text)], source)
    assert [e.text for e in g.entities] == [text], g.dropped


def test_dropped_reasons_are_counted_apart() -> None:
    g = ground(
        [
            _p("Unit", "3e RIMa"),
            _p("Person", "Colonel Dupont"),
            _p("Unit", "RIM"),
            _p("Quantity", "patrouille"),
        ],
        FR,
    )
    assert [e.text for e in g.entities] == ["3e RIMa"]
    detail = _reasons(g)
    assert detail.startswith("3 entities proposed by the model were dropped")
    for reason in ("1 not in the report text", "1 only inside a longer word", "1 implausible"):
        assert reason in detail
    quality, _ = grounding_quality(g)
    assert quality == Quality(entities_proposed=4, entities_grounded=1)
