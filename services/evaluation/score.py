"""One report's enriched event against its gold: every measure's counts and the flag cases.

The tasks are known by what they fill in the event (the task registry's ``fills``): the one that
fills ``translation``, ``summary``, ``entities``; logistics quantities are read from any task
output shaped as a list of quantities (:func:`services.evaluation.quantities.is_quantity_output`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from schemas.v1 import EnrichedEvent, Entity, Flag
from services.evaluation.entities import (
    Counts,
    ValueCounts,
    in_word_model_entities,
    match_entities,
    normalised_values,
)
from services.evaluation.flags import Case
from services.evaluation.gold import GoldReport
from services.evaluation.quantities import is_quantity_output, match_quantities
from services.evaluation.summary import check_summary, fact_recalled, word_count
from services.evaluation.text import fold, on_word_boundaries
from services.evaluation.translation import (
    Identify,
    ProtectedCount,
    judge_language,
    protected_counts,
    term_followed,
)

__all__ = ["ReportScore", "Roles", "SummaryScore", "TranslationScore", "score_report"]


@dataclass(frozen=True)
class Roles:
    """Which asked task fills which part of the event (None: no such task asked)."""

    translation: str | None = None
    summary: str | None = None
    entities: str | None = None
    #: Asked tasks that fill ``outputs`` (where logistics quantities may be).
    outputs: tuple[str, ...] = ()

    @classmethod
    def of(cls, fills: Mapping[str, Sequence[str]], asked: Sequence[str]) -> Roles:
        def first(what: str) -> str | None:
            return next((t for t in asked if what in fills.get(t, ())), None)

        return cls(
            translation=first("translation"),
            summary=first("summary"),
            entities=first("entities"),
            outputs=tuple(t for t in asked if "outputs" in fills.get(t, ())),
        )


@dataclass(frozen=True)
class TranslationScore:
    """A report whose gold reference is in the target language (the translation was due)."""

    reference: str
    #: The event's translation ("" when there is none: failed, skipped, missing).
    hypothesis: str
    status: str
    terms: int = 0
    terms_followed: int = 0
    protected: tuple[ProtectedCount, ...] = ()
    #: Language identified here (None: no output, or too little to judge).
    language: str | None = None
    flags: tuple[str, ...] = ()

    @property
    def produced(self) -> bool:
        return bool(self.hypothesis)


@dataclass(frozen=True)
class SummaryScore:
    text: str
    status: str
    facts: int = 0
    facts_recalled: int = 0
    checked: int = 0
    unsupported: tuple[str, ...] = ()
    words: int = 0
    language: str | None = None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReportScore:
    id: str
    language: str
    form: str
    #: ``complete``, ``partial`` (the last event at the end of the wait) or ``none``.
    event: str
    statuses: dict[str, str]
    flags: tuple[tuple[str | None, str], ...] = ()
    text_matches: bool = True
    translation: TranslationScore | None = None
    summary: SummaryScore | None = None
    entity_types: dict[str, Counts] = field(default_factory=dict)
    entity_sources: dict[str, Counts] = field(default_factory=dict)
    values: ValueCounts | None = None
    in_word: tuple[str, ...] = ()
    #: The extract task's own counts (model entities proposed, grounded).
    proposed: int = 0
    grounded: int = 0
    quantities: Counts | None = None
    spurious_quantities: tuple[str, ...] = ()
    cases: tuple[Case, ...] = ()


def _codes(flags: Sequence[Flag], task: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f.code for f in flags if f.task == task))


def _status(event: EnrichedEvent, task: str) -> str:
    return next((t.status for t in event.tasks if t.task == task), "absent")


def _translation(
    gold: GoldReport, event: EnrichedEvent, task: str, identify: Identify
) -> TranslationScore:
    status = _status(event, task)
    output = event.translation or ""
    if status != "ok" or not output:
        return TranslationScore(gold.reference_text, "", status, terms=len(gold.glossary_terms))
    followed = sum(term_followed(t, output) for t in gold.glossary_terms)
    return TranslationScore(
        reference=gold.reference_text,
        hypothesis=output,
        status=status,
        terms=len(gold.glossary_terms),
        terms_followed=followed,
        protected=tuple(protected_counts(gold.protected_tokens, gold.text, output)),
        language=judge_language(output, identify, gold.protected_tokens),
        flags=_codes(event.flags, task),
    )


def _summary(gold: GoldReport, event: EnrichedEvent, task: str, identify: Identify) -> SummaryScore:
    status = _status(event, task)
    text = event.summary or ""
    if status != "ok" or not text:
        return SummaryScore("", status, facts=len(gold.summary_facts))
    facts = check_summary(text, gold.text, [q.quantity for q in gold.quantities])
    return SummaryScore(
        text=text,
        status=status,
        facts=len(gold.summary_facts),
        facts_recalled=sum(fact_recalled(f, text) for f in gold.summary_facts),
        checked=len(facts.checked),
        unsupported=facts.unsupported,
        words=word_count(text),
        language=judge_language(text, identify, gold.protected_tokens),
        flags=_codes(event.flags, task),
    )


def _in_text(item: str, text: str) -> bool:
    """Whether ``item`` (a dropped entity, as the flag names it) is a word sequence of
    ``text``, folded and with any whitespace."""
    needle = r"\s+".join(re.escape(w) for w in fold(item).split())
    folded = fold(text)
    return bool(needle) and any(
        on_word_boundaries(folded, m.start(), m.end()) for m in re.finditer(needle, folded)
    )


def _cases(
    gold: GoldReport, event: EnrichedEvent, score: ReportScore, roles: Roles, target: str
) -> list[Case]:
    """Each output under each check that covers it (:mod:`services.evaluation.flags`)."""

    def case(task: str | None, code: str, error: bool | None, detail: str = "") -> Case:
        flagged = any(f.code == code and (task is None or f.task == task) for f in event.flags)
        return Case(gold.id, task, code, error, flagged, detail)

    cases = [case(None, "suspected_injection", gold.injection, "the gold marks it an injection")]
    t, task = score.translation, roles.translation
    if task and t is not None and t.produced:
        lost = [f"{p.token} ({p.kept}/{p.in_source})" for p in t.protected if p.lost]
        missed = [
            f"{term.source} → {term.target}"
            for term in gold.glossary_terms
            if not term_followed(term, t.hypothesis)
        ]
        wrong = None if t.language is None else t.language != target
        cases += [
            case(task, "protected_altered", bool(lost), "; ".join(lost)),
            case(task, "glossary_missed", bool(missed), "; ".join(missed)),
            case(task, "wrong_language", wrong, f"identified as {t.language}"),
        ]
    s, task = score.summary, roles.summary
    if task and s is not None and s.text:
        wrong = None if s.language is None else s.language != target
        cases += [
            case(task, "unfaithful_summary", bool(s.unsupported), "; ".join(s.unsupported)),
            case(task, "wrong_language", wrong, f"identified as {s.language}"),
        ]
    task = roles.entities
    if task and _used_model(event, task):
        dropped = [
            item
            for f in event.flags
            if f.task == task and f.code == "entities_dropped"
            for item in f.items
            if not _in_text(item, event.normalised_text)
        ]
        what = [
            *(f"dropped: {d}" for d in dropped),
            *(f"kept in a word: {w}" for w in score.in_word),
        ]
        cases.append(case(task, "entities_dropped", bool(what), "; ".join(what)))
    return cases


def _used_model(event: EnrichedEvent, task: str) -> bool:
    return any(p.stage == task and p.model for p in event.provenance)


def _quantity_items(event: EnrichedEvent, roles: Roles) -> list[Mapping[str, Any]] | None:
    """The quantities of the event (None: no task that fills outputs was asked)."""
    if not roles.outputs:
        return None
    items: list[Mapping[str, Any]] = []
    for name in roles.outputs:
        output = event.outputs.get(name)
        if output is not None and is_quantity_output(output):
            items += output["items"]
    return items


def score_report(
    gold: GoldReport,
    event: EnrichedEvent | None,
    roles: Roles,
    asked: Sequence[str],
    *,
    target: str,
    identify: Identify,
) -> ReportScore:
    """Every measure's counts for one report (``event`` None: it never came)."""
    due = roles.translation and gold.reference_language == target
    if event is None:  # every output due counts as missing, every gold item as missed
        return ReportScore(
            gold.id,
            gold.language,
            gold.form,
            "none",
            dict.fromkeys(asked, "none"),
            translation=TranslationScore(
                gold.reference_text, "", "none", terms=len(gold.glossary_terms)
            )
            if due
            else None,
            summary=SummaryScore("", "none", facts=len(gold.summary_facts))
            if roles.summary
            else None,
            entity_types=match_entities(gold.entities, [])[0] if roles.entities else {},
            values=normalised_values(gold.entities, []) if roles.entities else None,
            quantities=match_quantities(gold.quantities, [])[0] if roles.outputs else None,
        )
    entities: list[Entity] = list(event.entities) if roles.entities else []
    by_type, by_source = match_entities(gold.entities, entities) if roles.entities else ({}, {})
    extract = next((t for t in event.tasks if t.task == roles.entities), None)
    quality = extract.quality if extract is not None else None
    items = _quantity_items(event, roles)
    matched = match_quantities(gold.quantities, items) if items is not None else None
    score = ReportScore(
        id=gold.id,
        language=gold.language,
        form=gold.form,
        event="partial" if event.partial else "complete",
        statuses={t: _status(event, t) for t in asked},
        flags=tuple((f.task, f.code) for f in event.flags),
        text_matches=event.normalised_text == gold.text,
        translation=_translation(gold, event, roles.translation, identify)
        if due and roles.translation
        else None,
        summary=_summary(gold, event, roles.summary, identify) if roles.summary else None,
        entity_types=by_type,
        entity_sources=by_source,
        values=normalised_values(gold.entities, entities) if roles.entities else None,
        in_word=tuple(
            f"{e.type} {e.text!r} at {e.start}"
            for e in in_word_model_entities(event.normalised_text, entities)
        ),
        proposed=quality.entities_proposed if quality is not None else 0,
        grounded=quality.entities_grounded if quality is not None else 0,
        quantities=matched[0] if matched is not None else None,
        spurious_quantities=tuple(
            f"{i.get('quantity')} {i.get('unit')} {i.get('status')} {i.get('text')!r}"
            for i in matched[1]
        )
        if matched is not None
        else (),
    )
    return _with_cases(score, _cases(gold, event, score, roles, target))


def _with_cases(score: ReportScore, cases: list[Case]) -> ReportScore:
    return replace(score, cases=tuple(cases))
