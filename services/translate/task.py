"""translate: the report into the target language, glossary terms and protected tokens kept."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

from schemas.v1 import Flag, IngestedReport, TaskName
from services.config.schema import Config
from services.domain.langid import identifier_for
from services.tasks.contract import TaskOutput
from services.tasks.language import (
    IdentifyLanguage,
    judge_copy,
    judge_language,
    wrong_language_error,
    wrong_language_flag,
)
from services.tasks.prompting import PromptSpec, PromptStyle, Retry
from services.translate.glossary import Glossary, GlossaryTerm, adherence
from services.translate.methods import GlossaryMethod, ProtectMethod, annotate, postedit
from services.translate.parse import (
    cut_by_budget,
    needs_translation,
    parse_translation,
    require_protected,
    translation_check,
)
from services.translate.placeholders import Masked, mask, restore
from services.translate.prompts import VERSION, build_translation
from services.translate.protect import protected_tokens


@dataclass(frozen=True)
class _Plan:
    """What the model is given for one report: the text (masked, annotated) and, when masked,
    the slots to restore; the terms listed in the prompt."""

    text: str
    masked: Masked | None
    listed_terms: list[GlossaryTerm]


@dataclass(frozen=True)
class TranslateTask:
    glossary: Glossary
    target_language: str
    style: PromptStyle
    max_tokens: int = 1024
    #: What language a text is in (the ingest identifier); None: the output's language is not
    #: judged (no identifier for the target language).
    identify: IdentifyLanguage | None = None
    protect_method: ProtectMethod = "prompt"
    glossary_method: GlossaryMethod = "prompt"
    task: ClassVar[TaskName] = "translate"

    @property
    def version(self) -> str:
        """The prompt's version, and the methods when they are not the prompt's alone."""
        if self.protect_method == "prompt" and self.glossary_method == "prompt":
            return VERSION
        return f"{VERSION}+protect:{self.protect_method}+glossary:{self.glossary_method}"

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

    def _plan(self, report: IngestedReport) -> _Plan:
        text = report.normalised_text
        source = report.language or "und"
        spans = self.glossary.term_spans(text, source, self.target_language)
        terms = list(dict.fromkeys(term for _, _, term in spans))
        masked: Masked | None = None
        if self.protect_method == "placeholders" or self.glossary_method == "placeholders":
            masked = mask(
                text,
                extra_protected=self.glossary.protected,
                terms=spans if self.glossary_method == "placeholders" else (),
                protect=self.protect_method == "placeholders",
            )
        model_text = masked.text if masked is not None else text
        if masked is not None and self.glossary_method == "placeholders":
            terms = []  # masked: their targets are restored, nothing to list
        if self.glossary_method == "annotate":
            spans = self.glossary.term_spans(model_text, source, self.target_language)
            return _Plan(annotate(model_text, spans), masked, [])
        return _Plan(model_text, masked, terms)

    def prompt(self, report: IngestedReport, retry: Retry | None) -> PromptSpec:
        plan = self._plan(report)
        protected = self._protected(report)
        masked_protected = plan.masked is not None and self.protect_method == "placeholders"
        if masked_protected:
            assert plan.masked is not None
            protected = [s.marker for s in plan.masked.slots if s.kind == "protected"]
            if retry is not None and retry.problem == "protected_altered":
                markers = [m for token in retry.items for m in plan.masked.marker_of(token)]
                retry = replace(retry, items=tuple(markers or retry.items))
        return build_translation(
            plan.text,
            source_language=report.language or "und",
            target_language=self.target_language,
            terms=plan.listed_terms,
            protected=protected,
            style=self.style,
            retry=retry,
            max_tokens_ceiling=self.max_tokens,
            masked_examples=masked_protected,
        )

    def conclude(
        self, report: IngestedReport, text: str, finish_reason: str | None, *, final: bool
    ) -> TaskOutput:
        protected = self._protected(report)
        source_text = report.normalised_text
        source = report.language or "und"
        plan = self._plan(report)
        # Empty, cut short (before the last attempt) or a copy of the report: another attempt.
        translation = parse_translation(
            text,
            finish_reason,
            protected=plan.masked.markers if plan.masked is not None else protected,
            source=plan.text,
            check_protected=False,
            check_truncated=not final,
        )
        if plan.masked is not None:
            # Every marker back to its token (or term target); a lost one leaves its token
            # missing, which the protected check below flags.
            translation = restore(translation, plan.masked).text
        terms = self.glossary.terms_in(source_text, source, self.target_language)
        # The language first: a retry naming altered tokens cannot fix a text in another one.
        verdict_protected = protected_tokens(translation, self.glossary.protected)
        verdict = judge_language(
            translation,
            self.target_language,
            self.identify,
            protected=[*protected, *verdict_protected],
        )
        verdict = judge_copy(
            verdict, translation, source_text, source, [*protected, *verdict_protected]
        )
        if self.glossary_method == "postedit" and not verdict.wrong:
            # Only a text in the target language is post-edited: terms put into an answer in
            # another language would make it a mixture, and hide nothing the flag says.
            _, missed = adherence(terms, translation)
            translation = postedit(
                translation, missed, self.glossary, source, self.target_language, protected
            )
        if not final:
            if verdict.wrong:
                raise wrong_language_error(verdict, "translation")
            require_protected(protected, translation, source_text)
        # Kept: on the last attempt whatever it is — flagged, never silently.
        quality, flags = translation_check(
            source_text, translation, terms=terms, protected=protected
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
        protect_method=t.protect_method,
        glossary_method=t.glossary_method,
    )
