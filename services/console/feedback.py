"""Where the console's correction form meets the bus: the one integration point.

The form is shown only when the topology declares feedback streams (role ``feedback``, subjects
``feedback.<label>.<kind>.<source>``): otherwise the endpoint answers 404 and an analyst is never
shown a button that stores nothing. :class:`BusCorrectionSink` turns the form into the wire's
``Correction`` (checked against the event as ``vigie feedback`` checks it) and publishes it on
the event's label — which must be the analyst's own: a correction is as sensitive as the event
it corrects, and an analyst writes at its own label only (no write-down), so an ``s`` analyst
correcting a ``dr`` event is refused with that reason rather than left to a permissions error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import msgspec
from nats.js import JetStreamContext

from bus.publish import JetStreamPublisher, Publisher
from bus.security.permissions import FEEDBACK_ROLE
from bus.topology import Topology
from schemas.v1 import CorrectedEntity, CorrectedQuantity, Correction, EnrichedEvent
from services.feedback.correction import CorrectionError, build_correction
from services.feedback.store import publish_correction

#: Longest text an analyst may send in one correction field.
MAX_FIELD = 16 * 1024


@dataclass(frozen=True)
class CorrectionForm:
    """What the page posts: which task's output is wrong and what it should be."""

    report_id: str
    revision: int
    task: str
    #: ``translation``, ``summary``, ``entities`` or ``quantities``: the output corrected.
    field: str
    #: The corrected text, or the corrected list as JSON.
    value: str
    comment: str | None = None


@dataclass(frozen=True)
class Author:
    identity: str | None
    user: str | None
    level: str | None


class CorrectionSink(Protocol):
    async def send(self, form: CorrectionForm, event: EnrichedEvent, author: Author) -> str:
        """Publish the correction (awaiting its PubAck); its id."""
        ...


def declares_feedback(topology: Topology) -> bool:
    return any(spec.role == FEEDBACK_ROLE for spec in topology.streams)


_ENTITIES = msgspec.json.Decoder(list[CorrectedEntity])
_QUANTITIES = msgspec.json.Decoder(list[CorrectedQuantity])


def correction_from_form(
    form: CorrectionForm,
    event: EnrichedEvent,
    author: Author,
    fills: Mapping[str, tuple[str, ...]] | None = None,
) -> Correction:
    """The wire correction the form describes (pure); CorrectionError saying what is wrong."""
    if len(form.value) > MAX_FIELD:
        raise CorrectionError(f"{form.field}: at most {MAX_FIELD} characters")
    if author.level is not None and event.label != author.level:
        raise CorrectionError(
            f"this report is labelled {event.label}; a correction carries the report's label "
            f"and this console writes at {author.level} only: an analyst cleared for "
            f"{event.label} sends it"
        )
    if form.field not in ("translation", "summary", "entities", "quantities"):
        raise CorrectionError(f"unknown field {form.field!r}")
    try:
        entities = _ENTITIES.decode(form.value) if form.field == "entities" else None
        quantities = _QUANTITIES.decode(form.value) if form.field == "quantities" else None
    except msgspec.DecodeError as exc:
        raise CorrectionError(f"{form.field}: not a valid JSON list ({exc})") from None
    return build_correction(
        event,
        form.task,
        author=author.user or author.identity or "analyst",
        translation=form.value if form.field == "translation" else None,
        summary=form.value if form.field == "summary" else None,
        entities=entities,
        quantities=quantities,
        comment=form.comment,
        fills=fills,
    )


@dataclass
class BusCorrectionSink:
    """Publishes the form's correction on ``feedback.<label>.<kind>.<source>``."""

    publisher: Publisher
    fills: Mapping[str, tuple[str, ...]] | None = None

    async def send(self, form: CorrectionForm, event: EnrichedEvent, author: Author) -> str:
        correction = correction_from_form(form, event, author, self.fills)
        await publish_correction(self.publisher, correction)
        return correction.correction_id


def correction_sink(
    topology: Topology,
    js: JetStreamContext,
    fills: Mapping[str, tuple[str, ...]] | None = None,
) -> CorrectionSink | None:
    """The sink the console publishes corrections through; None: no form is offered."""
    if not declares_feedback(topology):
        return None
    return BusCorrectionSink(JetStreamPublisher(js), fills)
