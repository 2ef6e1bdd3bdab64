"""The language of a text too short for the identifier: what can still be told for certain.

The statistical identifier needs a sentence or two; a one-line answer is below what it can
judge (``services.tasks.language``). Two signs still hold on a few words:

- **the script**: a text whose letters are Cyrillic or Arabic for a large share is not French,
  English or any Latin-script target, however short (Cyrillic: Ukrainian when it has a letter only
  Ukrainian writes, і ї є ґ, else Russian);
- **function words**: between the Latin-script languages of the reports, French and English,
  the small closed words ("the", "of", "and", "was" / "le", "de", "et", "une") tell one from
  the other: two or more of one language's and none of the other's is a verdict.

Either sign is a verdict only when the text holds enough letters to carry it (``MIN_LETTERS``)
— a lone Cyrillic callsign in a French line is protected and set aside before this is asked,
and neither a short quotation nor a capitalised word (a name kept in its script) is counted.
Pure: the standard library only.
"""

from __future__ import annotations

import re

from services.domain.languages import language_key

__all__ = ["MIN_LETTERS", "MIN_SHARE", "short_text_language"]

#: Letters the text must hold for either sign.
MIN_LETTERS = 8
#: Share of the letters in one foreign script for the script to be a verdict: a text this
#: much in another script is at best half translated (no correct French text of the gold
#: set, reference or single line, reaches it: tests/unit/test_short_language.py).
MIN_SHARE = 0.4

_SCRIPT_OF_TARGET = {
    "fr": "latin",
    "en": "latin",
    "ru": "cyrillic",
    "uk": "cyrillic",
    "ar": "arabic",
}
_UKRAINIAN_ONLY = frozenset("іїєґІЇЄҐ")
_QUOTED = re.compile(r'«[^»\n]{0,40}»|“[^”\n]{0,40}”|„[^“\n]{0,40}“|"[^"\n]{0,40}"')
_ANY_WORD = re.compile(r"(?<!\w)[^\W\d_][\w'’-]*")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_FUNCTION_WORDS = {
    "en": frozenset(
        [
            "the",
            "of",
            "and",
            "to",
            "in",
            "is",
            "are",
            "was",
            "were",
            "with",
            "from",
            "at",
            "by",
            "for",
            "this",
            "that",
            "has",
            "have",
            "had",
            "been",
            "near",
            "their",
            "its",
            "it",
            "they",
            "into",
        ]
    ),
    "fr": frozenset(
        [
            "le",
            "la",
            "les",
            "de",
            "des",
            "du",
            "et",
            "à",
            "au",
            "aux",
            "un",
            "une",
            "est",
            "sont",
            "dans",
            "sur",
            "par",
            "pour",
            "avec",
            "été",
            "vers",
            "près",
            "ont",
            "leur",
        ]
    ),
}


def _script(char: str) -> str | None:
    if "\u0400" <= char <= "\u04ff":
        return "cyrillic"
    if "\u0600" <= char <= "\u06ff" or "\u0750" <= char <= "\u077f":
        return "arabic"
    if char.isascii() or "\u00c0" <= char <= "\u024f":
        return "latin"
    return None


def short_text_language(text: str, target: str, *, script_only: bool = False) -> str | None:
    """The language ``text`` is in when one of the two signs (the first only, with
    ``script_only``) says for certain that it is not ``target``; None when they do not (the
    text may well be in the target)."""
    key = language_key(target) or target
    # A short quotation keeps a name in its own script ("le poste « Северный »"): not counted.
    text = _QUOTED.sub(" ", text)
    # Names neither: a capitalised word may be a callsign or a place kept in its script
    # ("ici Алтай"); the words around them are what a translation writes.
    text = _ANY_WORD.sub(lambda m: " " if m.group(0)[0].isupper() else m.group(0), text)
    letters = [c for c in text if c.isalpha()]
    if len(letters) < MIN_LETTERS:
        return None
    scripts: dict[str, int] = {}
    for c in letters:
        s = _script(c)
        if s is not None:
            scripts[s] = scripts.get(s, 0) + 1
    wanted = _SCRIPT_OF_TARGET.get(key)
    if wanted is not None:
        for script, count in scripts.items():
            if script != wanted and count >= MIN_SHARE * len(letters):
                if script == "arabic":
                    return "ar"
                if script == "cyrillic":
                    return "uk" if any(c in _UKRAINIAN_ONLY for c in letters) else "ru"
                return "en" if key != "en" else None
    if (
        not script_only
        and key in _FUNCTION_WORDS
        and scripts.get("latin", 0) >= MIN_SHARE * len(letters)
    ):
        words = [w.casefold() for w in _WORD.findall(text)]
        counts = {lang: sum(w in fws for w in words) for lang, fws in _FUNCTION_WORDS.items()}
        other = "en" if key == "fr" else "fr"
        if counts[other] >= 2 and counts[key] == 0:
            return other
    return None
