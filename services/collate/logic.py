"""Collation as pure functions of the durable per-report state.

The service applies them inside a compare-and-set loop on the label's collate bucket:

1. ``merge`` the incoming report or task result into the state (idempotent: a redelivered
   input changes nothing);
2. ``plan_revision`` decides whether a new revision is due — the first when every expected task
   has answered or the deadline passed, a later one when a task answered after the last;
3. the revision is *reserved* in the state before it is published, and *confirmed* after its
   PubAck. A reservation left unconfirmed by a crash is published again by the next input that
   touches the report, with the same ``Nats-Msg-Id`` — so each revision is published once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

import msgspec

from schemas.v1 import (
    CollateInput,
    CollateState,
    EnrichedEvent,
    Entity,
    IngestedReport,
    Label,
    Provenance,
    PublishedRevision,
    TaskOutcome,
    TaskResult,
    highest_label,
)

VERSION = "collate/1.0"


def merge(state: CollateState | None, item: CollateInput) -> CollateState:
    current = state or CollateState(report_id=item.report_id)
    if isinstance(item, IngestedReport):
        if current.report is not None:
            return current
        return msgspec.structs.replace(current, report=item)
    if any(r.task == item.task for r in current.results):
        return current  # first answer of a task wins; a redelivery repeats it
    return msgspec.structs.replace(current, results=[*current.results, item])


def answered_tasks(state: CollateState) -> list[str]:
    if state.report is None:
        return []
    expected = state.report.expected_tasks
    done = {r.task for r in state.results}
    return [t for t in expected if t in done]


def is_complete(state: CollateState) -> bool:
    return state.report is not None and len(answered_tasks(state)) == len(
        state.report.expected_tasks
    )


def plan_revision(state: CollateState, now: dt.datetime) -> PublishedRevision | None:
    """The next revision to publish, or None when nothing new is due."""
    if state.report is None:
        return None
    answered = answered_tasks(state)
    complete = len(answered) == len(state.report.expected_tasks)
    if not state.published:
        if complete or now >= state.report.deadline_at:
            return PublishedRevision(revision=1, tasks=answered, partial=not complete)
        return None
    last = state.published[-1]
    if set(answered) - set(last.tasks):
        return PublishedRevision(revision=last.revision + 1, tasks=answered, partial=not complete)
    return None


def reserve(state: CollateState, revision: PublishedRevision) -> CollateState:
    return msgspec.structs.replace(state, published=[*state.published, revision])


def confirm(state: CollateState, revision: int) -> CollateState:
    revisions = [
        msgspec.structs.replace(p, confirmed=True) if p.revision == revision else p
        for p in state.published
    ]
    return msgspec.structs.replace(state, published=revisions)


def unconfirmed(state: CollateState) -> list[PublishedRevision]:
    return [p for p in state.published if not p.confirmed]


def first_published(state: CollateState) -> bool:
    """The report's own message may go once revision 1 exists; later answers come as results."""
    return bool(state.published)


def enriched_label(report: IngestedReport, results: list[TaskResult]) -> Label:
    return highest_label([report.label, *(r.label for r in results)])


def build_event(
    state: CollateState,
    revision: PublishedRevision,
    now: dt.datetime,
    *,
    fills: Mapping[str, Iterable[str]],
) -> EnrichedEvent:
    """The enriched event of ``revision``: only the results that revision includes.

    ``fills`` is the task registry's word on what each task adds to the event (task name →
    ``translation``, ``summary``, ``entities``, ``outputs``): collate itself names no task. A
    result of a task the registry does not know (an older deployment's) adds its outcome, flags
    and provenance only.
    """
    report = state.report
    if report is None:
        raise ValueError(f"report {state.report_id}: no ingested report to build an event from")
    included = [r for r in state.results if r.task in revision.tasks]
    by_task = {r.task: r for r in included}
    outcomes = [
        TaskOutcome(
            task=t, status=by_task[t].status, detail=by_task[t].detail, quality=by_task[t].quality
        )
        if t in by_task
        else TaskOutcome(task=t, status="missing", detail="no answer before the deadline")
        for t in report.expected_tasks
    ]
    filled: dict[str, list[TaskResult]] = {}
    for result in included:
        for target in fills.get(result.task, ()):
            filled.setdefault(target, []).append(result)
    entities: list[Entity] = sorted(
        (e for r in filled.get("entities", ()) for e in r.entities),
        key=lambda e: (e.start, e.end, e.type),
    )
    provenance = [*report.provenance, *(r.provenance for r in included if r.provenance)]
    flags = [*report.flags, *(f for r in included for f in r.flags)]
    translation, summary = _first_ok(filled, "translation"), _first_ok(filled, "summary")
    # A failed or expired task's output is what it knew without the model (its fallback), kept
    # as extract's pattern entities are; its outcome and flags say how far to trust it.
    outputs = {r.task: r.output for r in filled.get("outputs", ()) if r.output}
    usages = [r.provenance.usage for r in included if r.provenance and r.provenance.usage]
    provenance.append(Provenance(stage="collate", version=VERSION, started_at=now, finished_at=now))
    return EnrichedEvent(
        report_id=report.report_id,
        revision=revision.revision,
        partial=revision.partial,
        label=enriched_label(report, included),
        kind=report.kind,
        source=report.source,
        precedence=report.precedence,
        original_text=report.original_text,
        normalised_text=report.normalised_text,
        language=report.language,
        language_confidence=report.language_confidence,
        entities=entities,
        tasks=outcomes,
        ingested_at=report.ingested_at,
        published_at=now,
        trace_id=report.trace_id,
        provenance=provenance,
        publisher_id=report.publisher_id,
        observed_at=report.observed_at,
        originator=report.originator,
        sensor=report.sensor,
        translation=_text_of(translation),
        summary=_text_of(summary),
        target_language=_language_of(translation) or _language_of(summary),
        usage=sum(usages[1:], usages[0]) if usages else None,
        flags=flags,
        outputs=outputs,
    )


def _first_ok(filled: Mapping[str, list[TaskResult]], target: str) -> TaskResult | None:
    """The result that fills ``target`` (the first registered, should two tasks claim it)."""
    results = filled.get(target, [])
    return next((r for r in results if r.status == "ok"), results[0] if results else None)


def _text_of(result: TaskResult | None) -> str | None:
    return result.text if result is not None and result.status == "ok" else None


def _language_of(result: TaskResult | None) -> str | None:
    return result.text_language if result is not None and result.status == "ok" else None
