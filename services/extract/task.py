"""extract: pattern entities always; model entities, grounded in the text, when configured."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Literal

from schemas.v1 import Entity, EntityType, IngestedReport, TaskName
from services.config.schema import Config
from services.domain.patterns import find_pattern_entities
from services.extract.constrained import source_entity_schema
from services.extract.designated import designated_entities
from services.extract.grounding import ground, grounding_quality
from services.extract.merge import merge_entities
from services.extract.model import ENTITY_TYPES, build_extraction, parse_entities
from services.extract.model import VERSION as MODEL_PROMPT_VERSION
from services.tasks.contract import TaskOutput
from services.tasks.prompting import PromptSpec, PromptStyle, Retry

#: 1.1: units and radio identifiers read by the domain's finders (services.extract.designated).
PATTERNS_VERSION = "extract-patterns/1.1"


def pattern_entities(report: IngestedReport) -> list[Entity]:
    """The entities read without the model: DTGs, grids, positions, then units and radio
    identifiers where none of those is; sorted by start."""
    text = report.normalised_text
    positional = find_pattern_entities(text, report.observed_at or report.ingested_at)
    designated = designated_entities(text, positional)
    return sorted([*positional, *designated], key=lambda e: (e.start, e.end))


@dataclass(frozen=True)
class ExtractTask:
    style: PromptStyle
    with_model: bool = True
    max_tokens: int = 1024
    #: "source": the model may write only spans of the report (a per-report schema);
    #: "free": any string, grounding drops what the report does not hold.
    spans: Literal["source", "free"] = "free"
    #: The types the model is asked for (the schema's alternatives); a model entity of another
    #: type (an engine that does not enforce schemas) is left out.
    model_types: tuple[EntityType, ...] = ENTITY_TYPES
    task: ClassVar[TaskName] = "extract"

    @property
    def version(self) -> str:
        if not self.with_model:
            return PATTERNS_VERSION
        spans = "+source-spans" if self.spans == "source" else ""
        if set(self.model_types) != set(ENTITY_TYPES):
            spans += f"+types:{','.join(sorted(self.model_types))}"
        return f"{PATTERNS_VERSION}+{MODEL_PROMPT_VERSION}{spans}"

    def answer_without_model(self, report: IngestedReport) -> TaskOutput | None:
        if self.with_model:
            return None
        return TaskOutput(entities=pattern_entities(report))

    def fallback(self, report: IngestedReport, output: TaskOutput) -> TaskOutput:
        # The deterministic entities stay valid whatever happened to the model.
        return replace(output, entities=pattern_entities(report))

    def prompt(self, report: IngestedReport, retry: Retry | None) -> PromptSpec:
        spec = build_extraction(
            report.normalised_text,
            style=self.style,
            retry=retry,
            max_tokens_ceiling=self.max_tokens,
        )
        if self.spans == "source":
            schema = source_entity_schema(report.normalised_text, self.model_types)
            spec = replace(spec, json_schema=schema)
        return spec

    def conclude(
        self, report: IngestedReport, text: str, finish_reason: str | None, *, final: bool
    ) -> TaskOutput:
        patterns = pattern_entities(report)
        proposed = parse_entities(text, finish_reason)
        grounding = ground(proposed, report.normalised_text)
        quality, flags = grounding_quality(grounding)
        asked = [e for e in grounding.entities if e.type in self.model_types]
        return TaskOutput(
            entities=merge_entities(patterns, asked),
            dropped_entities=len(grounding.dropped),
            quality=quality,
            flags=flags,
        )


def build(cfg: Config, style: PromptStyle) -> ExtractTask:
    """The registry's builder: extract as configured (``tasks.extract_with_model``)."""
    t = cfg.tasks
    return ExtractTask(
        style=style,
        with_model=t.extract_with_model,
        max_tokens=t.max_tokens,
        spans=t.extract_spans,
        model_types=t.extract_model_types,
    )
