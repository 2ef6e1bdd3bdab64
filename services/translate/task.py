"""translate: the report into the target language, glossary terms and protected tokens kept."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from schemas.v1 import IngestedReport, TaskName
from services.config.schema import Config
from services.tasks.contract import TaskOutput
from services.tasks.prompting import OutputInvalid, PromptSpec, PromptStyle, Retry
from services.translate.glossary import Glossary
from services.translate.parse import needs_translation, parse_translation, translation_check
from services.translate.prompts import VERSION, build_translation
from services.translate.protect import protected_tokens


@dataclass(frozen=True)
class TranslateTask:
    glossary: Glossary
    target_language: str
    style: PromptStyle
    max_tokens: int = 1024
    task: ClassVar[TaskName] = "translate"
    version: ClassVar[str] = VERSION

    def answer_without_model(self, report: IngestedReport) -> TaskOutput | None:
        if not needs_translation(report.language, self.target_language):
            return TaskOutput(
                status="skipped",
                detail=f"already in {self.target_language}",
                text_language=self.target_language,
            )
        return None

    def _protected(self, report: IngestedReport) -> list[str]:
        return protected_tokens(report.normalised_text, self.glossary.protected)

    def fallback(self, report: IngestedReport, output: TaskOutput) -> TaskOutput:
        return output

    def prompt(self, report: IngestedReport, retry: Retry | None) -> PromptSpec:
        source = report.language or "und"
        return build_translation(
            report.normalised_text,
            source_language=source,
            target_language=self.target_language,
            terms=self.glossary.terms_in(report.normalised_text, source, self.target_language),
            protected=self._protected(report),
            style=self.style,
            retry=retry,
            max_tokens_ceiling=self.max_tokens,
        )

    def conclude(
        self, report: IngestedReport, text: str, finish_reason: str | None, *, final: bool
    ) -> TaskOutput:
        protected = self._protected(report)
        try:
            translation = parse_translation(
                text, finish_reason, protected=protected, source=report.normalised_text
            )
        except OutputInvalid as exc:
            # A translation that altered a protected token is still a translation: on the last
            # attempt it is kept, and the check below flags what it altered.
            if not final or exc.problem != "protected_altered":
                raise
            translation = parse_translation(
                text,
                finish_reason,
                protected=protected,
                source=report.normalised_text,
                check_protected=False,
            )
        source = report.language or "und"
        quality, flags = translation_check(
            report.normalised_text,
            translation,
            terms=self.glossary.terms_in(report.normalised_text, source, self.target_language),
            protected=protected,
        )
        return TaskOutput(
            text=translation,
            text_language=self.target_language,
            quality=quality,
            flags=flags,
        )


def build(cfg: Config, style: PromptStyle) -> TranslateTask:
    """The registry's builder; loading the glossary reads files (the caller runs it in a
    thread)."""
    t = cfg.tasks
    glossary = Glossary.load(
        Path(t.glossary_dir) if t.glossary_dir else Glossary.default_directory()
    )
    return TranslateTask(
        glossary=glossary,
        target_language=t.target_language,
        style=style,
        max_tokens=t.max_tokens,
    )
