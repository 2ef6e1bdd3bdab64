"""Entities the domain's finders read by their shape: units and radio identifiers.

The translation's protected-token finders already recognise units written out or designated
(``2 MECH INF BN``, ``3e RIMa``, ``TF SENTINEL``), callsigns (``RAVEN 3``, ``Hotel Two Two``, the
callsign after "callsign"/"C/S", names the report gives as callsigns: "позывные «Шмель» и
«Оса»") and frequencies (``145.500 MHz``). What they read is typed without
the model: a ``Unit`` or a ``CommsIdentifier``, from the ``pattern`` stage, so a model entity
overlapping one is left out (:mod:`services.extract.merge`) like one overlapping a DTG.

For an entity the span is the thing named, not the token a translation keeps: a frequency with
its unit in any script ("152.600 ميغاهرتز", where the translation keeps the number and renders the
unit), a callsign without the "C/S" before it. A task group is a unit, though its shape is a
callsign's ("SGTIA 3"). DTGs, grids and positions (the caller's pattern entities) win overlaps.

Measured against the gold set (both splits; ``tests/unit/test_extract_designated.py`` holds the
bound): precision 0.9 or more for each type.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from schemas.v1 import Entity, EntityType
from services.domain.callsigns import find_callsigns, find_task_groups
from services.domain.comms import FREQUENCY_UNIT, find_comms, find_named_callsigns
from services.domain.designations import find_unit_designations, find_unit_names
from services.domain.spans import Span, overlaps, resolve_overlaps

__all__ = ["designated_entities"]

# The unit after a frequency the finder took without it (in a script the translation renders).
_UNIT_AFTER = re.compile(rf"[ \u00a0\u202f]?{FREQUENCY_UNIT}(?!\w)")
_CALLSIGN_CUE = re.compile(r"(?i:c/s)[ \u00a0\u202f]*")


def _comms(text: str, found: Span) -> tuple[int, int]:
    start, end = found.start, found.end
    if (cue := _CALLSIGN_CUE.match(text, start)) is not None:
        start = cue.end()
    elif (unit := _UNIT_AFTER.match(text, end)) is not None:
        end = unit.end()
    return start, end


def designated_entities(text: str, patterns: Sequence[Entity] = ()) -> list[Entity]:
    """Units and radio identifiers of ``text`` (the module docstring), none overlapping another
    or one of ``patterns``; sorted by start."""
    typed: list[tuple[int, int, EntityType]] = []
    units = resolve_overlaps(
        [*find_task_groups(text), *find_unit_names(text), *find_unit_designations(text)],
        ties="input_order",
    )
    typed += [(s.start, s.end, "Unit") for s in units]
    comms = resolve_overlaps(
        [*find_comms(text), *find_callsigns(text), *find_named_callsigns(text)],
        ties="input_order",
    )
    typed += [(*_comms(text, s), "CommsIdentifier") for s in comms]
    entities = [
        Entity(type=kind, text=text[start:end], start=start, end=end, source="pattern")
        for start, end, kind in typed
        if end > start
    ]
    kept = resolve_overlaps(entities, ties="input_order")
    return [e for e in kept if not any(overlaps(e, p) for p in patterns)]
