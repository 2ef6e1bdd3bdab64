"""Identifiers a report quotes: file references (``0012/FFDJ/DL``), NATO stock numbers
(``NSN 2910-12-345-6789``), telephone numbers (``+48 512 330 417``) and mixed-case acronyms
(``FFDj``, ``RIMaP``).

Each class has its own finder: a translation copies them byte for byte, so each pattern is
written to match what cannot be ordinary prose (a digit, a slash between codes, a capital after
two capitals). Pure (standard library and ``services.domain.spans`` only).
"""

from __future__ import annotations

import re

from services.domain.spans import Span

__all__ = [
    "find_labelled_numbers",
    "find_mixed_acronyms",
    "find_orders",
    "find_phone_numbers",
    "find_references",
    "find_slashed_acronyms",
    "find_stock_numbers",
]

_GAP = "[ \u00a0\u202f]"

# A file reference: three or more slash-separated codes, the first a number ("0012/FFDJ/DL",
# "112/3RIMa/2Cie/OPS", "210830/خ.ا/2026"), one of them holding a letter. The number first
# keeps the message-text lines ("MSGID/SITREP/TF KESTREL/…") out; the letter keeps dates
# ("12/05/2026"), which a translation may write in its own way, out.
_REFERENCE_RE = re.compile(r"(?<![\w/])[0-9]{1,8}(?:/[^\W_](?:[\w.\-]{0,14}[^\W_])?){2,5}(?![\w/])")

# NATO stock number: 4-2-3-4 digits, with its "NSN" prefix when written (kept together: the
# prefix says what the number is).
_STOCK_NUMBER_RE = re.compile(
    r"(?<![\w-])(?:NSN[ \u00a0:]{1,2})?[0-9]{4}-[0-9]{2}-[0-9]{3}-[0-9]{4}(?![\w-])"
)

# Telephone numbers. International ones carry their prefix ("+48", "00882"): groups of digits
# after it. A national number ("03 415 227") reads like a quantity with thousands spaces, so it
# counts only right after a word saying it is a number to call.
_GROUPS = rf"[0-9]{{1,5}}(?:(?:{_GAP}|-)[0-9]{{2,5}}){{2,5}}"
_INTERNATIONAL_RE = re.compile(
    rf"(?<![\w+])(?:\+[1-9][0-9]{{0,2}}|00[1-9][0-9]{{1,3}})(?:{_GAP}|-){_GROUPS}(?!\w|[.,][0-9])"
)
_PHONE_WORDS = (
    r"(?i:phone|tel\.?|tél\.?|téléphone|mobile|portable|телефон\w*|номер\w*|тел\.|"
    r"хатф|هاتف|الهاتف|جوال|ثريا)"
)
_NATIONAL_RE = re.compile(
    rf"{_PHONE_WORDS}[^\d\n]{{0,40}}?(?P<number>(?<![\w+])0[0-9]{{1,4}}(?:{_GAP}[0-9]{{2,4}}){{2,4}})(?!\w|[.,][0-9])"
)

# An acronym with a lower-case letter inside or at its end after at least two capitals
# ("FFDj", "RIMa", "RIMaP"): no prose word is written that way. A plural "s" alone ("IEDs",
# "UAVs") is a word the translation may inflect: not one.
_MIXED_ACRONYM_RE = re.compile(r"(?<![\w-])[A-Z]{2,6}[a-z]{1,2}[A-Z]{0,3}(?!\w)")
# Plurals of capitals ("IEDs") and Roman ordinals ("XXe", "IIIème" siècle): words to render.
_NOT_MIXED_ACRONYM = re.compile(r"[A-Z]+s|[IVXLC]+(?:e|er|re|è)")


# An order by its type and number ("OPORD 04-26", "FRAGO 12", "ORDOP 3/26"): the number alone
# would leave the type to be translated apart from it, and it names one document.
_ORDER_RE = re.compile(
    rf"(?<![\w-])(?:OPORD|OPLAN|FRAGO|FRAGORD|WARNO|WNGO|ORDOP|ORDCONF|OPO){_GAP}"
    r"[0-9]{1,4}(?:[-/][0-9]{1,4})?(?![\w-]|/[0-9])"
)

