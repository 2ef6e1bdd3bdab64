"""Numbers as logistics reports write them, in five languages, and what they are worth.

Digits are ASCII, Arabic-Indic (``٠-٩``) or Persian (``۰-۹``). Groups of thousands are separated
by a space (``1 200``; a no-break space is a space once the text is normalised), a comma
(``1,200``), a dot (``1.200``), an apostrophe or the Arabic thousands separator ``٬``. The
decimal mark is a comma (``2,5``), a dot (``2.5``) or the Arabic decimal separator ``٫``.

One rule settles ``1,200`` and ``1.200``: one to three digits (not a lone ``0``), one comma or
dot, then exactly three digits is a thousand and two hundred, in every language — a logistics
report counts litres and rounds, it does not write litres to the millilitre. ``0,250`` and
``2,75`` are decimals. A run that fits no grouping (``12 00``, ``1,2,3``, ``1..200``,
``12,00,0``) is *malformed*: never read as a quantity, reported so that a line holding one is
not taken as fully read. Pure: standard library and ``services.domain.quantities``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.domain.quantities import ascii_digits, number_word_values

__all__ = ["Number", "as_json_number", "find_number_words", "find_numbers", "parse_number"]

_DIGIT = "0-9\u0660-\u0669\u06f0-\u06f9"
_THOUSANDS_ONLY = " \u00a0\u202f\u2009'\u066c\u2019"
_DECIMAL_ONLY = "\u066b"
_EITHER = ",."
_SEPARATORS = _THOUSANDS_ONLY + _DECIMAL_ONLY + _EITHER
# A run of digit groups joined by separators; a separator of two characters or more (", ",
# ". ", "  ") ends the run unless it is only dots and commas ("1..200": malformed).
_RUN = re.compile(
    rf"(?:(?<![\w\-\u066b\u066c])|(?<=(?<!\w)\u0648))(?<![{_DIGIT}][.,])[{_DIGIT}]+"
    rf"(?:(?:[{re.escape(_SEPARATORS)}]|[.,]{{2,}})[{_DIGIT}]+)*"
)
_PIECES = re.compile(rf"([{_DIGIT}]+)|([{re.escape(_SEPARATORS)}]+)")
_WORD = re.compile(r"\w+(?:['’]\w+)?")
_MAX_GROUPS = 6
# Articles (and "pair") are never a quantity on their own, whatever a number-word table says.
_NOT_NUMBERS = frozenset({"a", "an", "un", "une", "pair"})


@dataclass(frozen=True)
class Number:
    """A number written in the text: its span, its value (None when malformed)."""

    start: int
    end: int
    text: str
    value: float | None

    @property
    def malformed(self) -> bool:
        return self.value is None


def as_json_number(value: float) -> int | float:
    """1200.0 → 1200, 2.5 → 2.5 (six decimals at most)."""
    rounded = round(float(value), 6)
    return int(rounded) if rounded.is_integer() else rounded


def parse_number(written: str) -> float | None:
    """The value of one written number, or None when it fits no grouping."""
    pieces = _PIECES.findall(ascii_digits(written))
    groups = [g for g, _ in pieces if g]
    separators = [s for _, s in pieces if s]
    if not groups or len(separators) != len(groups) - 1 or not pieces[0][0]:
        return None
    if any(len(s) != 1 for s in separators):
        return None
    decimal: str | None = None
    if separators and _is_decimal(separators, groups):
        decimal = groups.pop()
        separators.pop()
    if separators:
        if len(set(separators)) != 1 or separators[0] in _DECIMAL_ONLY:
            return None
        if not 1 <= len(groups[0]) <= 3 or any(len(g) != 3 for g in groups[1:]):
            return None
        if groups[0].startswith("0"):
            return None
    elif len(groups[0]) > 1 and groups[0].startswith("0") and decimal is None:
        return None  # "00", "007": not how a quantity is written
    whole = "".join(groups)
    return float(f"{whole}.{decimal}") if decimal else float(whole)


def _is_decimal(separators: list[str], groups: list[str]) -> bool:
    """Whether the last separator is the decimal mark."""
    last, tail = separators[-1], groups[-1]
    if last in _DECIMAL_ONLY:
        return True
    if last in _THOUSANDS_ONLY:
        return False
    earlier = set(separators[:-1])
    if earlier and last in earlier:
        return False  # "1,200,000" / "1.200.000"
    if earlier:
        return True  # "1.200,5" / "1 200,5" / "1,200.50"
    # One comma or dot: three digits after one to three (not "0") make a thousand.
    return not (len(tail) == 3 and 1 <= len(groups[0]) <= 3 and groups[0] != "0")


def find_numbers(text: str, start: int = 0, end: int | None = None) -> list[Number]:
    """Every number written in digits in ``text[start:end]``, in order, malformed ones included.

    A run of groups that only spaces join and that fits no grouping is split where the spaces
    are when each piece reads alone ("3 12 000" is not a number, "12 00" is malformed).
    """
    stop = len(text) if end is None else end
    found: list[Number] = []
    for m in _RUN.finditer(text, start, stop):
        run = m.group(0)
        run = run.rstrip(_SEPARATORS)
        value = parse_number(run)
        if value is not None or not _spaced_only(run):
            found.append(Number(m.start(), m.start() + len(run), run, value))
            continue
        found.extend(_split_spaced(run, m.start()))
    return found


def _spaced_only(run: str) -> bool:
    return all(c in " \u00a0\u202f\u2009" for c in run if not c.isdigit())


def _split_spaced(run: str, offset: int) -> list[Number]:
    """A spaced run that is not one number: the longest valid prefix, then the rest again.
    A piece of one or two digits followed by more pieces (``12 00``) is malformed."""
    parts = [(m.start(), m.group(0)) for m in re.finditer(r"[^ \u00a0\u202f\u2009]+", run)]
    out: list[Number] = []
    index = 0
    while index < len(parts):
        taken = 1
        # A number has at most six groups (1 000 000 000 000 000): longer prefixes never parse.
        for count in range(min(len(parts) - index, _MAX_GROUPS), 1, -1):
            first, last = parts[index], parts[index + count - 1]
            if parse_number(run[first[0] : last[0] + len(last[1])]) is not None:
                taken = count
                break
        first, last = parts[index], parts[index + taken - 1]
        written = run[first[0] : last[0] + len(last[1])]
        value = parse_number(written)
        rest = parts[index + taken : index + taken + _MAX_GROUPS]
        if taken == 1 and rest and len(rest[0][1]) < 3 and not any(len(p) == 3 for _, p in rest):
            # "12 00": a thousands group cut short, not two numbers.
            tail = run[first[0] : rest[-1][0] + len(rest[-1][1])]
            out.append(Number(offset + first[0], offset + first[0] + len(tail), tail, None))
            index += taken + len(rest)
            continue
        out.append(Number(offset + first[0], offset + first[0] + len(written), written, value))
        index += taken
    return out


def find_number_words(text: str, start: int = 0, end: int | None = None) -> list[Number]:
    """Numbers written in words ("trois", "шесть", "ثلاثة"), English and French articles
    excepted."""
    stop = len(text) if end is None else end
    found: list[Number] = []
    for m in _WORD.finditer(text, start, stop):
        word = m.group(0)
        if word.casefold() in _NOT_NUMBERS:
            continue
        values = number_word_values(word)
        if len(values) == 1:
            found.append(Number(m.start(), m.end(), word, float(values[0])))
    return found
