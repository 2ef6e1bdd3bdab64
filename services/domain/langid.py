"""Language identification (py3langid, offline): one model per process, shared by threads.

Ingest identifies the report's language with it; translate and summarise identify the language
of what the model wrote. Loading the model takes most of a second, so nothing loads it at import:
:func:`identify_language` loads it on its first call and every later call, from any thread or
task of the process, reuses it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.domain.languages import language_key

__all__ = [
    "LANGUAGES",
    "LanguageGuess",
    "LanguageIdentifier",
    "identifier_for",
    "identify_language",
    "shared_identifier",
]

#: Languages the feeds are expected in; restricting the identifier makes short texts reliable.
LANGUAGES: tuple[str, ...] = (
    "fr", "en", "ru", "uk", "ar", "de", "es", "it", "pl", "pt", "nl", "ro", "tr", "fa", "he",
)  # fmt: skip


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


_shared: LanguageIdentifier | None = None
_loading = threading.Lock()


def shared_identifier() -> LanguageIdentifier:
    """The process's identifier, loaded on the first call (most of a second), then reused."""
    global _shared
    if _shared is None:
        with _loading:
            if _shared is None:
                _shared = LanguageIdentifier()
    return _shared


def identify_language(text: str) -> tuple[str | None, float]:
    """(language, confidence) of ``text`` by the shared identifier; (None, 0.0) when it has
    too few letters to say anything."""
    guess = shared_identifier().identify(text)
    return (None, 0.0) if guess is None else (guess.language, guess.confidence)


def identifier_for(target_language: str) -> Callable[[str], tuple[str | None, float]] | None:
    """:func:`identify_language` for a task whose outputs must be in ``target_language``, or
    None when the identifier does not know that language (nothing can then be judged).

    Loads the shared model now, once per process: a task's builder runs in a thread at the
    service's start, so the first output checked on the event loop does not wait for it.
    """
    if language_key(target_language) not in LANGUAGES:
        return None
    shared_identifier()
    return identify_language
