"""Translation against the gold: chrF, term success rate, protected tokens, output language.

* chrF: sacrebleu's corpus-level chrF (its defaults: character 6-grams, β = 2, no word
  n-grams), one reference per segment, with its signature;
* term success rate (the WMT 2023 terminology task's measure): the share of the gold's glossary
  terms whose required target term appears in the output — case-folded, accents kept, on word
  boundaries, each word allowed a plural ending (``s``, ``x``, ``es``), hyphen and space
  interchangeable, typographic apostrophes read as ``'``;
* protected tokens exact: each gold protected token must appear in the output byte for byte as
  many times as in the source (non-overlapping occurrences); kept = min(output, source);
* output language: identified by py3langid restricted to the gold set's five languages, on the
  output without the gold's protected tokens and without any chunk holding a digit; fewer than
  :data:`MIN_LETTERS` letters left: not judged.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from services.evaluation.gold import GoldTerm
from services.evaluation.text import count

__all__ = [
    "GOLD_LANGUAGES",
    "MIN_LETTERS",
    "Chrf",
    "Identify",
    "ProtectedCount",
    "chrf",
    "judge_language",
    "judgeable",
    "protected_counts",
    "py3langid_identifier",
    "term_followed",
]

GOLD_LANGUAGES: tuple[str, ...] = ("fr", "en", "ru", "uk", "ar")
MIN_LETTERS = 20
#: ``text`` → its language code.
Identify = Callable[[str], str]


@dataclass(frozen=True)
class Chrf:
    score: float
    signature: str
    segments: int


def chrf(hypotheses: Sequence[str], references: Sequence[str]) -> Chrf | None:
    """Corpus-level chrF of ``hypotheses`` against one reference each; None for no segment."""
    if not hypotheses:
        return None
    if len(hypotheses) != len(references):
        raise ValueError("one reference per hypothesis")
    from sacrebleu.metrics.chrf import CHRF

    metric = CHRF()
    result = metric.corpus_score(list(hypotheses), [list(references)])
    return Chrf(round(float(result.score), 2), str(metric.get_signature()), len(hypotheses))


@cache
def _term_regex(target: str) -> re.Pattern[str]:
    parts = []
    for word in _plain(target).split():
        pieces = [re.escape(p) for p in re.split(r"[-\u2010\u2011]", word)]
        body = r"[-\u2010\u2011 ]".join(pieces)
        plural = r"(?:s|x|es)?" if word[-1:].isalpha() else ""
        parts.append(body + plural)
    return re.compile(r"(?<!\w)" + r"\s+".join(parts) + r"(?!\w)", re.IGNORECASE)


def term_followed(term: GoldTerm, output: str) -> bool:
    """Whether the term's required target appears in ``output`` (see the module docstring)."""
    if not term.target.strip():
        return False
    return _term_regex(term.target).search(_plain(output)) is not None


_APOSTROPHES = dict.fromkeys(map(ord, "\u2019\u02bc\u2018"), "'")


def _plain(text: str) -> str:
    return unicodedata.normalize("NFC", text).translate(_APOSTROPHES)


@dataclass(frozen=True)
class ProtectedCount:
    token: str
    in_source: int
    in_output: int

    @property
    def kept(self) -> int:
        return min(self.in_source, self.in_output)

    @property
    def lost(self) -> int:
        return self.in_source - self.kept


def protected_counts(tokens: Sequence[str], source: str, output: str) -> list[ProtectedCount]:
    """Each distinct gold token with its occurrences in the source and the output."""
    return [
        ProtectedCount(t, count(t, source), count(t, output)) for t in dict.fromkeys(tokens) if t
    ]


_WITH_DIGIT = re.compile(r"\S*\d\S*")


def judgeable(text: str, protected: Sequence[str] = ()) -> str:
    """``text`` without the protected tokens and the chunks holding a digit."""
    for token in sorted(set(protected), key=len, reverse=True):
        if token:
            text = text.replace(token, " ")
    return " ".join(_WITH_DIGIT.sub(" ", text).split())


def judge_language(text: str, identify: Identify, protected: Sequence[str] = ()) -> str | None:
    """The language of ``text``; None when too little of it is language (see the module
    docstring)."""
    rest = judgeable(text, protected)
    if sum(c.isalpha() for c in rest) < MIN_LETTERS:
        return None
    return identify(rest)


def py3langid_identifier(languages: Sequence[str] = GOLD_LANGUAGES) -> Identify:
    """py3langid's model restricted to ``languages`` (loading it takes most of a second)."""
    from py3langid import langid

    model: Any = langid.LanguageIdentifier.from_model_file(langid.MODEL_FILE)
    model.set_languages(list(languages))

    def identify(text: str) -> str:
        language, _ = model.classify(text)
        return str(language)

    return identify
