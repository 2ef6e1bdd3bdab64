"""Text normalisation and language identification (pure, offline)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

# C0/C1 controls except tab and newline carry no meaning in a report and confuse every consumer.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[^\S\n]+")  # any whitespace but newline, incl. NBSP and tabs
_BLANK_LINES = re.compile(r"\n{3,}")

#: Languages the feeds are expected in; restricting the identifier makes short texts reliable.
LANGUAGES: tuple[str, ...] = (
    "fr", "en", "ru", "uk", "ar", "de", "es", "it", "pl", "pt", "nl", "ro", "tr", "fa", "he",
)  # fmt: skip


def normalise_text(text: str) -> str:
    """NFC, one space between words, ``\\n`` line ends, at most one blank line, trimmed."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _CONTROLS.sub(" ", text)
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


@dataclass(frozen=True)
class LanguageGuess:
    language: str
    confidence: float


class LanguageIdentifier:
    """py3langid with normalised probabilities, loaded once, shared by threads."""

    def __init__(self, languages: tuple[str, ...] = LANGUAGES) -> None:
        from py3langid import langid

        self._identifier: Any = langid.LanguageIdentifier.from_model_file(
            langid.MODEL_FILE, norm_probs=True
        )
        self._identifier.set_languages(list(languages))

    def identify(self, text: str) -> LanguageGuess | None:
        """None when the text has too few letters to say anything."""
        letters = sum(ch.isalpha() for ch in text[:2000])
        if letters < 3:
            return None
        # classify() only reads the model's arrays: safe from several threads at once.
        language, probability = self._identifier.classify(text[:20000])
        return LanguageGuess(str(language), round(float(probability), 4))
