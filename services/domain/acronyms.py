"""Latin all-caps acronyms (``VBCI``, ``NATO``, ``OTAN``), less the report formats' headings,
ordinary words written in capitals and abbreviations each language writes its own way.

A translation copies an acronym unchanged. Pure (standard library and ``services.domain.spans``
only): a finder any task can share.
"""

from __future__ import annotations

import re

from services.domain.spans import Span

__all__ = ["find_acronyms"]

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
# Ordinary words of the report languages that formats write in capitals: field names and
# headings ("LINE 1", "SENSOR ID:", "CAPTEUR :", "SO WHAT:"), status colours ("(ROUGE)",
# "AMBER"), small words of a heading in capitals ("COMPTE RENDU DE CONTACT"). Words the
# translation renders: protected, they would be frozen untranslated and a correct translation
# flagged. By language, so that each list reads as that language's report vocabulary.
_REPORT_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        [
            *("LINE", "LINES", "LINER", "DETAIL", "SO", "WHAT", "WHERE", "WHEN", "WHO", "WHY"),
            *("SENSOR", "TRACK", "OPERATOR", "REMARK", "ACOUSTIC", "SITE", "ID", "TYPE"),
            *("OWN", "HELD", "CONTACT", "POSITION", "GREEN", "AMBER", "RED", "BLACK"),
        ]
    ),
    "fr": frozenset(
        [
            *("DE", "DU", "LA", "LE", "LES", "ET", "NON", "LIGNE", "LIGNES", "DEMANDE"),
            *("CAPTEUR", "CLASSE", "ENNEMIE", "AMIE", "CONTACT", "POSITION", "TYPE", "PERIODE"),
            *("VERT", "ORANGE", "ROUGE", "NOIR"),
        ]
    ),
}
# Abbreviations each language renders by its own ("RAS", rien à signaler, is "NTR" in English;
# "HS", hors service, is "U/S"; "AI" is "IA" in French; "SP", self-propelled, "automoteur";
# "RMKS" is "remarks"): their letters are not kept across a translation.
_RENDERED_ABBREVIATIONS: dict[str, frozenset[str]] = {
    "en": frozenset(["AI", "SP", "RMKS", "NTR"]),
    "fr": frozenset(["RAS", "HS", "IA"]),
}
_WORDS = _NOT_ACRONYMS.union(*_REPORT_WORDS.values(), *_RENDERED_ABBREVIATIONS.values())

# Above this share of capitals among Latin letters the report is written in capitals: every
# word looks like an acronym, so only the listed tokens count. Only where Latin letters are
# most of the report's letters: in an Arabic or Cyrillic report the Latin words are codes and
# designations ("PKM", "RPG-7"), capitals by nature, not a report written in capitals.
_SHOUTING_SHARE = 0.7
_SHOUTING_MIN_LETTERS = 20
_LATIN_REPORT_SHARE = 0.5


def find_acronyms(text: str) -> list[Span]:
    """Latin all-caps words of two to eight letters, unless the whole report is in capitals."""
    letters = [c for c in text if c.isalpha()]
    latin = [c for c in letters if c.isascii()]
    capitals = sum(c.isupper() for c in latin)
    if (
        len(latin) >= _SHOUTING_MIN_LETTERS
        and capitals > _SHOUTING_SHARE * len(latin)
        and len(latin) > _LATIN_REPORT_SHARE * len(letters)
    ):
        return []
    return [
        Span(m.start(), m.end(), m.group(0), "acronym")
        for m in _ACRONYM_RE.finditer(text)
        if m.group(0) not in _WORDS
    ]
