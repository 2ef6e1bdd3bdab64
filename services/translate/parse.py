"""Reading a translation out of the model's text, and measuring it against its source."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from schemas.v1 import Flag, Quality
from services.domain.languages import LANGUAGE_NAMES, language_key
from services.tasks.prompting import REPORT_CLOSE, REPORT_OPEN, OutputInvalid
from services.tasks.text import MAX_FLAG_ITEMS, collapse_repetition, flag_items
from services.translate.glossary import GlossaryTerm, adherence
from services.translate.protect import altered

__all__ = [
    "clean_translation",
    "needs_translation",
    "parse_translation",
    "translation_check",
]

_LABEL_WORDS = "|".join(
    [*LANGUAGE_NAMES.values(), "Report", "Translation", "Traduction", "Перевод", "Переклад"]
)
# A label the model wrote before its answer ("French: …", "Translation:").
_LEADING_LABEL = re.compile(rf"^\s*(?:{_LABEL_WORDS})\s*:[ \t]*\n?", re.IGNORECASE)
_PREAMBLE = re.compile(r"^\s*(?:here is|here's|voici)\b[^\n]{0,80}:[ \t]*(?:\n|$)", re.IGNORECASE)
# Where an echo of the prompt starts: the next example's header, the glossary, the frame.
_ECHO = re.compile(
    rf"\n[ \t]*(?:(?:{_LABEL_WORDS})[ \t]*:|(?:Glossary|Copy exactly)\b[^\n]{{0,40}}:)"
    rf"|{re.escape(REPORT_OPEN)}|{re.escape(REPORT_CLOSE)}",
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


def parse_translation(
    raw: str,
    finish_reason: str | None,
    *,
    protected: Sequence[str],
    source: str | None = None,
    check_protected: bool = True,
) -> str:
    """The translation in ``raw``, or :class:`OutputInvalid` saying what to change.

    ``protected_altered`` is raised so that the service retries once with those tokens named;
    on the final attempt call with ``check_protected=False`` and let :func:`translation_check`
    flag them. With ``source``, an output that merely repeats the report is ``unparseable``.
    """
    text, looped = _clean(raw)
    if not text:
        raise OutputInvalid("empty", "the model returned no translation")
    if finish_reason == "length" and not looped:
        # A decoding loop ran into the budget after the answer ended: more tokens would only
        # repeat it, so the collapsed text is kept. Anything else was cut short.
        raise OutputInvalid("truncated", "the token budget ended the translation")
    if not any(char.isalpha() for char in text):
        raise OutputInvalid("unparseable", "the output holds no words")
    if source is not None and _repeats_source(text, source, protected):
        raise OutputInvalid("unparseable", "the output repeats the report untranslated")
    if check_protected:
        missing = altered(protected, text)
        if missing:
            raise OutputInvalid(
                "protected_altered",
                f"{len(missing)} protected token(s) not copied exactly",
                items=tuple(missing[:MAX_FLAG_ITEMS]),
            )
    return text


def translation_check(
    source: str,
    translation: str,
    *,
    terms: Sequence[GlossaryTerm],
    protected: Sequence[str],
) -> tuple[Quality, list[Flag]]:
    """Glossary adherence and protected tokens kept, with a flag for each kind of miss."""
    source = unicodedata.normalize("NFC", source)
    present = [token for token in protected if token in source]
    missing = altered(present, translation)
    followed, missed = adherence(terms, translation)
    quality = Quality(
        glossary_terms=len(terms),
        glossary_followed=len(followed),
        protected_tokens=len(present),
        protected_kept=len(present) - len(missing),
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
                detail=f"{len(missing)} of {len(present)} protected tokens not kept byte for byte",
                task="translate",
                items=flag_items(missing),
            )
        )
    return quality, flags


# ------------------------------------------------------------------------------ cleaning


def _clean(raw: str) -> tuple[str, bool]:
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
    return text.strip(), looped


def _repeats_source(text: str, source: str, protected: Sequence[str]) -> bool:
    def words(value: str) -> list[str]:
        for token in protected:
            value = value.replace(token, " ")
        return [w.casefold() for w in re.findall(r"\w{2,}", value) if not w.isdigit()]

    source_words = words(unicodedata.normalize("NFC", source))
    # A report of codes and names only is legitimately the same in every language.
    return len(source_words) >= 3 and words(text) == source_words