# A number a word says is an identifier: "lot 251430", "serial 141300", "n° 230915",
# "с/н 290915", "серийный номер станции: 201630", "رقم الدفعة 041530". Four digits or more (a
# short one is a count or a list item); one word may sit between label and number ("номер
# станции", "رقم الدفعة"). Such a number often looks like a DTG's day and time: without its
# label it could be rewritten as one.
_NUMBER_LABELS = (
    r"(?i:\blot|\bserial|\bs/n|\bn°|\bno\.|\bnuméro|№|с/н|номер\w*|серийн\w*|зав\.\s?№)|رقم"
)
_LABELLED_NUMBER_RE = re.compile(
    rf"(?:{_NUMBER_LABELS})(?:{_GAP}[^\W\d_]{{2,14}})?{_GAP}?:?{_GAP}?"
    r"(?P<number>(?<![\w.,])[0-9]{4,10})(?![\w/]|[.,][0-9])"
)

# Two short codes joined by a slash ("EO/IR", "IR/UV"): one name for one sensor or role, which
# masked apart would leave the slash to the model. Longer names on either side of a slash are
# alternatives or a name and its translation ("NATO/OTAN"): each its own token. Not at the start
# of a line, where a slash ends a message-text set's name ("GENTEXT/OWN FORCES").
_SLASHED_ACRONYMS_RE = re.compile(r"(?<![\w/])(?<!^)(?<!\n)[A-Z]{2,3}/[A-Z]{2,3}(?![\w/])")


def find_orders(text: str) -> list[Span]:
    """Orders by type and number: ``OPORD 04-26``, ``FRAGO 12``."""
    return [Span(m.start(), m.end(), m.group(0), "identifier") for m in _ORDER_RE.finditer(text)]


def find_labelled_numbers(text: str) -> list[Span]:
    """Numbers of four digits or more after a word naming them an identifier: ``lot 251430``,
    ``n° 230915``, ``с/н 290915`` (the number alone is the token; the word is translated)."""
    return [
        Span(m.start("number"), m.end("number"), m["number"], "identifier")
        for m in _LABELLED_NUMBER_RE.finditer(text)
    ]


def find_slashed_acronyms(text: str) -> list[Span]:
    """Short codes joined by a slash, as one token: ``EO/IR``."""
    return [
        Span(m.start(), m.end(), m.group(0), "acronym") for m in _SLASHED_ACRONYMS_RE.finditer(text)
    ]


def find_references(text: str) -> list[Span]:
    """File references with slashes: ``0012/FFDJ/DL``, ``112/3RIMa/2Cie/OPS``."""
    return [
        Span(m.start(), m.end(), m.group(0), "identifier")
        for m in _REFERENCE_RE.finditer(text)
        if any(c.isalpha() for c in m.group(0))
    ]


def find_stock_numbers(text: str) -> list[Span]:
    """NATO stock numbers, with their "NSN" prefix when it is written."""
    return [
        Span(m.start(), m.end(), m.group(0), "identifier") for m in _STOCK_NUMBER_RE.finditer(text)
    ]


def find_phone_numbers(text: str) -> list[Span]:
    """International telephone numbers anywhere; national ones after "phone", "tél", "هاتف"…"""
    spans = [
        Span(m.start(), m.end(), m.group(0), "identifier") for m in _INTERNATIONAL_RE.finditer(text)
    ]
    spans += [
        Span(m.start("number"), m.end("number"), m["number"], "identifier")
        for m in _NATIONAL_RE.finditer(text)
    ]
    return spans


def find_mixed_acronyms(text: str) -> list[Span]:
    """Acronyms written with a lower-case letter after two capitals: ``FFDj``, ``RIMaP``."""
    return [
        Span(m.start(), m.end(), m.group(0), "acronym")
        for m in _MIXED_ACRONYM_RE.finditer(text)
        if not _NOT_MIXED_ACRONYM.fullmatch(m.group(0))
    ]
