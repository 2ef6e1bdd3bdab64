"""Numbers: written in digits ("1 200", "2,5", "07"), or in words ("trois", "шесть", "ثلاثة"),
and their value as one canonical string so that "1 200", "1,200" and "1200" compare equal.

The summary's faithfulness check reads its figures with these. Pure (standard library,
``services.domain.spans`` and ``services.domain.languages`` only): a finder any task can share.
"""

from __future__ import annotations

import re

from services.domain.languages import language_key
from services.domain.spans import Span

__all__ = [
    "ascii_digits",
    "find_numbers",
    "number_value",
    "number_word_values",
    "number_words",
]

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

# Numbers written in words, per language: "trois BTR-82A" is "3 BTR-82A". Articles are not
# numbers ("un char", "a tank" are not counts), so "un", "une", "a" and "an" are not listed:
# a word is listed only where it is really a numeral.
_WORDS_BY_LANGUAGE: dict[str, dict[str, str]] = {
    "fr": {
        "0": "zéro zero",
        "2": "deux",
        "3": "trois",
        "4": "quatre",
        "5": "cinq",
        "6": "six",
        "7": "sept",
        "8": "huit",
        "9": "neuf",
        "10": "dix",
        "11": "onze",
        "12": "douze douzaine",
        "15": "quinze",
        "20": "vingt",
        "30": "trente",
        "50": "cinquante",
        "100": "cent",
        "1000": "mille",
    },
    "en": {
        "0": "zero",
        "1": "one",
        "2": "two pair",
        "3": "three",
        "4": "four",
        "5": "five",
        "6": "six",
        "7": "seven",
        "8": "eight",
        "9": "nine",
        "10": "ten",
        "11": "eleven",
        "12": "twelve dozen",
        "15": "fifteen",
        "20": "twenty",
        "30": "thirty",
        "50": "fifty",
        "100": "hundred",
        "1000": "thousand",
    },
    "ru": {
        "0": "ноль нуль",
        "1": "один одна одно одного одну одним",
        "2": "два две двух двумя двое",
        "3": "три трёх трех тремя трое",
        "4": "четыре четырёх четырех четверо",
        "5": "пять пяти пятеро",
        "6": "шесть шести шестеро",
        "7": "семь семи",
        "8": "восемь восьми",
        "9": "девять девяти",
        "10": "десять десяти десятеро",
        "11": "одиннадцать",
        "12": "двенадцать",
        "15": "пятнадцать",
        "20": "двадцать",
        "30": "тридцать",
        "50": "пятьдесят",
        "100": "сто",
        "1000": "тысяча",
    },
    "uk": {
        "0": "нуль",
        "1": "один одна одно одного одну одним одній",
        "2": "два дві двох двоє",
        "3": "три трьох троє",
        "4": "чотири чотирьох",
        "5": "п'ять п’ять п'яти п’яти п'ятеро",
        "6": "шість шести",
        "7": "сім семи",
        "8": "вісім восьми",
        "9": "дев'ять дев’ять дев'яти",
        "10": "десять десяти",
        "11": "одинадцять",
        "12": "дванадцять",
        "15": "п'ятнадцять",
        "20": "двадцять",
        "30": "тридцять",
        "50": "п'ятдесят",
        "100": "сто",
        "1000": "тисяча",
    },
    "ar": {
        "0": "صفر",
        "1": "واحد واحدة",
        "2": "اثنان اثنين اثنتان اثنتين",
        "3": "ثلاث ثلاثة",
        "4": "أربع أربعة",
        "5": "خمس خمسة",
        "6": "ست ستة",
        "7": "سبع سبعة",
        "8": "ثمان ثماني ثمانية",
        "9": "تسع تسعة",
        "10": "عشر عشرة",
        "20": "عشرون عشرين",
        "100": "مائة مئة",
        "1000": "ألف",
    },
}
_NUMBER_WORDS_BY_LANGUAGE: dict[str, dict[str, str]] = {
    language: {word.casefold(): value for value, words in table.items() for word in words.split()}
    for language, table in _WORDS_BY_LANGUAGE.items()
}
# Every language's words, for a text of unknown language (the first listing of a word wins).
_NUMBER_WORDS: dict[str, str] = {}
for _table in _NUMBER_WORDS_BY_LANGUAGE.values():
    for _word, _value in _table.items():
        _NUMBER_WORDS.setdefault(_word, _value)


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


def number_words(language: str | None = None) -> dict[str, str]:
    """Number word (case-folded) → value, in ``language`` (a code such as "fr" or "fra");
    every language's for None or a language without a list."""
    return _NUMBER_WORDS_BY_LANGUAGE.get(language_key(language) or "", _NUMBER_WORDS)


def number_word_values(text: str, language: str | None = None) -> list[str]:
    """The value of each number written in words in ``text`` ("trois chars" → ["3"]): the
    numerals of ``language``, of every language when it is unknown. Articles are not numbers."""
    table = number_words(language)
    values: list[str] = []
    for word in _WORD.findall(text):
        value = table.get(word.casefold())
        if value is not None:
            values.append(value)
    return values


def ascii_digits(text: str) -> str:
    """``text`` with Arabic-Indic and Persian digits written as ASCII digits."""
    return text.translate(_NON_ASCII_DIGITS)
