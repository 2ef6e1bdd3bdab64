"""The matching rules the measures share, written here once and apart from the checks under test.

* :func:`fold`: NFC, case folded, accents and other combining marks removed, Arabic tatweel
  removed, typographic apostrophes and dashes made plain;
* :func:`numbers`: the numbers written in digits, as canonical values — thousands separators
  (a space, a no-break space, a thin space, or a comma/point before exactly three digits) joined,
  a decimal comma made a point, leading zeros dropped: ``1 200``, ``1,200`` and ``1200`` are
  ``1200``; ``3,5`` is ``3.5``; Arabic-Indic digits and separators read as ASCII ones;
* :func:`on_word_boundaries`: a span that cuts no word: no letter on both sides of its start or
  of its end, nor a digit on both sides (a figure glued to a letter, ``1A``, may be split, as
  the gold's spans do); in Arabic a one-letter proclitic (و ف ب ك ل) may precede it inside the
  word, as the gold's spans do;
* :func:`count`: non-overlapping occurrences, byte for byte.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["ascii_digits", "count", "fold", "numbers", "on_word_boundaries", "words"]

_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2212"), "-")
_APOSTROPHES = dict.fromkeys(map(ord, "\u2019\u02bc\u2018`"), "'")
_TATWEEL = "\u0640"
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")
# Digits with optional grouping (space, NBSP, narrow NBSP, comma or point before three digits)
# and an optional decimal part. ASCII digits only: the gold writes figures in ASCII.
_NUMBER = re.compile(
    r"(?<![0-9])[0-9]{1,3}(?:[ \u00a0\u202f,.][0-9]{3})+(?:[.,][0-9]+)?(?![0-9])"
    r"|(?<![0-9])[0-9]+(?:[.,][0-9]+)?(?![0-9])"
)
_GROUP = re.compile(r"(?<=[0-9])[ \u00a0\u202f,.](?=[0-9]{3}(?:[^0-9]|$))")
_PROCLITICS = "وفبكل"
_DIGITS = str.maketrans(
    {
        **{chr(0x0660 + i): str(i) for i in range(10)},
        **{chr(0x06F0 + i): str(i) for i in range(10)},
        "\u066b": ".",
        "\u066c": ",",
    }
)


def ascii_digits(text: str) -> str:
    """``text`` with Arabic-Indic and Extended Arabic-Indic digits (and the Arabic decimal and
    thousands separators) as ASCII; nothing else changes, offsets included."""
    return text.translate(_DIGITS)


def fold(text: str) -> str:
    """``text`` for comparison: see the module docstring."""
    text = unicodedata.normalize("NFC", text).translate(_DASHES).translate(_APOSTROPHES)
    decomposed = unicodedata.normalize("NFD", text.casefold().replace(_TATWEEL, ""))
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
    )


def words(text: str) -> list[str]:
    """The words of ``text`` (letters, with inner apostrophes), as written."""
    return _WORD.findall(unicodedata.normalize("NFC", text).translate(_APOSTROPHES))


def _canonical(written: str) -> str:
    grouped = _GROUP.sub("", written)
    whole, _, decimals = grouped.replace(",", ".").partition(".")
    whole = whole.lstrip("0") or "0"
    decimals = decimals.rstrip("0")
    return f"{whole}.{decimals}" if decimals else whole


def numbers(text: str) -> list[str]:
    """The numbers written in digits in ``text``, canonical, in order (repeats kept)."""
    return [_canonical(m.group(0)) for m in _NUMBER.finditer(ascii_digits(text))]


def on_word_boundaries(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` neither starts nor ends inside a word (see the module
    docstring for the Arabic proclitic)."""
    if not 0 <= start < end <= len(text):
        return False
    after = end == len(text) or not _glued(text[end - 1], text[end])
    if start == 0 or not _glued(text[start - 1], text[start]):
        return after
    # One proclitic letter (tatweel allowed) that itself starts the word.
    i = start - 1
    while i >= 0 and text[i] == _TATWEEL:
        i -= 1
    if i < 0 or text[i] not in _PROCLITICS:
        return False
    return (i == 0 or not text[i - 1].isalpha()) and after


def _glued(a: str, b: str) -> bool:
    return (a.isalpha() and b.isalpha()) or (a.isdigit() and b.isdigit())


def count(token: str, text: str) -> int:
    """Non-overlapping occurrences of ``token`` in ``text`` (NFC, byte for byte)."""
    if not token:
        return 0
    return unicodedata.normalize("NFC", text).count(unicodedata.normalize("NFC", token))
