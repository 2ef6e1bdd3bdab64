"""Text normalisation and language identification (pure, offline).

The identifier lives in :mod:`services.domain.langid`, shared with the tasks that check the
language of what the model wrote; it is re-exported here for ingest.
"""

from __future__ import annotations

import re
import unicodedata

from services.domain.langid import LANGUAGES, LanguageGuess, LanguageIdentifier

__all__ = ["LANGUAGES", "LanguageGuess", "LanguageIdentifier", "normalise_text"]

# C0/C1 controls except tab and newline carry no meaning in a report and confuse every consumer.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[^\S\n]+")  # any whitespace but newline, incl. NBSP and tabs
_BLANK_LINES = re.compile(r"\n{3,}")


def normalise_text(text: str) -> str:
    """NFC, one space between words, ``\\n`` line ends, at most one blank line, trimmed."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _CONTROLS.sub(" ", text)
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
