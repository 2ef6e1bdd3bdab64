"""Summaries against the gold: fact recall, precision of the checkable facts, length.

Fact recall — a gold summary fact is recalled when
  (1) every code of the fact is in the summary, compared without spaces and case — its DTGs and
      MGRS grids, then every word holding a digit (not a time such as ``09h00`` nor an ordinal
      such as ``3e``) or written in capitals, at least two letters (designations, acronyms);
  (2) every other number of the fact (:func:`services.evaluation.text.numbers`) is among the
      summary's numbers, as :func:`source_numbers` reads them (a DTG's day, hour and minute
      count: "le 5 à 09h42" is in ``050942ZAPR26``); and
  (3) at least half (rounded up) of the fact's content words — words of four letters or more
      that are not in :data:`STOPWORDS` — appear in the summary, compared folded
      (:func:`services.evaluation.text.fold`) on their first five letters (so ``indisponible``
      and ``indisponibles`` match).
A fact with neither numbers, codes nor content words is recalled when its folded text appears.

Precision — the summary's checkable facts are its DTGs (``DDHHMM`` + zone letter, optionally a
month and year) and MGRS grids, compared without spaces and case to the source, and its other
numbers, compared as values to the source's numbers: every digit run of the source, its grouped
numbers, the hour and minute of each four-digit run that reads as ``HHMM``, the day, hour,
minute and ``HHMM`` of each of its DTGs, the four-digit year of a DTG's two-digit year, and the
gold's logistics quantities. Precision = supported ÷ checked.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from services.evaluation.text import ascii_digits, fold, numbers, words

__all__ = [
    "STOPWORDS",
    "SummaryFacts",
    "check_summary",
    "fact_recalled",
    "source_numbers",
    "word_count",
]

#: Words too common to say what a fact is about (folded; French and English).
_STOP = (
    "avec dans pour par sans sous sur vers chez entre depuis pendant avant apres selon "
    "contre leur leurs elle elles nous vous ils sont etait etaient etre avoir ont aux des "
    "les une cette ces cet celui celle dont mais donc ainsi alors aussi tres plus moins "
    "tout tous toute toutes autre autres meme quel quelle comme quand lors encore deja "
    "environ with from that this these those have been were into onto over under about "
    "after before their there which while would could should also than then"
)
STOPWORDS = frozenset(_STOP.split())
_DTG = re.compile(
    r"(?<![0-9A-Za-z])[0-9]{6}(?:[0-9]{2})?[A-Za-z]"
    r"(?:\s?(?i:JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)(?:\s?[0-9]{2,4})?)?"
    r"(?![0-9A-Za-z])"
)
_MGRS = re.compile(
    r"(?<![0-9A-Za-z])[0-9]{1,2}\s?[C-HJ-NP-X]\s?[A-HJ-NP-Z]{2}"
    r"(?:\s?[0-9]{2,5}\s?[0-9]{2,5}|[0-9]{4,10})(?![0-9A-Za-z])"
)
_CODE = re.compile(r"\S*[0-9]\S*|\b[A-ZА-ЯІЇЄҐ]{2,}\b")
# Chunks with digits that are figures, not codes: times (09h00, 18:30) and ordinals (3e, 2nd).
_NOT_CODE = re.compile(
    r"[0-9]{1,2}[hH:][0-9]{2}|[0-9]+(?:e|er|re|ère|ème|eme|st|nd|rd|th|-?[йяеого]{1,3})",
    re.IGNORECASE,
)
_EDGE = re.compile(r"^[^\w]+|[^\w]+$")


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", text).upper()


def _stem(word: str) -> str:
    return fold(word)[:5]


def word_count(text: str) -> int:
    return len(text.split())


def _codes(text: str) -> tuple[list[str], str]:
    """The codes of ``text`` (compact, upper case) and the text without them: its DTGs and
    grids first (whole, whatever their spaces), then each chunk holding a digit (not a figure,
    a time or an ordinal) or written in capitals."""
    text = ascii_digits(text)
    codes: list[str] = []
    for pattern in (_DTG, _MGRS):
        codes += [_compact(m.group(0)) for m in pattern.finditer(text)]
        text = pattern.sub(" ", text)
    rest = text
    for match in _CODE.finditer(text):
        chunk = _EDGE.sub("", match.group(0))
        if (
            chunk
            and not re.fullmatch(r"[0-9 .,\u00a0\u202f]+", chunk)
            and not _NOT_CODE.fullmatch(chunk)
        ):
            codes.append(_compact(chunk))
            rest = rest.replace(match.group(0), " ", 1)
    return codes, rest


def _content_words(text: str) -> list[str]:
    return [w for w in words(text) if len(w) >= 4 and fold(w) not in STOPWORDS]


def fact_recalled(fact: str, summary: str) -> bool:
    """Whether ``summary`` carries ``fact`` (see the module docstring)."""
    codes, rest = _codes(fact)
    wanted_numbers = numbers(rest)
    content = _content_words(rest)
    if not (wanted_numbers or codes or content):
        return fold(fact).strip() in fold(summary)
    have_numbers = source_numbers(summary)
    compact_summary = _compact(ascii_digits(summary))
    if any(n not in have_numbers for n in wanted_numbers):
        return False
    if any(c not in compact_summary for c in codes):
        return False
    stems = {_stem(w) for w in words(summary)}
    hits = sum(_stem(w) in stems for w in content)
    return hits >= math.ceil(len(content) / 2)


def source_numbers(source: str, extra: Iterable[float] = ()) -> set[str]:
    """The number values a summary of ``source`` may state (see the module docstring)."""
    source = ascii_digits(source)
    values = set(numbers(source))
    for run in re.findall(r"[0-9]+", source):
        values.add(str(int(run)))
        if len(run) == 4 and int(run[:2]) < 24 and int(run[2:]) < 60:  # HHMM
            values.update((str(int(run[:2])), str(int(run[2:]))))
    for match in _DTG.finditer(source):
        digits = re.sub(r"[^0-9]", "", match.group(0)[:9])[:6]
        day, hour, minute = digits[:2], digits[2:4], digits[4:6]
        values.update(str(int(x)) for x in (day, hour, minute, hour + minute))
        year = re.search(r"[A-Za-z]{3}\s?([0-9]{2})$", match.group(0))
        if year:
            values.add(f"20{year.group(1)}")
    for value in extra:
        values.add(str(int(value)) if float(value).is_integer() else repr(float(value)))
    return values


@dataclass(frozen=True)
class SummaryFacts:
    """The summary's checkable facts, as written, and those its source does not support."""

    checked: tuple[str, ...]
    unsupported: tuple[str, ...]


def check_summary(summary: str, source: str, quantities: Sequence[float] = ()) -> SummaryFacts:
    """The DTGs, grids and numbers of ``summary`` and which of them ``source`` lacks."""
    compact_source = _compact(ascii_digits(source))
    summary = ascii_digits(summary)
    checked: list[str] = []
    unsupported: list[str] = []
    rest = summary
    for pattern in (_DTG, _MGRS):
        for match in pattern.finditer(rest):
            written = match.group(0)
            checked.append(written)
            if _compact(written) not in compact_source:
                unsupported.append(written)
        rest = pattern.sub(" ", rest)
    allowed = source_numbers(source, quantities)
    for value in numbers(rest):
        checked.append(value)
        if value not in allowed:
            unsupported.append(value)
    return SummaryFacts(tuple(checked), tuple(unsupported))
