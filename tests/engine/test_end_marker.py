"""Base-model answers stop at their end marker: real llama.cpp, the shipped default model.

Without the marker the base model ran on past the end of a short translation — repeating the
report's lines until the budget ended it, twice (the retry's doubled budget went the same way).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from services.inference.engine import GenerationRequest
from services.tasks.prompting import END_STOP
from services.translate.parse import clean_translation
from services.translate.prompts import build_translation
from tests.engine.test_llama_engine import default_model, llama_engine

__all__ = ["default_model"]

REPORTS = (
    # One sentence a line: the model used to repeat the last two lines until the budget.
    "Convoy delayed.\nRoad blocked by mines.\nEngineers requested.",
    # Three short sentences: it used to write "French: …" again after its answer.
    "Reconnaissance drone spotted a column of five tanks heading south. The column stopped "
    "near the forest. Observation continues.",
    "Tanks seen. Moving north. No contact.",
)


@pytest.mark.parametrize("text", REPORTS)
async def test_a_translation_stops_at_its_end_marker(default_model: Path, text: str) -> None:
    spec = build_translation(
        text,
        source_language="en",
        target_language="fr",
        terms=(),
        protected=(),
        style="few-shot",
    )
    assert spec.prompt is not None and END_STOP in spec.stop
    async with llama_engine(default_model, max_sequences=2, decode_group=None) as engine:
        result = await engine.generate(
            GenerationRequest(
                request_id="t", max_tokens=spec.max_tokens, prompt=spec.prompt, stop=spec.stop
            )
        )
    assert result.finish_reason == "stop", result.text
    # The answer ended where it should: far from the budget, with no second copy of itself.
    assert result.completion_tokens <= spec.max_tokens // 2, result
    assert "French:" not in result.text
    translation = clean_translation(result.text)
    lines = [line for line in translation.splitlines() if line.strip()]
    assert len(lines) == len(set(lines)), translation
