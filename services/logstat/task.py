"""logstat: the quantities of logistics reports — LOGSTAT lines read by their grammar, free text
by the model under a JSON schema — each grounded in the text, merged, the patterns winning."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

from schemas.v1 import IngestedReport, Quality, TaskName
from services.config.schema import Config
from services.logstat.grounding import ground
from services.logstat.items import Quantity, Reading
from services.logstat.merge import (
    TASK,
    combine_flags,
    merge_quantities,
    model_flags,
    reading_flags,
)
from services.logstat.model import VERSION as MODEL_PROMPT_VERSION
from services.logstat.model import build_prompt, parse_items
from services.logstat.numbers import as_json_number
from services.logstat.parse import has_signal, parse_report, report_context
from services.logstat.reading import Context
from services.tasks.contract import TaskOutput
from services.tasks.prompting import OutputInvalid, PromptSpec, PromptStyle, Retry

PATTERNS_VERSION = "logstat-patterns/1.0"
NOT_LOGISTICS = "not a logistics report"


def read(report: IngestedReport) -> tuple[Reading, Context]:
    """The deterministic reading of ``report``, and the context grounding needs."""
    text = report.normalised_text
    anchor = report.observed_at or report.ingested_at
    ctx = report_context(text, anchor)
    return parse_report(text, anchor, ctx), ctx


def output_json(reading: Reading, quantities: list[Quantity]) -> dict[str, Any]:
    """The task's typed output, as the event's ``outputs["logstat"]`` carries it."""
    return {
        "unit": reading.unit,
        "dtg": reading.dtg,
        "items": [q.as_json() for q in quantities],
    }


@dataclass(frozen=True)
class LogstatTask:
    style: PromptStyle
    max_tokens: int = 1024
    task: ClassVar[TaskName] = TASK
    version: ClassVar[str] = f"{PATTERNS_VERSION}+{MODEL_PROMPT_VERSION}"

    def answer_without_model(self, report: IngestedReport) -> TaskOutput | None:
        """``skipped`` for what is not a logistics report (no engine spent on it); the patterns'
        reading alone for a LOGSTAT whose every line they read; else None: ask the model."""
        if report.kind == "sensor":
            return TaskOutput(status="skipped", detail="a sensor reading: " + NOT_LOGISTICS)
        if not has_signal(report.normalised_text):
            return TaskOutput(status="skipped", detail=NOT_LOGISTICS)
        reading, _ = read(report)
        if reading.line_format and reading.complete:
            return TaskOutput(
                output=output_json(reading, reading.quantities), flags=reading_flags(reading)
            )
        return None

    def fallback(self, report: IngestedReport, output: TaskOutput) -> TaskOutput:
        # The patterns' quantities stay valid whatever happened to the model.
        reading, _ = read(report)
        return replace(
            output,
            output=output_json(reading, reading.quantities),
            flags=combine_flags([*output.flags, *reading_flags(reading)]),
        )

    def prompt(self, report: IngestedReport, retry: Retry | None) -> PromptSpec:
        return build_prompt(
            report.normalised_text,
            style=self.style,
            retry=retry,
            max_tokens_ceiling=self.max_tokens,
        )

    def conclude(
        self, report: IngestedReport, text: str, finish_reason: str | None, *, final: bool
    ) -> TaskOutput:
        reading, ctx = read(report)
        proposed = parse_items(text, finish_reason)
        grounding = ground(proposed, ctx)
        if grounding.dropped and not final:
            # Named by number and unit only: the model's own words never reach the next prompt.
            raise OutputInvalid(
                "unfaithful",
                "quantities the report does not contain",
                items=tuple(f"{as_json_number(p.quantity)} {p.unit}" for p in grounding.dropped),
            )
        grounded = len(grounding.quantities) + grounding.repeated
        merged = merge_quantities(reading.quantities, grounding.quantities)
        return TaskOutput(
            output=output_json(reading, merged),
            dropped_entities=len(grounding.dropped),
            quality=Quality(
                entities_proposed=grounded + len(grounding.dropped), entities_grounded=grounded
            ),
            flags=combine_flags([*reading_flags(reading), *model_flags(grounding, merged)]),
        )


def build(cfg: Config, style: PromptStyle) -> LogstatTask:
    """The registry's builder."""
    return LogstatTask(style=style, max_tokens=cfg.tasks.max_tokens)
