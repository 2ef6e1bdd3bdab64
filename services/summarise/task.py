"""summarise: bottom line up front, bounded, in the target language, every fact from the source."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from schemas.v1 import Flag, IngestedReport, TaskName
from services.config.schema import Config
from services.domain.langid import identifier_for
from services.summarise.faithfulness import check_faithfulness, summary_check
from services.summarise.parse import clean_summary, parse_summary, truncate_words, word_count
from services.summarise.prompts import VERSION, build_summary
from services.tasks.contract import TaskOutput
from services.tasks.language import (
    SUMMARY_COPY_MIN_WORDS,
    IdentifyLanguage,
    judge_copy,
    judge_language,
    judgeable_text,
    wrong_language_error,
    wrong_language_flag,
)
from services.tasks.prompting import OutputInvalid, PromptSpec, PromptStyle, Retry


@dataclass(frozen=True)
class SummariseTask:
    target_language: str
    max_words: int
    style: PromptStyle
    max_tokens: int = 1024
    #: What language a text is in (the ingest identifier); None: the summary's language is not
    #: judged (no identifier for the target language).
    identify: IdentifyLanguage | None = None
    task: ClassVar[TaskName] = "summarise"
    version: ClassVar[str] = VERSION

    def answer_without_model(self, report: IngestedReport) -> TaskOutput | None:
        if report.kind == "sensor":
            return TaskOutput(status="skipped", detail="a structured reading needs no summary")
        return None

    def fallback(self, report: IngestedReport, output: TaskOutput) -> TaskOutput:
        return output

    def prompt(self, report: IngestedReport, retry: Retry | None) -> PromptSpec:
        return build_summary(
            report.normalised_text,
            source_language=report.language or "und",
            target_language=self.target_language,
            max_words=self.max_words,
            style=self.style,
            retry=retry,
            max_tokens_ceiling=self.max_tokens,
        )

    def conclude(
        self, report: IngestedReport, text: str, finish_reason: str | None, *, final: bool
    ) -> TaskOutput:
        sources = [report.normalised_text]
        languages = [report.language]
        cut: Flag | None = None
        try:
            summary = parse_summary(text, finish_reason, max_words=self.max_words)
        except OutputInvalid as exc:
            if not final or exc.problem not in ("too_long", "truncated"):
                raise
            summary = truncate_words(text.strip(), self.max_words)
            if not summary:
                raise
            cut = self._truncated_flag(text, summary, exc)
        verdict = judge_language(summary, self.target_language, self.identify)
        # Codes and words in capitals set aside: a French summary keeps "QRF" and "SABRE 2-2".
        verdict = judge_copy(
            verdict,
            judgeable_text(summary),
            report.normalised_text,
            report.language,
            min_words=SUMMARY_COPY_MIN_WORDS,
        )
        if not final:
            if verdict.wrong:
                raise wrong_language_error(verdict, "summary")
            report_ = check_faithfulness(summary, sources, languages)
            if report_.unsupported:
                raise OutputInvalid(
                    "unfaithful",
                    "the summary states facts the report does not contain",
                    items=report_.unsupported,
                )
        # Kept on the last attempt whatever it says — flagged, never silently.
        quality, flags = summary_check(summary, sources, languages)
        if verdict.wrong:
            flags.append(wrong_language_flag(verdict, self.task, "summary"))
        if cut is not None:
            flags.append(cut)
        return TaskOutput(
            text=summary,
            text_language=verdict.text_language,
            quality=quality,
            flags=flags,
        )

    def _truncated_flag(self, raw: str, summary: str, exc: OutputInvalid) -> Flag:
        written = word_count(clean_summary(raw)[0])
        kept = word_count(summary)
        if exc.problem == "truncated":
            detail = (
                f"the token budget ended the summary: {written} words written, "
                f"{kept} kept (limit {self.max_words}); its end may be missing"
            )
        else:
            detail = (
                f"the summary ran to {written} words and was cut to {kept} (limit {self.max_words})"
            )
        return Flag(code="truncated", detail=detail, task=self.task)


def build(cfg: Config, style: PromptStyle) -> SummariseTask:
    """The registry's builder."""
    t = cfg.tasks
    return SummariseTask(
        target_language=t.target_language,
        max_words=t.summary_max_words,
        style=style,
        max_tokens=t.max_tokens,
        identify=identifier_for(t.target_language),
    )
