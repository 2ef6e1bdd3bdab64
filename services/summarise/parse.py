"""Reading a summary out of the model's text; bounding its length."""

from __future__ import annotations

import re
import unicodedata

from services.tasks.prompting import REPORT_CLOSE, REPORT_OPEN, OutputInvalid
from services.tasks.text import collapse_repetition

__all__ = ["clean_summary", "over_limit", "parse_summary", "truncate_words", "word_count"]

# The label of a few-shot answer, or one an instruction model adds on its own.
_LABEL = re.compile(
    r"^\s*(?:\*\*)?(?:BLUF|Bottom line(?: up front)?|Summary|Résumé|Synthèse|En bref)"
    r"(?:\*\*)?\s*[:：—–-]\s*(?:\*\*)?\s*",
    re.IGNORECASE,
)
# Where an echo of the prompt starts: the next example, the frame.
_ECHO = re.compile(
    rf"\n[ \t]*(?:Report|BLUF)[ \t]*:|{re.escape(REPORT_OPEN)}|{re.escape(REPORT_CLOSE)}",
    re.IGNORECASE,
)
_FENCE = re.compile(r"^```[^\n]*\n?|\n?```\s*$")
_WORD = re.compile(r"\S+")
_SENTENCE_END = re.compile(r"[.!?…](?=[\s\"»”)]|$)")


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def over_limit(words: int, max_words: int) -> bool:
    """Whether ``words`` exceeds ``max_words`` by more than the tolerated margin (a tenth, at
    least two words): a model counts words loosely, and a retry costs more than a word."""
    return words > max_words + max(2, max_words // 10)


def clean_summary(raw: str) -> tuple[str, bool]:
    """(summary, whether a decoding loop was collapsed): no label, no echo, one paragraph."""
    text = unicodedata.normalize("NFC", raw).strip()
    text = _FENCE.sub("", text).strip()
    echo = _ECHO.search(text)
    if echo is not None:
        text = text[: echo.start()]
    text = _LABEL.sub("", text, count=1)
    text, looped = collapse_repetition(text.strip())
    return " ".join(text.split()), looped


def parse_summary(raw: str, finish_reason: str | None, *, max_words: int) -> str:
    """The summary in ``raw``, or :class:`OutputInvalid` (``empty``, ``truncated``,
    ``too_long``). On the final attempt the service may keep an over-long or truncated output
    through :func:`truncate_words`."""
    text, looped = clean_summary(raw)
    if not text or not any(char.isalnum() for char in text):
        raise OutputInvalid("empty", "the model returned no summary")
    if finish_reason == "length" and not looped:
        # The budget holds the word limit with room to spare: a summary it cut ran on past it.
        raise OutputInvalid("truncated", "the token budget ended the summary", overran=True)
    words = word_count(text)
    if over_limit(words, max_words):
        raise OutputInvalid("too_long", f"{words} words, at most {max_words} allowed")
    return text


def truncate_words(text: str, max_words: int) -> str:
    """``text`` cut to at most ``max_words`` words: at the last sentence end when that keeps at
    least half of them, else at a word boundary with an ellipsis."""
    text, _ = clean_summary(text)
    words = list(_WORD.finditer(text))
    if len(words) <= max_words:
        return text
    if max_words < 1:
        return ""
    head = text[: words[max_words - 1].end()]
    ends = list(_SENTENCE_END.finditer(head))
    if ends:
        cut = head[: ends[-1].end()]
        if word_count(cut) * 2 >= max_words:
            return cut
    return head.rstrip(",;:—–- ") + "…"
