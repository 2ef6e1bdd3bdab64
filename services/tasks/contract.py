"""The contract every task implements: pure, so a task's logic is tested with plain values.

A task's logic builds prompts and checks outputs; it never touches the bus. This module imports
no transport (no nats, no OpenTelemetry): the service in ``services.tasks.service`` carries the
conversation with the engine, and ``services.tasks.registry`` says which tasks exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from schemas.v1 import Entity, Flag, IngestedReport, LanguageCode, Quality, TaskStatus
from services.tasks.prompting import PromptSpec, Retry


@dataclass(frozen=True)
class TaskOutput:
    """What a task concluded about one report (the service adds identity and provenance)."""

    status: TaskStatus = "ok"
    detail: str | None = None
    #: A text output (a translation, a summary): the event field the registry row names.
    text: str | None = None
    text_language: LanguageCode | None = None
    entities: list[Entity] = field(default_factory=list)
    dropped_entities: int = 0
    quality: Quality | None = None
    flags: list[Flag] = field(default_factory=list)
    #: The task's own typed output (a JSON object), carried in the event's ``outputs[task]``.
    output: dict[str, Any] | None = None


class TaskLogic(Protocol):
    """The pure side of a task: prompt building and output checking, no I/O."""

    @property
    def task(self) -> str:
        """The task's name: its registry row, its subjects, its consumers."""

    @property
    def version(self) -> str:
        """Version of the task's logic, in its provenance."""

    def answer_without_model(self, report: IngestedReport) -> TaskOutput | None:
        """The output when the model is not needed (e.g. ``skipped``), else None."""

    def prompt(self, report: IngestedReport, retry: Retry | None) -> PromptSpec: ...

    def fallback(self, report: IngestedReport, output: TaskOutput) -> TaskOutput:
        """``output`` (failed or expired: the model gave nothing usable) with whatever the task
        knows without the model (extract: its pattern entities)."""

    def conclude(
        self, report: IngestedReport, text: str, finish_reason: str | None, *, final: bool
    ) -> TaskOutput:
        """Parse and check an output. Raises :class:`~services.tasks.prompting.OutputInvalid`
        when another attempt should be made; on the ``final`` attempt returns what can be kept,
        flagged."""
