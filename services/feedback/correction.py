"""Building and checking an analyst's correction: pure, so a form or a CLI calls it with values.

A correction says what one task's output in one enriched event should have been. It carries
the label, kind and source of that event (its subject is ``feedback.<label>.<kind>.<source>``),
so it is exactly as sensitive as the event and is never written below the event's label.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import msgspec

from bus.topology import feedback_subject
from schemas.v1 import (
    CorrectedEntity,
    CorrectedQuantity,
    Correction,
    EnrichedEvent,
    correction_decoder,
)

#: Event field a task fills (its registry row) → the correction's field that corrects it.
CORRECTED_FIELD: dict[str, str] = {
    "translation": "translation",
    "summary": "summary",
    "entities": "entities",
    "outputs": "quantities",
}
OUTPUT_FIELDS = tuple(CORRECTED_FIELD.values())


@dataclass
class CorrectionError(ValueError):
    """A correction that cannot be accepted: says what and how to fix it (not recoverable)."""

    problem: str
    recoverable: bool = False

    def __str__(self) -> str:
        return self.problem


def build_correction(
    event: EnrichedEvent,
    task: str,
    *,
    author: str,
    translation: str | None = None,
    summary: str | None = None,
    entities: Sequence[CorrectedEntity] | None = None,
    quantities: Sequence[CorrectedQuantity] | None = None,
    comment: str | None = None,
    at: dt.datetime | None = None,
    correction_id: str | None = None,
    fills: Mapping[str, tuple[str, ...]] | None = None,
) -> Correction:
    """A correction of ``task``'s output in ``event``, labelled as the event; checked with
    :func:`check_correction` (``fills``: task → the event fields it fills, the registry's)."""
    correction = Correction(
        correction_id=correction_id or uuid.uuid4().hex,
        report_id=event.report_id,
        revision=event.revision,
        label=event.label,
        kind=event.kind,
        source=event.source,
        task=task,
        author=author,
        at=at or dt.datetime.now(dt.UTC),
        translation=translation,
        summary=summary,
        entities=list(entities) if entities is not None else None,
        quantities=list(quantities) if quantities is not None else None,
        comment=comment,
    )
    check_correction(correction, event, fills)
    return correction


def decode_correction(data: bytes | str) -> Correction:
    """A correction from JSON, or CorrectionError saying which field is wrong."""
    try:
        return correction_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise CorrectionError(f"not a valid correction: {exc}") from None


def corrected_field(correction: Correction) -> str:
    """The one output field the correction sets; CorrectionError when none or several."""
    given = [name for name in OUTPUT_FIELDS if getattr(correction, name) is not None]
    if len(given) != 1:
        raise CorrectionError(
            f"a correction sets exactly one of {', '.join(OUTPUT_FIELDS)}; this one sets "
            f"{', '.join(given) or 'none'}"
        )
    return given[0]


def check_correction(
    correction: Correction,
    event: EnrichedEvent | None,
    fills: Mapping[str, tuple[str, ...]] | None = None,
) -> None:
    """Raise CorrectionError unless ``correction`` fits ``event`` (None: no such event)."""
    field = corrected_field(correction)
    if fills is not None:
        if correction.task not in fills:
            raise CorrectionError(
                f"task {correction.task!r} is not registered (tasks: {', '.join(fills)})"
            )
        allowed = [CORRECTED_FIELD[f] for f in fills[correction.task] if f in CORRECTED_FIELD]
        if field not in allowed:
            raise CorrectionError(
                f"task {correction.task} fills {', '.join(allowed) or 'nothing correctable'}; "
                f"the correction sets {field}"
            )
    if event is None:
        raise CorrectionError(
            f"no event {correction.report_id} revision {correction.revision} on "
            f"enriched.{correction.label}.{correction.kind}.{correction.source}: a correction "
            "names an event that was published (report id, revision, label, kind and source)"
        )
    if (event.report_id, event.revision) != (correction.report_id, correction.revision):
        raise CorrectionError(
            f"the correction names {correction.report_id} r{correction.revision}, the event is "
            f"{event.report_id} r{event.revision}"
        )
    if event.label != correction.label:
        # Never down: a correction is as sensitive as what it corrects.
        raise CorrectionError(
            f"the event is labelled {event.label}, the correction {correction.label}: a "
            "correction carries the label of the event it corrects"
        )
    if (event.kind, event.source) != (correction.kind, correction.source):
        raise CorrectionError(
            f"the event is {event.kind} from {event.source}, the correction says "
            f"{correction.kind} from {correction.source}"
        )
    if correction.task not in {outcome.task for outcome in event.tasks}:
        ran = ", ".join(outcome.task for outcome in event.tasks) or "none"
        raise CorrectionError(f"task {correction.task} did not run on this event (ran: {ran})")
    text = event.normalised_text
    for entity in correction.entities or ():
        if (entity.start is None) != (entity.end is None):
            raise CorrectionError(f"entity {entity.text!r}: give both start and end, or neither")
        if entity.start is not None and text[entity.start : entity.end] != entity.text:
            raise CorrectionError(
                f"entity {entity.text!r}: normalised_text[{entity.start}:{entity.end}] is "
                f"{text[entity.start : entity.end]!r}"
            )


def subject_of(correction: Correction) -> str:
    """Where the correction is published: the label, kind and source of its event."""
    return feedback_subject(correction.label, correction.kind, correction.source)


def dedupe_id(correction: Correction) -> str:
    """The correction's Nats-Msg-Id: a resubmission of the same correction is stored once."""
    return f"correction:{correction.correction_id}"
