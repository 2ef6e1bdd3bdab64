"""The glossary: file format, errors with file:line, term matching per script, adherence."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.domain.languages import language_key
from services.translate.glossary import (
    Glossary,
    GlossaryError,
    GlossaryTerm,
    adherence,
)

SHIPPED = Glossary.default_directory()


@pytest.fixture(scope="module")
def shipped() -> Glossary:
    return Glossary.load(SHIPPED)


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def _sources(terms: list[GlossaryTerm]) -> list[str]:
    return [term.source for term in terms]


# ------------------------------------------------------------------ the shipped glossary


def test_every_shipped_file_loads_with_the_expected_pairs(shipped: Glossary) -> None:
    assert SHIPPED.is_dir()
    assert set(shipped.pairs) == {
        ("en", "fr"),
        ("ru", "fr"),
        ("uk", "fr"),
        ("ar", "fr"),
        ("fr", "en"),
    }
    for pair in shipped.pairs:
        assert 40 <= len(shipped.terms_for(*pair)) <= 90, pair


@pytest.mark.parametrize("path", sorted(SHIPPED.glob("*.tsv")), ids=lambda p: p.name)
def test_shipped_file_has_no_duplicate_source(path: Path) -> None:
    seen: dict[str, int] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        source, target = line.split("\t")
        assert target.strip(), f"{path.name}:{number}"
        for form in source.split("|"):
            key = form.strip().casefold()
            assert key not in seen, f"{path.name}:{number} repeats line {seen.get(key)}"
            seen[key] = number


@pytest.mark.parametrize("name", ["ru-fr.tsv", "uk-fr.tsv", "ar-fr.tsv"])
def test_non_latin_sources_hold_no_latin_lookalikes(name: str) -> None:
    # A Latin "i" or "o" typed inside a Cyrillic word would silently never match.
    for line in (SHIPPED / name).read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        source = line.split("\t")[0]
        assert not any("a" <= c.lower() <= "z" for c in source), source


def test_shipped_protected_list(shipped: Glossary) -> None:
    for token in ("SPOTREP", "SITREP", "INTREP", "MEDEVAC", "BTR", "BMP", "RIMa", "RCP", "REP"):
        assert token in shipped.protected
    for token in ("VBCI", "CAESAR", "MGRS", "DTG"):
        assert token in shipped.protected
    assert len(shipped.protected) == len(set(shipped.protected))


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("armoured personnel carrier", "véhicule blindé de transport de troupes"),
        ("infantry fighting vehicle", "véhicule de combat d'infanterie"),
        ("self-propelled gun", "canon automoteur"),
        ("patrol", "patrouille"),
        ("column", "colonne"),
        ("company", "compagnie"),
        ("battalion", "bataillon"),
        ("checkpoint", "point de contrôle"),
        ("ceasefire", "cessez-le-feu"),
        ("drone", "drone"),
        ("tank", "char"),
    ],
)
def test_english_terms_required_in_french(shipped: Glossary, source: str, target: str) -> None:
    terms = shipped.terms_in(f"The {source} was seen.", "en", "fr")
    assert [(t.source, t.target) for t in terms] == [(source, target)]


# ----------------------------------------------------------------------- file format


def test_format_forms_stems_and_accepted_targets(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "ru-fr.tsv",
        "# comment\n\nколонна|колонн*\tcolonne\nБПЛА\tdrone|UAV\n",
    )
    _write(tmp_path, "protected.txt", "# names\nRIMa\n\nBTR\nRIMa\n")
    glossary = Glossary.load(tmp_path)
    column, drone = glossary.terms_for("ru", "fr")
    assert column == GlossaryTerm("ru", "колонна", "fr", "colonne", ("колонна", "колонн*"), ())
    assert drone.targets == ("drone", "UAV")
    assert glossary.protected == ("RIMa", "BTR")


def test_missing_protected_list_is_empty(tmp_path: Path) -> None:
    _write(tmp_path, "en-fr.tsv", "tank\tchar\n")
    assert Glossary.load(tmp_path).protected == ()


@pytest.mark.parametrize(
    ("content", "line", "problem"),
    [
        ("tank\tchar\npatrol patrouille\n", 2, "found 1 tab-separated fields"),
        ("tank\tchar\textra\n", 1, "found 3"),
        ("\tchar\n", 1, "empty source term"),
        ("tank|\tchar\n", 1, "empty source term"),
        ("tank\t\n", 1, "empty target term"),
        ("tank\tchar\n# c\nTank\tblindé\n", 3, "already defined on line 1"),
        ("ta*nk\tchar\n", 1, "'*' only ends a word"),
        ("tank\tch*ar\n", 1, "source terms only"),
    ],
)
def test_malformed_line_names_file_and_line(
    tmp_path: Path, content: str, line: int, problem: str
) -> None:
    path = _write(tmp_path, "en-fr.tsv", content)
    with pytest.raises(GlossaryError) as caught:
        Glossary.load(tmp_path)
    assert caught.value.file == str(path)
    assert caught.value.line == line
    assert problem in caught.value.problem
    assert caught.value.recoverable is False
    assert str(caught.value).startswith(f"{path}:{line}: ")


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "en-fr.tsv").write_bytes(b"tank\tchar\npatrol\tpatrouille\xff\n")
    with pytest.raises(GlossaryError) as caught:
        Glossary.load(tmp_path)
    assert (caught.value.line, caught.value.problem) == (2, "not UTF-8")


@pytest.mark.parametrize("name", ["english-french.tsv", "fr-fr.tsv", "EN-FR.tsv"])
def test_bad_file_name(tmp_path: Path, name: str) -> None:
    _write(tmp_path, name, "tank\tchar\n")
    with pytest.raises(GlossaryError) as caught:
        Glossary.load(tmp_path)
    assert caught.value.line == 0


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(GlossaryError, match="no such glossary directory"):
        Glossary.load(tmp_path / "absent")


def test_tab_in_protected_token(tmp_path: Path) -> None:
    _write(tmp_path, "protected.txt", "RIMa\nBTR\tBMP\n")
    with pytest.raises(GlossaryError) as caught:
        Glossary.load(tmp_path)
    assert caught.value.line == 2


# --------------------------------------------------------------------------- matching


def test_english_longest_match_first_no_double_count(shipped: Glossary) -> None:
    text = "Artillery fire on the checkpoint; a main battle tank and two tanks withdrew."
    terms = shipped.terms_in(text, "en", "fr")
    assert _sources(terms) == ["artillery fire", "checkpoint", "main battle tank", "tank"]


def test_case_insensitive_and_word_boundaries(shipped: Glossary) -> None:
    assert _sources(shipped.terms_in("PATROL at the CHECKPOINT", "en", "fr")) == [
        "patrol",
        "checkpoint",
    ]
    # "tank" inside "tanker" or "battalions" inside a longer word is not the term.
    assert shipped.terms_in("the tanker stopped; sub-battalionsx", "en", "fr") == []


def test_hyphen_and_space_variants(shipped: Glossary) -> None:
    assert _sources(shipped.terms_in("self propelled gun", "en", "fr")) == ["self-propelled gun"]


def test_russian_inflections(shipped: Glossary) -> None:
    text = "INTREP: колонна из 6 Т-72Б3 и двух танков, БПЛА над батальоном."
    terms = shipped.terms_in(text, "ru", "fr")
    assert [(t.source, t.target) for t in terms] == [
        ("колонна", "colonne"),
        ("танк", "char"),
        ("БПЛА", "drone"),
        ("батальон", "bataillon"),
    ]


def test_russian_yo_and_ye_are_one_letter(shipped: Glossary) -> None:
    assert _sources(shipped.terms_in("замечен миномет", "ru", "fr")) == ["миномёт"]


def test_russian_multiword_stems(shipped: Glossary) -> None:
    text = "Замечены две боевые машины пехоты и самоходная артиллерийская установка."
    assert [t.target for t in shipped.terms_in(text, "ru", "fr")] == [
        "véhicule de combat d'infanterie",
        "canon automoteur",
    ]


def test_ukrainian(shipped: Glossary) -> None:
    text = "Спостерігач повідомляє: дві САУ біля 36U VA 55000 22000, колона з п'яти вантажівок."
    assert [(t.source, t.target) for t in shipped.terms_in(text, "uk", "fr")] == [
        ("спостерігач", "observateur"),
        ("САУ", "canon automoteur"),
        ("колона", "colonne"),
        ("вантажівка", "camion"),
    ]


def test_arabic_with_article_and_particles(shipped: Glossary) -> None:
    text = "دورية تفيد برصد ثلاث مركبات مدرعة قرب الجسر وبالدبابات عند نقطة التفتيش."
    terms = shipped.terms_in(text, "ar", "fr")
    assert [t.target for t in terms] == [
        "patrouille",
        "véhicule blindé",
        "pont",
        "char",
    ]


def test_arabic_hamza_and_diacritics_ignored(shipped: Glossary) -> None:
    assert [t.target for t in shipped.terms_in("حقل الغام", "ar", "fr")] == ["champ de mines"]
    assert [t.target for t in shipped.terms_in("دَبَّابَة", "ar", "fr")] == ["char"]


def test_french_into_english(shipped: Glossary) -> None:
    text = "La patrouille observe trois chars et des véhicules blindés de transport de troupes."
    assert [(t.source, t.target) for t in shipped.terms_in(text, "fr", "en")] == [
        ("patrouille", "patrol"),
        ("char", "tank"),
        ("véhicule blindé de transport de troupes", "armoured personnel carrier"),
    ]


def test_same_language_has_no_terms(shipped: Glossary) -> None:
    assert shipped.terms_in("La patrouille observe trois chars.", "fr", "fr") == []


def test_unknown_source_language_searches_every_glossary_into_the_target(
    shipped: Glossary,
) -> None:
    assert _sources(shipped.terms_in("колонна и patrol", None, "fr")) == ["колонна", "patrol"]
    assert _sources(shipped.terms_in("колонна", "und", "fr")) == ["колонна"]


def test_terms_listed_once_in_order_of_first_occurrence(shipped: Glossary) -> None:
    text = "patrol, tank, patrol, tank"
    assert _sources(shipped.terms_in(text, "en", "fr")) == ["patrol", "tank"]


def test_language_codes() -> None:
    assert language_key("FR") == "fr"
    assert language_key("fra") == "fr"
    assert language_key("en-GB") == "en"
    assert language_key(None) is None


# -------------------------------------------------------------------------- adherence


def test_adherence_followed_and_missed(shipped: Glossary) -> None:
    terms = shipped.terms_in("The patrol saw two tanks at the checkpoint.", "en", "fr")
    followed, missed = adherence(terms, "La Patrouille a vu deux CHARS au carrefour.")
    assert _sources(followed) == ["patrol", "tank"]
    assert _sources(missed) == ["checkpoint"]


def test_adherence_accepts_alternatives_and_plurals() -> None:
    term = GlossaryTerm("ru", "САУ", "fr", "canon automoteur", accepted_targets=("automoteur",))
    assert adherence([term], "deux canons automoteurs") == ([term], [])
    assert adherence([term], "deux automoteurs") == ([term], [])
    assert adherence([term], "deux canons") == ([], [term])


def test_adherence_is_on_word_boundaries() -> None:
    term = GlossaryTerm("en", "tank", "fr", "char")
    assert adherence([term], "un charriot") == ([], [term])
    assert adherence([term], "un char.") == ([term], [])
