"""Unit designations (``3e RIMa``, ``1er RCP``, ``2nd Bn``) and equipment designations
(``BTR-82A``, ``Т-72Б3``, ``M777``, ``2S19``).

What a translation must copy unchanged and what a summary must not invent: the translation's
protected tokens and the summary's faithfulness check share these finders. Pure (standard
library and ``services.domain.spans`` only), so either task can use them.
"""

from __future__ import annotations

import re

from services.domain.spans import Span

__all__ = ["find_equipment", "find_unit_designations", "find_unit_names"]

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


# Units written as armies write them in English formats. A sub-unit: its letter and its type
# ("B Coy", "C SQN", "A CO"). A numbered unit: a number ("2", "282ND", "8/9", "1-66"), maybe
# arm words, then its type ("2 MECH INF BN", "8/9 RAR", "2-8 CAV", "2 RIFLES BG"). A bare number
# before a bare type is a count ("2 BN" may be two battalions): it needs an arm word, or a type
# that is one unit's name (a national battalion: "1 ESTBAT").
_SUBUNIT_RE = re.compile(rf"(?<![\w/-])[A-H]{_GAP}(?:Coy|COY|Sqn|SQN|Bty|BTY|Tp|TP|CO)(?![\w-])")
_ARMS = "MECH|INF|ARMD|ARMOURED|RIFLES|ENGR|ARTY|RECCE|LOG|SIG|MED|AVN|ABN|AIRBORNE|CBT|SPT|FD"
_UNIT_TYPES = "BN|BDE|BG|RGT|REGT|RAR|CAV|AR|DIV|SQN|COY|BTY|Bn|Bde|Regt|Sqn|Coy"
_NATIONAL_BATTALION = "[A-Z]{3,4}BAT"
# A slash may stand before or after it: message-text fields ("MSGID/SITREP/2 MECH INF BN/0231").
_NUMBERED_UNIT_RE = re.compile(
    r"(?<![\w.,-])(?<![0-9]/)(?:"
    rf"(?:[0-9]{{1,2}}[/-][0-9]{{1,3}}|[0-9]{{1,3}}(?:ST|ND|RD|TH|st|nd|rd|th)){_GAP}"
    rf"(?:(?:{_ARMS}){_GAP}){{0,2}}(?:{_UNIT_TYPES})"
    rf"|[0-9]{{1,3}}{_GAP}(?:(?:(?:{_ARMS}){_GAP}){{1,2}}(?:{_UNIT_TYPES})|{_NATIONAL_BATTALION})"
    r")(?![\w-])"
)


def find_unit_names(text: str) -> list[Span]:
    """Units written out: ``B Coy``, ``C SQN``, ``2 MECH INF BN``, ``8/9 RAR``, ``1 ESTBAT``."""
    return [
        Span(m.start(), m.end(), m.group(0), "unit")
        for regex in (_SUBUNIT_RE, _NUMBERED_UNIT_RE)
        for m in regex.finditer(text)
    ]


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
