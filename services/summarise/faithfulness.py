"""Is every checkable fact of a summary in its sources?

Checkable facts: numbers, DTGs, MGRS grids, lat/long positions, unit designations and
equipment designations — what an analyst acts on and what a model invents most readily. Each
is compared in a normalised form, so a faithful paraphrase passes ("1 200" and "1200", a DTG
with or without spaces, ``T-72B3`` and ``Т-72Б3``, ``3e RIMa`` and ``3rd RIMa``) while a figure,
a time, a place or a unit the sources never state is reported.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from schemas.v1 import Flag, Quality
from services.domain.designations import find_equipment, find_unit_designations
from services.domain.patterns import find_pattern_entities
from services.domain.quantities import (
    ascii_digits,
    find_numbers,
    number_value,
    number_word_values,
)
from services.domain.spans import Span, overlaps, resolve_overlaps
from services.tasks.text import flag_items

__all__ = ["FaithfulnessReport", "check_faithfulness", "summary_check"]


@dataclass(frozen=True)
class FaithfulnessReport:
    """The summary's checkable facts (as written, each once) and those no source supports."""

    checked: tuple[str, ...]
    unsupported: tuple[str, ...]

    @property
    def faithful(self) -> bool:
        return not self.unsupported


def check_faithfulness(
    summary: str, sources: Sequence[str], languages: Sequence[str | None] = ()
) -> FaithfulnessReport:
    """Check ``summary`` against ``sources`` (the report, and its translation when there is
    one: a fact in either is supported).

    ``languages`` gives each source's language (None or missing: unknown): a number written in
    words supports a figure only in its own language's numerals ("sept" is 7 in French, not in
    English), every language's when unknown; an article never does ("un char" is no count)."""
    support = _Support.of(sources, languages)
    checked: dict[str, bool] = {}
    for text, key in _facts(unicodedata.normalize("NFC", summary)):
        checked[text] = checked.get(text, True) and support.supports(key)
    return FaithfulnessReport(
        checked=tuple(checked),
        unsupported=tuple(text for text, supported in checked.items() if not supported),
    )


def summary_check(
    summary: str, sources: Sequence[str], languages: Sequence[str | None] = ()
) -> tuple[Quality, list[Flag]]:
    """The faithfulness counts, and an ``unfaithful_summary`` flag naming what is unsupported."""
    report = check_faithfulness(summary, sources, languages)
    quality = Quality(facts_checked=len(report.checked), facts_unsupported=len(report.unsupported))
    flags: list[Flag] = []
    if report.unsupported:
        flags.append(
            Flag(
                code="unfaithful_summary",
                detail=f"{len(report.unsupported)} of {len(report.checked)} facts of the "
                "summary are not in the report",
                task="summarise",
                items=flag_items(report.unsupported),
            )
        )
    return quality, flags


# ----------------------------------------------------------------------------- facts

_CYRILLIC_TO_LATIN = str.maketrans(
    {
        **dict(zip("абвгґдеёєзиіїйклмнопрстуфыэ", "abvggdeeeziiiiklmnoprstufye", strict=True)),
        "ж": "zh",
        "х": "kh",
        "ц": "ts",
        "ч": "ch",
        "ш": "sh",
        "щ": "shch",
        "ю": "yu",
        "я": "ya",
        "ъ": "",
        "ь": "",
    }
)
_ORDINAL = re.compile(
    r"^(?:(?P<first>1er|1re|1ère)|(?P<digits>[0-9]+)\D*?)[ \u00a0\u202f]?(?=[A-Z])"
)


def _number_key(written: str) -> str:
    """A number's comparison key: "1 200", "1,200" and "1200" are one fact."""
    return "num:" + number_value(written)


def _unit_key(written: str) -> str:
    match = _ORDINAL.match(written)
    if match is None:
        return "unit:" + _compact(written)
    number = "1" if match["first"] else match["digits"]
    return f"unit:{number}{_compact(written[match.end() :])}"


def _compact(text: str) -> str:
    """Case, spaces, hyphens and Cyrillic/Latin script no longer matter."""
    folded = unicodedata.normalize("NFC", text).casefold().translate(_CYRILLIC_TO_LATIN)
    return re.sub(r"[\s\-\u2010\u2011/.]", "", folded)


