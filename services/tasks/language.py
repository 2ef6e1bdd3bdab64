"""Is a model's text in the language it was asked for? Judged only where it can be judged.

A translation or a summary must be in the target language; a model may answer in the report's
language or in English instead. The identifier (:mod:`services.domain.langid`, injected as a
plain callable so that task logic stays pure) is unreliable on short texts and on texts made of
codes, so the text is judged only when, with its protected tokens (DTGs, grids, designations,
callsigns, acronyms…), every word holding a digit and every all-capitals word set aside, enough
letters and words remain; and a language other than the target is a verdict only
with high confidence. Flag precision matters more than recall: an output this cannot judge is
not flagged, and its language is taken to be the one it was asked in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from schemas.v1 import Flag, TaskName
from services.domain.acronyms import find_acronyms
from services.domain.comms import find_comms
from services.domain.designations import find_equipment, find_unit_designations
from services.domain.languages import language_key, language_name
from services.domain.patterns import find_pattern_entities
from services.tasks.prompting import OutputInvalid
from services.tasks.short_language import short_text_language

__all__ = [
    "COPY_MIN_WORDS",
    "COPY_SHARE",
    "MIN_CONFIDENCE",
    "MIN_LETTERS",
    "MIN_WORDS",
    "SUMMARY_COPY_MIN_WORDS",
    "WITH_DIGIT",
    "IdentifyLanguage",
    "LanguageVerdict",
    "copies_source",
    "judge_copy",
    "judge_language",
    "judgeable_text",
    "wrong_language_error",
    "wrong_language_flag",
]

#: ``text`` → (language code or None, confidence in [0, 1]): the ingest identifier's answer.
IdentifyLanguage = Callable[[str], tuple[str | None, float]]

#: Letters and words (of two letters or more) that must remain once codes and digits are set
#: aside. Below them the identifier's guess on a one-line answer is noise (see
#: tests/unit/test_output_language.py for the calibration on the gold set).
MIN_LETTERS = 30
MIN_WORDS = 6
#: A language other than the target is a verdict only at this confidence or above.
MIN_CONFIDENCE = 0.95

#: A whitespace-delimited chunk holding a digit: DTGs, grids, designations, figures, times.
WITH_DIGIT = re.compile(r"\S*\d\S*")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_SPACES = re.compile(r"[^\S\n]+")


@dataclass(frozen=True)
class LanguageVerdict:
    """What the identifier said of a text asked in ``target`` (``language`` None: not judged)."""

    target: str
    language: str | None = None
    confidence: float = 0.0
    #: What said so: the identifier (with its confidence), or a sign that needs none.
    sign: str | None = None

    @property
    def wrong(self) -> bool:
        """Confidently in a language other than the target."""
        return (
            self.language is not None
            and self.confidence >= MIN_CONFIDENCE
            and language_key(self.language) != language_key(self.target)
        )

    @property
    def text_language(self) -> str:
        """The language the text is in: the one identified when it is confidently another,
        else the target (identified as such, or not judgeable)."""
        return self.language if self.wrong and self.language is not None else self.target


#: An output whose words (three letters or more, not protected, holding no digit) are at least
#: this share words of the report, with at least ``COPY_MIN_WORDS`` of them, is the report's
#: language copied, not the target's. Calibrated on the gold set: a correct reference
#: translation shares at most 0.37 of its words with its report (names and cognates), a gold
#: summary fact of four words or more at most 0.5.
COPY_SHARE = 0.8
COPY_MIN_WORDS = 6
_COPY_WORD = re.compile(r"[^\W\d_]{3,}")


def copies_source(
    output: str, source: str, protected: Sequence[str] = (), *, min_words: int = COPY_MIN_WORDS
) -> bool:
    """Whether ``output`` is mostly the report's own words (in capitals or not: an all-caps
    report copied is still a copy, though no identifier can judge its language)."""

    def words(value: str) -> list[str]:
        for token in sorted(set(protected), key=len, reverse=True):
            if token:
                value = value.replace(token, " ")
        return [w.casefold() for w in _COPY_WORD.findall(WITH_DIGIT.sub(" ", value))]

    said = words(output)
    if len(said) < min_words:
        return False
    held = set(words(source))
    return sum(w in held for w in said) >= COPY_SHARE * len(said)


#: A summary is short: four words of the report's own (at most 0.5 for a gold summary fact)
#: already say it was copied, where a translation needs ``COPY_MIN_WORDS``.
SUMMARY_COPY_MIN_WORDS = 4


def judge_copy(
    verdict: LanguageVerdict,
    output: str,
    source: str,
    source_language: str | None,
    protected: Sequence[str] = (),
    *,
    min_words: int = COPY_MIN_WORDS,
) -> LanguageVerdict:
    """``verdict``, or — when the identifier found nothing wrong, the report is in another
    language than the target and ``output`` is mostly its words — a verdict that ``output`` is
    in the report's language: even where no identifier can say so (a report in capitals, codes
    and abbreviations copied, a one-line summary)."""
    language = language_key(source_language)
    if (
        verdict.wrong
        or language in (None, "und")
        or language == language_key(verdict.target)
        or not copies_source(output, source, protected, min_words=min_words)
    ):
        return verdict
    return LanguageVerdict(verdict.target, language, 1.0, "copied from the report")


def judgeable_text(text: str, protected: Sequence[str] = ()) -> str:
    """``text`` without what says nothing of its language: the ``protected`` tokens and those
    the domain's finders recognise (DTGs, grids, positions, unit and equipment designations,
    frequencies and callsigns, acronyms), every chunk holding a digit, every all-capitals
    word."""
    chars = list(text)
    spans = [(e.start, e.end) for e in find_pattern_entities(text)]
    for finder in (find_unit_designations, find_equipment, find_comms, find_acronyms):
        spans += [(span.start, span.end) for span in finder(text)]
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    text = "".join(chars)
    for token in sorted(set(protected), key=len, reverse=True):
        if token:
            text = text.replace(token, " ")
    text = WITH_DIGIT.sub(" ", text)
    text = _WORD.sub(lambda m: " " if len(m.group(0)) > 1 and m.group(0).isupper() else m[0], text)
    return _SPACES.sub(" ", text).strip()


def judge_language(
    text: str,
    target: str,
    identify: IdentifyLanguage | None,
    *,
    protected: Sequence[str] = (),
) -> LanguageVerdict:
    """The language ``text`` is in, when it can be judged (see the module docstring)."""
    if identify is None:
        return LanguageVerdict(target)
    rest = judgeable_text(text, protected)
    words = [w for w in _WORD.findall(rest) if len(w) > 1]
    letters = sum(char.isalpha() for char in rest)
    if letters < MIN_LETTERS or len(words) < MIN_WORDS:
        # Too short for the identifier: what the script and the function words tell for
        # certain (services.tasks.short_language), else no verdict.
        certain = short_text_language(rest, target)
        if certain is not None:
            return LanguageVerdict(target, certain, 1.0, sign="script or function words")
        return LanguageVerdict(target)
    language, confidence = identify(rest)
    verdict = LanguageVerdict(target)
    if language is not None:
        verdict = LanguageVerdict(target, language_key(language) or language, float(confidence))
    if not verdict.wrong:
        # The identifier unsure: the script alone is still certain (a text mostly in Cyrillic
        # is not French, whatever the identifier's confidence between Russian and Ukrainian).
        certain = short_text_language(rest, target, script_only=True)
        if certain is not None:
            return LanguageVerdict(target, certain, 1.0, sign="script")
    return verdict


def _describe(verdict: LanguageVerdict, what: str) -> str:
    found = language_name(verdict.language) or verdict.language
    wanted = language_name(verdict.target) or verdict.target
    how = verdict.sign or f"confidence {verdict.confidence:.2f}"
    return f"the {what} is in {found} ({how}), not in {wanted}"


def wrong_language_error(verdict: LanguageVerdict, what: str) -> OutputInvalid:
    """The retry's reason: the language found (its code, in ``items``) and the one asked for."""
    return OutputInvalid(
        "wrong_language", _describe(verdict, what), items=(verdict.language or "und",)
    )


def wrong_language_flag(verdict: LanguageVerdict, task: TaskName, what: str) -> Flag:
    """The flag of an output kept, on the last attempt, in another language than the target."""
    return Flag(
        code="wrong_language",
        detail=_describe(verdict, what),
        task=task,
        items=[verdict.language or "und"],
    )
