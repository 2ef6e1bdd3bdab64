"""The shape every task's prompt builder returns and every output parser raises.

Builders and parsers are pure functions of plain values; the task service turns a
:class:`PromptSpec` into an ``InferenceRequest`` and hands the engine's text to the parser.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

import msgspec

from schemas.v1 import ChatMessage
from services.domain.languages import language_name

#: "chat": an instruction model, prompted with messages and its chat template;
#: "few-shot": a base model, prompted with worked examples ending where its answer starts.
PromptStyle = Literal["chat", "few-shot"]

#: Why an output was refused; the retry changes what failed (see :func:`retry_change`).
Problem = Literal[
    "empty",  # nothing usable came back
    "truncated",  # the token budget ended the output
    "unparseable",  # not the expected shape (JSON that does not decode, no answer line…)
    "too_long",  # longer than the task allows
    "protected_altered",  # a do-not-translate token changed
    "unfaithful",  # a summary states facts the source does not contain
    "wrong_language",  # not in the language asked for (items: the language found)
]


@dataclass(frozen=True)
class PromptSpec:
    """One generation request, before it is addressed to a report and an engine."""

    version: str
    style: PromptStyle
    max_tokens: int
    prompt: str | None = None
    messages: tuple[ChatMessage, ...] | None = None
    stop: tuple[str, ...] = ()
    json_schema: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("a prompt spec has exactly one of prompt and messages")
        if self.max_tokens < 1:
            raise ValueError("max_tokens must be ≥ 1")


@dataclass
class OutputInvalid(Exception):
    """A model output a task cannot use. ``items`` names what failed (tokens, facts…)."""

    problem: Problem
    detail: str
    items: tuple[str, ...] = field(default=())
    recoverable: bool = True
    #: ``truncated`` only: the budget was spent past where the answer should have ended (text
    #: the report does not call for, a loop): a larger budget would be spent the same way.
    overran: bool = False

    def __str__(self) -> str:
        return f"{self.problem}: {self.detail}"


@dataclass(frozen=True)
class Retry:
    """What the previous attempt got wrong: the builder makes the next attempt differ there —
    with greedy decoding the same request would repeat the same output."""

    problem: Problem
    items: tuple[str, ...] = ()
    previous_max_tokens: int = 0
    #: The previous output ran past its answer's end into the budget (``OutputInvalid.overran``).
    overran: bool = False


def retry_language(retry: Retry | None) -> str:
    """The language a ``wrong_language`` retry found, by name, for the correction to say."""
    if retry is None or not retry.items:
        return "another language"
    return language_name(retry.items[0]) or "another language"


def retry_budget(retry: Retry | None, base: int, ceiling: int) -> int:
    """The token budget of an attempt: doubled (up to ``ceiling``) after an output the budget
    cut short while it was still answering; the same after one that ran past its answer's end
    (``overran``): with greedy decoding a doubled budget would be spent running on further."""
    if retry is not None and retry.problem == "truncated" and not retry.overran:
        return min(ceiling, max(base, retry.previous_max_tokens) * 2)
    return base


REPORT_OPEN = "<<<REPORT"
REPORT_CLOSE = "REPORT>>>"
#: Ends every worked answer of a few-shot prompt, on a line of its own, so that a base model
#: writes it after its own answer and the engine stops there (:data:`END_STOP`) instead of
#: running on into the budget. No report can hand it to the model: :func:`frame_report`
#: defuses it, as it defuses the frame's own markers.
END_MARKER = "<<<END>>>"
#: The stop string of :data:`END_MARKER`: its start is enough, a model that writes it has
#: finished its answer even if it gets the rest of the marker wrong.
END_STOP = "<<<END"


def frame_report(text: str) -> str:
    """The report text between markers the text itself cannot close early.

    Report text is data, never instructions: a marker inside it is defused so that a report
    cannot end its own frame and write what looks like the prompt's next instruction.
    """
    inner = (
        text.replace(REPORT_CLOSE, "REPORT>\u200b>>")
        .replace(REPORT_OPEN, "<<\u200b<REPORT")
        .replace(END_STOP, "<<\u200b<END")
    )
    return f"{REPORT_OPEN}\n{inner}\n{REPORT_CLOSE}"


def end_answer(answer: str) -> str:
    """A worked answer of a few-shot prompt followed by :data:`END_MARKER` on its own line."""
    return f"{answer}\n{END_MARKER}"


_T_co = TypeVar("_T_co", covariant=True)


class _Decoder(Protocol[_T_co]):
    def decode(self, data: bytes | str) -> _T_co: ...


def json_object_part(raw: str) -> str:
    """The JSON object in ``raw``: an instruction model may wrap it in a code fence or a
    sentence when the engine does not enforce the schema."""
    text = raw.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0].strip()
    if not text.startswith("{"):
        start, end = text.find("{"), text.rfind("}")
        if start != -1 and end > start:
            text = text[start : end + 1]
    return text


def decode_answer(
    decoder: _Decoder[_T_co], raw: str, finish_reason: str | None, *, the: str, a: str
) -> _T_co:
    """A model's JSON answer decoded, else :class:`OutputInvalid`: ``truncated`` when the token
    budget ended an output that does not parse, ``empty`` when nothing came back,
    ``unparseable`` otherwise (``the``/``a``: "the entity list"/"an entity list", for details)."""
    try:
        return decoder.decode(json_object_part(raw))
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError too
        if finish_reason == "length":
            # The budgets of JSON answers are derived from their schema's bounds: an answer
            # that does not fit ran on past what a valid one holds.
            ended = f"the token budget ended {the}"
            raise OutputInvalid("truncated", ended, overran=True) from None
        if not raw.strip():
            raise OutputInvalid("empty", "the model returned nothing") from None
        raise OutputInvalid("unparseable", f"not {a}: {exc}") from None
