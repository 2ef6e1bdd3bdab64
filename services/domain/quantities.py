"""Numbers: written in digits ("1 200", "2,5", "07"), or in words ("trois", "шесть", "ثلاثة"),
and their value as one canonical string so that "1 200", "1,200" and "1200" compare equal.

The summary's faithfulness check reads its figures with these. Pure (standard library and
``services.domain.spans`` only): a finder any task can share.
"""

from __future__ import annotations

import re

from services.domain.spans import Span

__all__ = ["ascii_digits", "find_numbers", "number_value", "number_word_values"]

_GAP = "[ \u00a0\u202f]"
# Digits grouped by spaces ("1 200"), plain digits, an optional decimal part; standing alone,
# not glued to a letter or to another number.
_NUMBER = re.compile(
    r"(?<![\w.,])(?:[0-9]{1,3}(?:[ \u00a0\u202f][0-9]{3})+|[0-9]+)(?:[.,][0-9]+)?(?![0-9])"
)
# The same, also glued to letters ("2x", "BTR-82A", "3e") and grouped by commas ("1,200").
_GLUED_NUMBER = re.compile(
    r"(?<![0-9.,])(?:[0-9]{1,3}(?:[ \u00a0\u202f,][0-9]{3})+|[0-9]+)(?:[.,][0-9]+)?(?![0-9])"
)
_NON_ASCII_DIGITS = str.maketrans(
    {chr(base + offset): str(offset) for base in (0x0660, 0x06F0) for offset in range(10)}
)
_WORD = re.compile(r"\w+(?:['’]\w+)?")

# Numbers written in words, in the report languages: "trois BTR-82A" is "3 BTR-82A".
_NUMBER_WORDS: dict[str, str] = {}
for _value, _words in {
    "0": "zéro zero ноль нуль صفر",
    "1": "un une one a an один одна одно одного одну одним одній واحد واحدة",
    "2": "deux two pair два две двух двумя двое дві двох двоє اثنان اثنين اثنتان اثنتين",
    "3": "trois three три трёх трех тремя трое трьох троє ثلاث ثلاثة",
    "4": "quatre four четыре четырёх четырех четверо чотири чотирьох أربع أربعة",
    "5": "cinq five пять пяти пятеро п'ять п’ять п'яти п’яти п'ятеро خمس خمسة",
    "6": "six шесть шести шестеро шість шести ست ستة",
    "7": "sept seven семь семи сім семи سبع سبعة",
    "8": "huit eight восемь восьми вісім восьми ثمان ثماني ثمانية",
    "9": "neuf nine девять девяти дев'ять дев’ять дев'яти تسع تسعة",
    "10": "dix ten десять десяти десятеро عشر عشرة",
    "11": "onze eleven одиннадцать одинадцять",
    "12": "douze twelve dozen douzaine двенадцать дванадцять",
    "15": "quinze fifteen пятнадцать п'ятнадцять",
    "20": "vingt twenty двадцать двадцять عشرون عشرين",
    "30": "trente thirty тридцать тридцять",
    "50": "cinquante fifty пятьдесят п'ятдесят",
    "100": "cent hundred сто مائة مئة",
    "1000": "mille thousand тысяча тисяча ألف",
}.items():
    for _word in _words.split():
        _NUMBER_WORDS.setdefault(_word.casefold(), _value)


def find_numbers(text: str, *, glued: bool = False) -> list[Span]:
    """Numbers written in digits in ``text``, in order.

    By default only numbers standing alone, grouped by spaces at most ("1 200", "2,5"). With
    ``glued`` also those glued to letters ("2x", "BTR-82A", "3e") or grouped by commas
    ("1,200"): generous, for looking up evidence rather than reading facts.
    """
    pattern = _GLUED_NUMBER if glued else _NUMBER
    return [Span(m.start(), m.end(), m.group(0), "quantity") for m in pattern.finditer(text)]


def number_value(written: str) -> str:
    """ "1 200" → "1200", "2,5" → "2.5", "1,200" → "1200", "07" → "7", "3.50" → "3.5"."""
    text = re.sub(_GAP, "", written)
    text = re.sub(r",(?=[0-9]{3}(?![0-9]))", "", text) if text.count(",") > 1 else text
    if re.fullmatch(r"[0-9]{1,3},[0-9]{3}", text):
        text = text.replace(",", "")  # an English thousands separator, not a decimal comma
    text = text.replace(",", ".")
    whole, _, fraction = text.partition(".")
    whole = whole.lstrip("0") or "0"
    fraction = fraction.rstrip("0")
    return f"{whole}.{fraction}" if fraction else whole


def number_word_values(text: str) -> list[str]:
    """The value of each number written in words in ``text`` ("trois chars" → ["3"])."""
    values: list[str] = []
    for word in _WORD.findall(text):
        value = _NUMBER_WORDS.get(word.casefold())
        if value is not None:
            values.append(value)
    return values


def ascii_digits(text: str) -> str:
    """``text`` with Arabic-Indic and Persian digits written as ASCII digits."""
    return text.translate(_NON_ASCII_DIGITS)
