"""The summary prompt: BLUF, word limit, target language, frame, shared prefix, retries."""

from __future__ import annotations

import pytest

from services.summarise.faithfulness import check_faithfulness
from services.summarise.parse import word_count
from services.summarise.prompts import (
    _EXAMPLES,
    VERSION,
    build_summary,
    retry_word_limit,
    summary_budget,
)
from services.tasks.prompting import REPORT_CLOSE, REPORT_OPEN, PromptSpec, PromptStyle, Retry

REPORT = (
    "COMPTE RENDU — 3e RIMa, 2e compagnie.\nLe 251430ZNOV26, la patrouille observe trois "
    "BTR-82A en mouvement vers le nord, position 31U DQ 48251 11932. Aucun tir."
)
OTHER = "SPOTREP. SIZE: 2 trucks. ACTIVITY: loading crates. TIME: 251512ZNOV26."
STYLES: list[PromptStyle] = ["chat", "few-shot"]


def _build(
    text: str = REPORT,
    style: PromptStyle = "chat",
    retry: Retry | None = None,
    target: str = "fr",
    max_words: int = 60,
    ceiling: int = 1024,
) -> PromptSpec:
    return build_summary(
        text,
        source_language="fr",
        target_language=target,
        max_words=max_words,
        style=style,
        retry=retry,
        max_tokens_ceiling=ceiling,
    )


def _common_prefix(first: str, second: str) -> str:
    length = next((i for i, (a, b) in enumerate(zip(first, second, strict=False)) if a != b), None)
    return first[: min(len(first), len(second)) if length is None else length]


def _text(spec: PromptSpec) -> str:
    if spec.prompt is not None:
        return spec.prompt
    assert spec.messages is not None
    return "\n".join(message.content for message in spec.messages)


def test_chat_shape() -> None:
    spec = _build()
    assert (spec.version, spec.style, spec.prompt) == (VERSION, "chat", None)
    assert spec.messages is not None
    system, user = spec.messages
    assert "in French" in system.content
    assert "Bottom line up front" in system.content
    assert "At most 60 words" in system.content
    assert "Use only facts the report states" in system.content
    assert user.content == f"{REPORT_OPEN}\n{REPORT}\n{REPORT_CLOSE}"


def test_few_shot_shape() -> None:
    spec = _build(style="few-shot")
    assert spec.prompt is not None and spec.messages is None
    assert spec.prompt.startswith("Summarise each military report in French")
    assert spec.prompt.count("\nBLUF: ") == 2  # two worked examples
    assert spec.prompt.count("Report:\n" + REPORT_OPEN) == 3
    assert spec.prompt.endswith(f"{REPORT_OPEN}\n{REPORT}\n{REPORT_CLOSE}\nBLUF:")
    assert "\n" in spec.stop and REPORT_OPEN in spec.stop


def test_english_target() -> None:
    assert "in English" in _text(_build(target="en"))
    prompt = _text(_build(style="few-shot", target="en"))
    assert "BLUF: Two T-72B3 tanks" in prompt


@pytest.mark.parametrize("style", STYLES)
def test_reports_share_a_prefix_up_to_the_report(style: PromptStyle) -> None:
    first, second = _text(_build(REPORT, style)), _text(_build(OTHER, style))
    shared = _common_prefix(first, second)
    report_at = first.rindex(REPORT_OPEN)
    assert len(shared) >= report_at


@pytest.mark.parametrize("style", STYLES)
def test_retry_after_unfaithful_names_the_facts(style: PromptStyle) -> None:
    first = _build(style=style)
    second = _build(style=style, retry=Retry("unfaithful", items=("4", "2e REP")))
    text = _text(second)
    assert text != _text(first)
    assert "Do not state: 4; 2e REP." in text
    assert "figures" in text


@pytest.mark.parametrize("style", STYLES)
def test_retry_after_too_long_asks_for_fewer_words(style: PromptStyle) -> None:
    text = _text(_build(style=style, retry=Retry("too_long")))
    assert f"at most {retry_word_limit(60)} words" in text
    assert retry_word_limit(60) == 40 and retry_word_limit(6) == 5


@pytest.mark.parametrize("style", STYLES)
def test_retry_after_empty_is_stricter(style: PromptStyle) -> None:
    assert _text(_build(style=style, retry=Retry("empty"))) != _text(_build(style=style))


@pytest.mark.parametrize("style", STYLES)
def test_retry_after_truncated_doubles_the_budget(style: PromptStyle) -> None:
    first = _build(style=style, ceiling=4096)
    second = _build(
        style=style, retry=Retry("truncated", previous_max_tokens=first.max_tokens), ceiling=4096
    )
    assert second.max_tokens == 2 * first.max_tokens


def test_budget_follows_the_word_limit() -> None:
    assert summary_budget(60, "fr", 1024) == 144
    assert summary_budget(60, "ar", 1024) > summary_budget(60, "fr", 1024)
    assert summary_budget(400, "fr", 256) == 256


@pytest.mark.parametrize("target", sorted(_EXAMPLES))
def test_worked_examples_are_faithful_and_short(target: str) -> None:
    # A base model imitates its examples: an example inventing a figure would teach it to.
    for report, summary in _EXAMPLES[target]:
        assert check_faithfulness(summary, [report]).unsupported == ()
        assert word_count(summary) <= 30


@pytest.mark.parametrize("style", STYLES)
def test_retry_after_wrong_language_insists_on_the_target_language(style: PromptStyle) -> None:
    first = _build(style=style)
    second = _build(style=style, retry=Retry("wrong_language", ("en",)))
    assert _text(second) != _text(first)
    assert "not in English" in _text(second)
