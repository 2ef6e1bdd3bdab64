"""A fourth task that exists only in the tests: the proof that a task is one module and one row.

Nothing else in the repository names it. ``vigie up`` with
``VIGIE_TASKS__EXTRA_ROWS=tests.integration.wordcount_task:ROW`` provisions its consumers, runs its
service, asks the engine on its behalf, and collate puts its output in the event.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.v1 import IngestedReport
from services.config.schema import Config
from services.tasks.contract import TaskOutput
from services.tasks.prompting import PromptSpec, PromptStyle, Retry, frame_report
from services.tasks.registry import TaskRow

NAME = "wordcount"
ROW = TaskRow(NAME, f"{__name__}:build", fills=("outputs",), description="test task")


@dataclass(frozen=True)
class WordCountTask:
    style: PromptStyle
    task: str = NAME
    version: str = "wordcount/1"

    def answer_without_model(self, report: IngestedReport) -> TaskOutput | None:
        return None

    def prompt(self, report: IngestedReport, retry: Retry | None) -> PromptSpec:
        text = f"How many words?\n{frame_report(report.normalised_text)}\nAnswer:"
        return PromptSpec(version=self.version, style="few-shot", max_tokens=8, prompt=text)

    def fallback(self, report: IngestedReport, output: TaskOutput) -> TaskOutput:
        return output

    def conclude(
        self, report: IngestedReport, text: str, finish_reason: str | None, *, final: bool
    ) -> TaskOutput:
        words = len(report.normalised_text.split())
        return TaskOutput(output={"words": words, "model_said": text.strip()[:64]})


def build(cfg: Config, style: PromptStyle) -> WordCountTask:
    return WordCountTask(style=style)
