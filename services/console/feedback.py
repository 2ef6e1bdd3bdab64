"""Where the console's correction form meets the bus: the one integration point.

The form is shown only when the topology declares feedback streams (role ``feedback``, subjects
``feedback.<label>.<kind>.<source>``) AND a sink is registered here that turns the form into the
wire's correction type and publishes it. Until both exist the console offers no form and the
endpoint answers 404: an analyst is never shown a button that stores nothing.

To connect it: implement :class:`CorrectionSink` (build the wire correction from ``form`` and
``event``, publish it on the feedback subject of the analyst's own label, return its id) and
return it from :func:`correction_sink` when ``declares_feedback(topology)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from nats.js import JetStreamContext

from bus.security.permissions import FEEDBACK_ROLE
from bus.topology import Topology
from schemas.v1 import EnrichedEvent

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


def correction_sink(topology: Topology, js: JetStreamContext) -> CorrectionSink | None:
    """The sink the console publishes corrections through; None: no form is offered."""
    if not declares_feedback(topology):
        return None
    # The topology declares feedback streams but this build knows no correction wire type yet.
    return None
