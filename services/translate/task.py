"""translate: the report into the target language, glossary terms and protected tokens kept."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from schemas.v1 import Flag, IngestedReport, TaskName
from services.config.schema import Config
from services.domain.langid import identifier_for
from services.tasks.contract import TaskOutput
from services.tasks.language import (
    IdentifyLanguage,
    judge_language,
    wrong_language_error,
    wrong_language_flag,
)
from services.tasks.prompting import PromptSpec, PromptStyle, Retry
from services.translate.glossary import Glossary
from services.translate.parse import (
    cut_by_budget,
    needs_translation,
    parse_translation,
    require_protected,
    translation_check,
)
from services.translate.prompts import VERSION, build_translation
from services.translate.protect import protected_tokens


@dataclass(frozen=True)
class TranslateTask:
    glossary: Glossary
    target_language: str
    style: PromptStyle
    max_tokens: int = 1024
    #: What language a text is in (the ingest identifier); None: the output's language is not
    #: judged (no identifier for the target language).
    identify: IdentifyLanguage | None = None
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
        source_text = report.normalised_text
        # Empty, cut short (before the last attempt) or a copy of the report: another attempt.
        translation = parse_translation(
            text,
            finish_reason,
            protected=protected,
            source=source_text,
            check_protected=False,
            check_truncated=not final,
        )
        # The language first: a retry naming altered tokens cannot fix a text in another one.
        verdict = judge_language(
            translation,
            self.target_language,
            self.identify,
            protected=[*protected, *protected_tokens(translation, self.glossary.protected)],
        )
        if not final:
            if verdict.wrong:
                raise wrong_language_error(verdict, "translation")
            require_protected(protected, translation, source_text)
        # Kept: on the last attempt whatever it is — flagged, never silently.
        source = report.language or "und"
        quality, flags = translation_check(
            source_text,
            translation,
            terms=self.glossary.terms_in(source_text, source, self.target_language),
            protected=protected,
        )
        if verdict.wrong:
            flags.append(wrong_language_flag(verdict, self.task, "translation"))
        if cut_by_budget(text, finish_reason):
            flags.append(_truncated_flag(translation, source_text))
        return TaskOutput(
            text=translation,
            text_language=verdict.text_language,
            quality=quality,
            flags=flags,
        )


def _truncated_flag(translation: str, source: str) -> Flag:
    return Flag(
        code="truncated",
        detail=(
            f"the token budget ended the translation: {len(translation.split())} words "
            f"translated of a report of {len(source.split())} words; its end may be missing"
        ),
        task="translate",
    )


def build(cfg: Config, style: PromptStyle) -> TranslateTask:
    """The registry's builder; loading the glossary and the language identifier reads files
    (the caller runs it in a thread)."""
    t = cfg.tasks
    glossary = Glossary.load(
        Path(t.glossary_dir) if t.glossary_dir else Glossary.default_directory()
    )
    return TranslateTask(
        glossary=glossary,
        target_language=t.target_language,
        style=style,
        max_tokens=t.max_tokens,
        identify=identifier_for(t.target_language),
    )