def _structured(text: str) -> list[tuple[Span, str]]:
    """Spans of DTGs, grids, positions, units and equipment, each with its comparison key."""
    spans: list[tuple[Span, str]] = []
    for entity in find_pattern_entities(text):
        span = Span(entity.start, entity.end, entity.text, "pattern")
        if entity.type == "DateTime":
            spans.append((span, "dtg:" + (entity.value or _compact(entity.text))))
        elif entity.form == "mgrs":
            spans.append((span, "mgrs:" + (entity.value or _compact(entity.text))))
        else:
            spans.append((span, "pos:" + (entity.value or _compact(entity.text))))
    spans += [(s, _unit_key(s.text)) for s in find_unit_designations(text)]
    spans += [(s, "equip:" + _compact(s.text)) for s in find_equipment(text)]
    key_of = {span: key for span, key in spans}
    kept = resolve_overlaps((span for span, _ in spans), ties="input_order")
    return [(span, key_of[span]) for span in kept]


def _facts(summary: str) -> Iterable[tuple[str, str]]:
    """(fact as written, comparison key) in order of appearance."""
    structured = _structured(summary)
    facts = [(span.start, span.text, key) for span, key in structured]
    covered = [span for span, _ in structured]
    for number in find_numbers(summary):
        if not any(overlaps(number, span) for span in covered):
            facts.append((number.start, number.text, _number_key(number.text)))
    facts.sort(key=lambda fact: fact[0])
    return [(text, key) for _, text, key in facts]


@dataclass(frozen=True)
class _Support:
    keys: frozenset[str]
    #: Each source compacted (see :func:`_compact`): a designation the detectors split
    #: differently still counts when the source writes it out.
    compact_sources: tuple[str, ...]
    #: The sources' grids as (zone, band and square; easting; northing).
    grids: tuple[tuple[str, str, str], ...]

    @classmethod
    def of(cls, sources: Sequence[str], languages: Sequence[str | None] = ()) -> _Support:
        keys: set[str] = set()
        grids: list[tuple[str, str, str]] = []
        for index, source in enumerate(sources):
            language = languages[index] if index < len(languages) else None
            text = ascii_digits(unicodedata.normalize("NFC", source))
            for span, key in _structured(text):
                keys.add(key)
                if key.startswith("dtg:"):
                    keys.update(_dtg_parts(span.text))
                elif key.startswith("mgrs:"):
                    grid = _grid(key)
                    if grid is not None:
                        grids.append(grid)
            # Numbers anywhere, even inside a designation or a grid, and written in words:
            # "колонна из 6 Т-72Б3" supports "6", "trois BTR-82A" supports "3". Supporting
            # evidence is looked for generously (numbers glued to letters too), facts are
            # extracted strictly; the summary's own numbers are checked in digits only.
            keys.update(_number_key(n.text) for n in find_numbers(text, glued=True))
            keys.update(_number_key(m.group(0)) for m in re.finditer(r"[0-9]+", text))
            keys.update(f"num:{value}" for value in number_word_values(text, language))
        compact = tuple(_compact(source) for source in sources)
        return cls(frozenset(keys), compact, tuple(grids))

    def supports(self, key: str) -> bool:
        if key in self.keys:
            return True
        kind, _, value = key.partition(":")
        if kind == "equip" and value:
            return any(value in source for source in self.compact_sources)
        if kind == "mgrs":
            # A grid truncated to a lower precision is the same place (doctrine truncates).
            grid = _grid(key)
            return grid is not None and any(
                grid[0] == square and easting.startswith(grid[1]) and northing.startswith(grid[2])
                for square, easting, northing in self.grids
            )
        return False


def _grid(key: str) -> tuple[str, str, str] | None:
    match = re.fullmatch(r"mgrs:([0-9]{1,2}[A-Z]{3})([0-9]*)", key)
    if match is None:
        return None
    digits = match[2]
    half = len(digits) // 2
    return match[1], digits[:half], digits[half:]


def _dtg_parts(written: str) -> set[str]:
    """A DTG supports its day, hour, minute and year quoted apart ("le 25 à 14h30")."""
    digits = re.findall(r"[0-9]+", written)
    if not digits:
        return set()
    head = "".join(digits[:2]) if len(digits[0]) < 6 else digits[0]
    parts = {head[0:2], head[2:4], head[4:6], head[2:6]}
    if len(head) >= 8:
        parts.add(head[6:8])
    if len(digits) > 1 and len(digits[-1]) in (2, 4) and digits[-1] != digits[0]:
        year = digits[-1]
        parts |= {year, f"20{year}"} if len(year) == 2 else {year, year[2:]}
    return {_number_key(part) for part in parts if part}
