"""Language codes and names: the key the glossary and the prompts use, and its English name.

Shared by translate (glossary files, prompts, output labels) and summarise (target language).
Pure (standard library only), so neither task imports the other for it.
"""

from __future__ import annotations

__all__ = ["LANGUAGE_NAMES", "language_key", "language_name"]

# ISO 639-2/3 codes of the languages the glossary ships, mapped to the 639-1 file names.
_THREE_LETTER = {"fra": "fr", "fre": "fr", "eng": "en", "rus": "ru", "ukr": "uk", "ara": "ar"}

LANGUAGE_NAMES = {
    "fr": "French",
    "en": "English",
    "ru": "Russian",
    "uk": "Ukrainian",
    "ar": "Arabic",
    "de": "German",
    "es": "Spanish",
    "it": "Italian",
    "pl": "Polish",
    "fa": "Persian",
    "tr": "Turkish",
    "zh": "Chinese",
}


def language_key(code: str | None) -> str | None:
    """``code`` as the glossary names languages: lower case, ISO 639-1 where one exists."""
    if code is None:
        return None
    key = code.strip().lower().replace("_", "-").split("-")[0]
    return _THREE_LETTER.get(key, key) or None


def language_name(code: str | None) -> str | None:
    """The English name of a language code, the code itself if unknown, None if undetermined."""
    key = language_key(code)
    if key is None or key in ("und", "xx", ""):
        return None
    return LANGUAGE_NAMES.get(key, key)
