"""Latin all-caps acronyms (``VBCI``, ``NATO``, ``OTAN``), less the report formats' headings.

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
# Above this share of capitals among Latin letters the report is written in capitals: every
# word looks like an acronym, so only the listed tokens count.
_SHOUTING_SHARE = 0.7
_SHOUTING_MIN_LETTERS = 20


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
