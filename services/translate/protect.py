"""Do-not-translate tokens: what a translation must copy byte for byte.

Grids, DTGs and coordinates (the extract patterns), compact unit designations (``3e RIMa``,
``2nd Bn``), equipment designations (``BTR-82A``, ``Т-72Б3``, ``M777``, ``2S19``), radio
frequencies and callsigns, Latin all-caps acronyms, and the glossary's protected list. The
detectors are shared with the summary's faithfulness check, which needs the same notion of
"a unit or equipment name".
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Literal, NamedTuple

from services.extract.patterns import find_pattern_entities

__all__ = [
    "Span",
    "altered",
    "find_acronyms",
    "find_comms",
    "find_equipment",
    "find_unit_designations",
    "protected_spans",
    "protected_tokens",
    "resolve_spans",
]

SpanKind = Literal["pattern", "unit", "equipment", "comms", "acronym", "listed"]


class Span(NamedTuple):
    start: int
    end: int
    text: str
    kind: SpanKind


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

_FREQUENCY_RE = re.compile(
    rf"(?<![\w.,])[0-9]{{1,5}}(?:[.,][0-9]{{1,4}})?{_GAP}?(?:[kMG]Hz|Hz|МГц|кГц|ГГц)(?!\w)"
)
_CALLSIGN_RE = re.compile(
    r"(?i:\bcall[- ]?sign|\bindicatif|\bc/s|позывной|позивний)\s*[:«\"'“]?\s*"
    r"(?P<callsign>[A-Z0-9][A-Za-z0-9]*(?:[ -][0-9]{1,2}(?:-[0-9]{1,2})?)?)"
)

# Longer runs of capitals are words written in capitals (headings, emphasis), not acronyms.
_ACRONYM_RE = re.compile(r"(?<!\w)[A-Z]{2,8}(?!\w)")
# Capitalised headings of report formats (SALUTE, five-paragraph orders, TTA 150): words a
# translation renders, not acronyms. (Accented capitals never match the acronym pattern.)
_NOT_ACRONYMS = frozenset(
    [
        "SIZE",
        "ACTIVITY",
        "LOCATION",
        "UNIT",
        "TIME",
        "EQUIPMENT",
        "REMARKS",
        "SUBJECT",
        "DATE",
        "NOTE",
        "FROM",
        "TO",
        "INFO",
        "REF",
        "REFS",
        "REFERENCES",
        "ATTENTION",
        "URGENT",
        "SITUATION",
        "MISSION",
        "EXECUTION",
        "SUPPORT",
        "COMMAND",
        "SIGNAL",
        "ENEMY",
        "FRIENDLY",
        "FORCES",
        "STATUS",
        "SUMMARY",
        "REPORT",
        "MESSAGE",
        "END",
        "TEXT",
        "COMPTE",
        "RENDU",
        "RAPPORT",
        "OBJET",
        "REMARQUES",
        "ENNEMI",
        "AMIS",
        "MISSION",
        "LOGISTIQUE",
        "COMMANDEMENT",
        "TRANSMISSIONS",
        "OBSERVATION",
        "OBSERVATIONS",
        "FIN",
        "MESSAGE",
        "DESTINATAIRE",
        "EXPEDITEUR",
    ]
)
# Above this share of capitals among Latin letters the report is written in capitals: every
# word looks like an acronym, so only the listed tokens count.
_SHOUTING_SHARE = 0.7
_SHOUTING_MIN_LETTERS = 20


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


def find_comms(text: str) -> list[Span]:
    """Radio frequencies (``145.500 MHz``) and the callsign after "callsign"/"indicatif"."""
    spans = [Span(m.start(), m.end(), m.group(0), "comms") for m in _FREQUENCY_RE.finditer(text)]
    spans.extend(
        Span(m.start("callsign"), m.end("callsign"), m["callsign"], "comms")
        for m in _CALLSIGN_RE.finditer(text)
    )
    return spans


def find_acronyms(text: str) -> list[Span]:
    """Latin all-caps words of two to eight letters, unless the whole report is in capitals."""
    letters = [c for c in text if c.isascii() and c.isalpha()]
    capitals = sum(c.isupper() for c in letters)
    if len(letters) >= _SHOUTING_MIN_LETTERS and capitals > _SHOUTING_SHARE * len(letters):
        return []
    return [
        Span(m.start(), m.end(), m.group(0), "acronym")
        for m in _ACRONYM_RE.finditer(text)
        if m.group(0) not in _NOT_ACRONYMS
    ]


def protected_spans(text: str, extra: Sequence[str] = ()) -> list[Span]:
    """Every protected span of ``text``, by start; of overlapping ones the longest wins."""
    candidates: list[Span] = [
        Span(e.start, e.end, e.text, "pattern") for e in find_pattern_entities(text)
    ]
    candidates += find_unit_designations(text)
    candidates += find_equipment(text)
    candidates += find_comms(text)
    listed = _listed_regex(tuple(extra))
    if listed is not None:
        candidates += [
            Span(m.start(), m.end(), m.group(0), "listed") for m in listed.finditer(text)
        ]
    candidates += find_acronyms(text)
    return resolve_spans(candidates)


def resolve_spans(candidates: Iterable[Span]) -> list[Span]:
    """Longest first (earlier candidates win ties), no two overlapping, sorted by start."""
    ranked = sorted(enumerate(candidates), key=lambda it: (it[1].start - it[1].end, it[0]))
    # Kept spans never overlap, so sorted by start they are sorted by end too: only the last
    # one starting before a candidate ends can overlap it (O(n log n) on long reports).
    starts: list[int] = []
    kept: list[Span] = []
    for _, span in ranked:
        index = bisect.bisect_left(starts, span.end)
        if index > 0 and kept[index - 1].end > span.start:
            continue
        starts.insert(index, span.start)
        kept.insert(index, span)
    return kept


def protected_tokens(text: str, extra: Sequence[str] = ()) -> list[str]:
    """The tokens a translation of ``text`` must keep, by first occurrence, each once."""
    return list(dict.fromkeys(span.text for span in protected_spans(text, extra)))


def altered(tokens: Sequence[str], output: str) -> list[str]:
    """The tokens that do not appear, byte for byte, in ``output``."""
    output = unicodedata.normalize("NFC", output)
    return [token for token in tokens if token not in output]


@lru_cache(maxsize=32)
def _listed_regex(extra: tuple[str, ...]) -> re.Pattern[str] | None:
    tokens = sorted({t for t in extra if t.strip()}, key=len, reverse=True)
    if not tokens:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(t) for t in tokens) + r")(?!\w)")
