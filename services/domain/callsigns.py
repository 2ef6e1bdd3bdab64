"""Names a report gives to people and things on the ground: callsigns written without their
"callsign" word (``RAVEN 3``, ``SABRE 2-2``, ``Hotel Two Two``), exercise and operation names
(``SAND CROSS 26`` after "exercise", ``HIBISCUS`` after "opération") and named task groups
(``TF SENTINEL``, ``GTIA LYNX``, ``SGTIA 3``).

A name in capitals is protected only where its shape or the word before it says it is a name,
never because a word is written in capitals (a heading, or a report written in capitals).
Pure (standard library and ``services.domain.spans`` only).
"""

from __future__ import annotations

import re

from services.domain.spans import Span

__all__ = ["MESSAGE_NAMES", "find_callsigns", "find_operation_names", "find_task_groups"]

_GAP = "[ \u00a0\u202f]"
# Capitals of the Latin (with French accents) and Cyrillic scripts.
_CAPS = "A-ZÀÂÄÇÉÈÊËÎÏÔÖÙÛÜŸА-ЯЁІЇЄҐ"
_CAPS_WORD = rf"[{_CAPS}][{_CAPS}]+"

# A callsign: a word in capitals (four letters or more) and a one- or two-digit number, maybe
# hyphenated ("RAVEN 3", "SABRE 2-2", "ÉPERVIER 20"). Not when a word in capitals follows the
# number ("OBSERVE 1 HELICOPTER": a count), nor when the number runs on (a decimal, a list).
_CALLSIGN_RE = re.compile(
    rf"(?<![\w/-])(?P<word>[{_CAPS}]{{4,12}}){_GAP}[0-9]{{1,2}}(?:-[0-9]{{1,2}})?"
    rf"(?![\w/-]|[.,:][0-9]|{_GAP}+[{_CAPS}]{{2}}|{_GAP}*[x×])"
)
#: Names of messages and report formats: a report's own heading, never a callsign or an entity.
MESSAGE_NAMES = frozenset(
    """
    SPOTREP SITREP INTREP INTSUM LOGSTAT LOGREP CRLOG SITLOG MEDEVAC CASEVAC OPORD FRAGO FRAGORD
    WARNO СИТРЕП СПОТРЕП ИНТРЕП ЛОГСТАТ ЛОГРЕП МЕДЕВАК
    """.split()  # noqa: SIM905 - a word list reads best as words
)
# Words in capitals followed by a number that are headings or counts, not callsigns.
_NOT_CALLSIGNS = MESSAGE_NAMES | frozenset(
    [
        "LINE",
        "LIGNE",
        "LINES",
        "PARA",
        "PHASE",
        "SECTION",
        "ANNEX",
        "ANNEXE",
        "ITEM",
        "POINT",
        "PAGE",
        "ROUTE",
        "CLASS",
        "CLASSE",
        "TOTAL",
        "ZONE",
        "STEP",
        "TEAM",
        "PLATOON",
        "COMPANY",
        "GROUP",
        "SERIAL",
        "NUMBER",
        "PRIORITY",
        "PRIORITE",
        "PRIORITÉ",
        "ROUND",
        "ROUNDS",
        "TIME",
        "HOUR",
        "HOURS",
        "HEURE",
        "HEURES",
        "JOUR",
        "DAYS",
        "ЛИНИЯ",
        "ПУНКТ",
    ]
)

# NATO phonetic alphabet callsigns: a letter word and spelt digits ("Hotel Two Two").
_PHONETIC = (
    "Alpha|Alfa|Bravo|Charlie|Delta|Echo|Foxtrot|Golf|Hotel|India|Juliet|Juliett|Kilo|Lima|"
    "Mike|November|Oscar|Papa|Quebec|Romeo|Sierra|Tango|Uniform|Victor|Whiskey|X-ray|Yankee|Zulu"
)
_SPELT = "Zero|One|Two|Three|Four|Five|Six|Seven|Eight|Nine|Niner"
_PHONETIC_RE = re.compile(rf"(?<![\w-])(?i:{_PHONETIC})(?:{_GAP}(?i:{_SPELT})){{1,3}}(?!\w)")

# An exercise or operation name: the words in capitals after "exercise", "Ex", "opération"
# (with small joining words inside: "CROIX DU SUD") and the year or number that ends it
# ("SAND CROSS 26"). The trigger word is prose the translation renders; the name is not.
_JOINING = "DU|DE|DES|LA|LE|DEL|OF|THE|ET|AND"
_OPERATION_RE = re.compile(
    r"(?<!\w)(?:[Ee]xercise|[Ee]xercice|EXERCISE|EXERCICE|Ex|EX|[Oo]p[ée]ration|[Oo]peration"
    r"|OPERATION|OPÉRATION|Op|учени[ея]|операци[яи]|навчання|операція)\.?"
    rf"{_GAP}+[«\"“]?{_GAP}?(?P<name>{_CAPS_WORD}(?:{_GAP}(?:(?:{_JOINING}){_GAP})?{_CAPS_WORD}){{0,3}}"
    rf"(?:{_GAP}[0-9]{{1,4}})?)(?![\w-])"
)

# A task group named by its type and a code name or number: "TF SENTINEL", "GTIA LYNX",
# "SGTIA 3", "MNBG ROU". The type alone is an acronym; with its name it is one designation.
_GROUP_TYPES = "TF|GTIA|SGTIA|GT|BG|MNBG|SGT|ОГ|ТГ|БТГ"
_TASK_GROUP_RE = re.compile(
    rf"(?<![\w-])(?:{_GROUP_TYPES}){_GAP}(?:{_CAPS_WORD}|[0-9]{{1,2}}(?![.,][0-9]))(?![\w-])"
)


def find_callsigns(text: str) -> list[Span]:
    """Callsigns by their shape: ``RAVEN 3``, ``SABRE 2-2``, ``Hotel Two Two``."""
    spans = [
        Span(m.start(), m.end(), m.group(0), "comms")
        for m in _CALLSIGN_RE.finditer(text)
        if m["word"] not in _NOT_CALLSIGNS
    ]
    spans += [Span(m.start(), m.end(), m.group(0), "comms") for m in _PHONETIC_RE.finditer(text)]
    return spans


def find_operation_names(text: str) -> list[Span]:
    """Exercise and operation names in capitals after "exercise", "Ex", "opération"…"""
    return [
        Span(m.start("name"), m.end("name"), m["name"], "name")
        for m in _OPERATION_RE.finditer(text)
    ]


def find_task_groups(text: str) -> list[Span]:
    """Task groups with their name: ``TF SENTINEL``, ``GTIA LYNX``, ``SGTIA 3``."""
    return [Span(m.start(), m.end(), m.group(0), "unit") for m in _TASK_GROUP_RE.finditer(text)]
