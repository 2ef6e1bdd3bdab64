"""Reading a translation out of the model's text, and measuring it against its source."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from schemas.v1 import Flag, Quality
from services.domain.languages import LANGUAGE_NAMES, language_key
from services.tasks.prompting import END_STOP, REPORT_CLOSE, REPORT_OPEN, OutputInvalid
from services.tasks.text import MAX_FLAG_ITEMS, collapse_repetition, flag_items
from services.translate.glossary import GlossaryTerm, adherence
from services.translate.protect import altered, kept_counts

__all__ = [
    "clean_translation",
    "cut_by_budget",
    "needs_translation",
    "parse_translation",
    "require_protected",
    "runs_past_source",
    "translation_check",
]

_LABEL_WORDS = "|".join(
    [*LANGUAGE_NAMES.values(), "Report", "Translation", "Traduction", "Перевод", "Переклад"]
)
# A label the model wrote before its answer ("French: …", "Translation:").
_LEADING_LABEL = re.compile(rf"^\s*(?:{_LABEL_WORDS})\s*:[ \t]*\n?", re.IGNORECASE)
_PREAMBLE = re.compile(r"^\s*(?:here is|here's|voici)\b[^\n]{0,80}:[ \t]*(?:\n|$)", re.IGNORECASE)
# Where an echo of the prompt starts: the next example's header, the glossary, the frame —
# or where the answer ended, for an engine that does not stop on strings.
_ECHO = re.compile(
    rf"\n[ \t]*(?:(?:{_LABEL_WORDS})[ \t]*:|(?:Glossary|Copy exactly)\b[^\n]{{0,40}}:)"
    rf"|{re.escape(REPORT_OPEN)}|{re.escape(REPORT_CLOSE)}|{re.escape(END_STOP)}",
    re.IGNORECASE,
)
_FENCE = re.compile(r"^```[^\n]*\n?|\n?```\s*$")


def needs_translation(source_language: str | None, target_language: str) -> bool:
    """Whether a report in ``source_language`` (None: unknown) needs translating."""
    source = language_key(source_language)
    if source is None or source in ("und", ""):
        return True
    return source != language_key(target_language)


def clean_translation(raw: str) -> str:
    """The answer without labels, echoed prompt parts or decoding loops (may be empty)."""
    return _clean(raw)[0]


def cut_by_budget(raw: str, finish_reason: str | None) -> bool:
    """Whether the token budget ended the translation in ``raw`` before it was complete (a
    decoding loop that ran into the budget after the answer ended is not a cut)."""
    return finish_reason == "length" and not _clean(raw)[1]


def parse_translation(
    raw: str,
    finish_reason: str | None,
    *,
    protected: Sequence[str],
    source: str | None = None,
    check_protected: bool = True,
    check_truncated: bool = True,
) -> str:
    """The translation in ``raw``, or :class:`OutputInvalid` saying what to change.

    ``protected_altered`` is raised so that the service retries once with those tokens named;
    on the final attempt call with ``check_protected=False`` and let :func:`translation_check`
    flag them. With ``source``, an output that merely repeats the report is ``unparseable``,
    and a protected token must be kept as many times as the source holds it. A translation the
    token budget cut short is ``truncated`` unless ``check_truncated`` is false (the final
    attempt keeps it, flagged).
    """
    text, ended = _clean(raw)
    if not text:
        raise OutputInvalid("empty", "the model returned no translation")
    if check_truncated and finish_reason == "length" and not ended:
        # An answer whose end shows (a decoding loop, an echo of the prompt, the end marker)
        # ran into the budget after it ended: more tokens would only run on, so the text up
        # to there is kept. Anything else was cut short — while still
        # translating, or after writing more than the report holds (then a larger budget
        # would only let it run on further).
        overran = source is not None and runs_past_source(text, source)
        raise OutputInvalid("truncated", "the token budget ended the translation", overran=overran)
    if not any(char.isalpha() for char in text):
        raise OutputInvalid("unparseable", "the output holds no words")
    if source is not None and _repeats_source(text, source, protected):
        raise OutputInvalid("unparseable", "the output repeats the report untranslated")
    if check_protected:
        require_protected(protected, text, source)
    return text


#: A translation longer than this many times its source's characters (plus a few for a short
#: report) says more than the report: French runs about a fifth longer than English, and
#: Cyrillic and Arabic reports translate to about as many Latin characters as they hold.
SOURCE_LENGTH_RATIO = 1.5
SOURCE_LENGTH_SLACK = 40


def runs_past_source(translation: str, source: str) -> bool:
    """Whether ``translation`` is already longer than any translation of ``source`` should be
    (the model went on writing after the report's last sentence)."""
    return len(translation) > SOURCE_LENGTH_RATIO * len(source.strip()) + SOURCE_LENGTH_SLACK


def require_protected(protected: Sequence[str], translation: str, source: str | None) -> None:
    """:class:`OutputInvalid` (``protected_altered``, the tokens named) unless ``translation``
    keeps every protected token byte for byte, as many times as ``source`` holds it."""
    missing = altered(protected, translation, source=source)
    if missing:
        raise OutputInvalid(
            "protected_altered",
            f"{len(missing)} protected token(s) not copied exactly",
            items=tuple(missing[:MAX_FLAG_ITEMS]),
        )


def translation_check(
    source: str,
    translation: str,
    *,
    terms: Sequence[GlossaryTerm],
    protected: Sequence[str],
) -> tuple[Quality, list[Flag]]:
    """Glossary adherence and protected tokens kept, with a flag for each kind of miss.

    Protected tokens are counted in occurrences: a token the source holds twice and the
    translation once is one of two kept, and the flag says so."""
    source = unicodedata.normalize("NFC", source)
    counts = [c for c in kept_counts(protected, source, translation) if c.in_source > 0]
    missing = [c for c in counts if c.kept < c.in_source]
    occurrences = sum(c.in_source for c in counts)
    kept = sum(c.kept for c in counts)
    followed, missed = adherence(terms, translation)
    quality = Quality(
        glossary_terms=len(terms),
        glossary_followed=len(followed),
        protected_tokens=occurrences,
        protected_kept=kept,
    )
    flags: list[Flag] = []
    if missed:
        flags.append(
            Flag(
                code="glossary_missed",
                detail=f"{len(missed)} of {len(terms)} glossary terms not followed",
                task="translate",
                items=flag_items(f"{term.source} → {term.target}" for term in missed),
            )
        )
    if missing:
        flags.append(
            Flag(
                code="protected_altered",
                detail=f"{occurrences - kept} of {occurrences} protected tokens not kept byte "
                "for byte",
                task="translate",
                items=flag_items(c.describe() for c in missing),
            )
        )
    return quality, flags


# ------------------------------------------------------------------------------ cleaning


def _clean(raw: str) -> tuple[str, bool]:
    """The answer, and whether its end shows (an echo of the prompt or the end marker after it,
    or a decoding loop)."""
    text = unicodedata.normalize("NFC", raw).strip()
    text = _FENCE.sub("", text).strip()
    if text.startswith(REPORT_OPEN):
        # The answer came framed like the report: keep what the frame holds.
        text = text[len(REPORT_OPEN) :].lstrip("\n")
    text = _PREAMBLE.sub("", text, count=1)
    text = _LEADING_LABEL.sub("", text, count=1)
    echo = _ECHO.search(text)
    if echo is not None:
        text = text[: echo.start()]
    text, looped = collapse_repetition(text.strip())
    return text.strip(), looped or echo is not None


def _repeats_source(text: str, source: str, protected: Sequence[str]) -> bool:
    def words(value: str) -> list[str]:
        for token in protected:
            value = value.replace(token, " ")
        return [w.casefold() for w in re.findall(r"\w{2,}", value) if not w.isdigit()]

    source_words = words(unicodedata.normalize("NFC", source))
    # A report of codes and names only is legitimately the same in every language.
    return len(source_words) >= 3 and words(text) == source_words
