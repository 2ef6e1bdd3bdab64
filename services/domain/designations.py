"""Unit designations (``3e RIMa``, ``1er RCP``, ``2nd Bn``) and equipment designations
(``BTR-82A``, ``Т-72Б3``, ``M777``, ``2S19``).

What a translation must copy unchanged and what a summary must not invent: the translation's
protected tokens and the summary's faithfulness check share these finders. Pure (standard
library and ``services.domain.spans`` only), so either task can use them.
"""

from __future__ import annotations

import re

from services.domain.spans import Span

__all__ = ["find_equipment", "find_unit_designations"]

_GAP = "[ \u00a0\u202f]"
_HYPHEN = "[-\u2010\u2011]"
_CYR_UPPER = "А-ЯЁІЇЄҐ"
_CYR_ALL = "А-Яа-яЁёІіЇїЄєҐґ"

# French ordinals (1er, 1re, 2e, 3ème, 2nde) and English ones (1st, 2nd, 3rd, 4th) followed by
# an abbreviation: capital first, at most six letters ("RIMa", "RPIMa", "BP", "Bn", "Cie").
# Full words ("Armored Division", "compagnie") are prose the translation may render.
_UNIT_RE = re.compile(
    r"(?<!\w)(?P<ordinal>1er|1re|1ère|[0-9]{1,3}(?:e|è|ème|eme|de|nde|st|nd|rd|th))"
    rf"{_GAP}?(?P<abbrev>[A-Z][A-Za-z]{{1,5}})(?!\w)"
)
# Ordinal + month reads as a date ("1er Mai", "5th May"), not a unit.
_NOT_UNITS = frozenset(
    [
        "Jan",
        "Feb",
        "Mar",
        "Apr",
        "May",
        "Jun",
        "Jul",
        "Aug",
        "Sep",
        "Sept",
        "Oct",
        "Nov",
        "Dec",
        "June",
        "July",
        "Janv",
        "Fev",
        "Févr",
        "Mars",
        "Avr",
        "Mai",
        "Juin",
        "Juil",
        "Août",
        "Aout",
    ]
)

# Designations: letters then hyphenated parts, one with a digit (BTR-82A, T-72B3, Т-72Б3,
# Ural-4320, ZU-23-2, GS-R7); letters glued to digits (M777, M109A6, TB2); digit-letter-digits
# (2S19, 9K33). A hyphenated name without a digit (Saint-Lô) is prose.
_EQUIPMENT_RE = re.compile(
    rf"(?<!\w)(?:[A-Z{_CYR_UPPER}][A-Za-z{_CYR_ALL}]{{0,7}}"
    rf"(?:{_HYPHEN}[A-Za-z{_CYR_ALL}0-9]{{1,6}}){{1,2}}"
    rf"|[A-Z{_CYR_UPPER}]{{1,4}}[0-9]{{1,4}}[A-Z{_CYR_UPPER}0-9]{{0,4}}"
    rf"|[0-9][A-Z{_CYR_UPPER}][0-9]{{1,3}}[A-Z{_CYR_UPPER}0-9]{{0,3}})(?!\w)"
)


def find_unit_designations(text: str) -> list[Span]:
    """Compact unit designations: ``3e RIMa``, ``1er RCP``, ``11e BP``, ``2nd Bn``."""
    return [
        Span(m.start(), m.end(), m.group(0), "unit")
        for m in _UNIT_RE.finditer(text)
        if m["abbrev"] not in _NOT_UNITS
    ]


def find_equipment(text: str) -> list[Span]:
    """Equipment designations: ``BTR-82A``, ``T-72B3``, ``Т-72Б3``, ``M777``, ``2S19``."""
    return [
        Span(m.start(), m.end(), m.group(0), "equipment")
        for m in _EQUIPMENT_RE.finditer(text)
        if any(c.isdigit() for c in m.group(0))
    ]
