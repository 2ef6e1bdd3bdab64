"""Merging the deterministic (pattern) entities with the grounded model entities.

The patterns read DTGs, MGRS references and coordinates by their exact grammar, and normalise
them; the model only guesses. Where both speak about the same characters, the patterns win.

Grounding proves a model entity is a span of the report, not that it is an entity: a model
entity is also left out of the answer (no flag: what the answer says is not made wrong, only
shorter) when

- it overlaps a pattern entity (a DTG or a grid with words around it, "C Sqn 270600ZJUN26", or
  a piece of one, "48251" as a Quantity: the pattern read those characters exactly);
- the model gave the same span several types (``1er RCP`` as a Unit, a Person and an
  Organisation): it cannot tell what the span is, and its type would be a guess;
- it runs across a list or a field boundary (", ", ": ", "; " inside it: "1, пікапи",
  "SIGINT ١٢: إرسال لاسلكي"): two things, or a label and its value, not one entity;
- its text is too thin for its type (:func:`too_thin`): a name or designation without a
  letter ("166" as a Unit), a callsign or frequency that is one number alone ("151230"), a
  name of one character ("B" as a platform), or a message's own name ("SITREP quotidien
  n° 236").

Each rule was written against the model's answers on the gold set's dev split; of the 2,004 gold
entities of both splits, proposed as they are, they refuse four ("5.56" as a Weapon, channel
"33", two units written with a comma: "2nd Bn, 147th Infantry Regiment").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from schemas.v1 import Entity, EntityType
from services.domain.callsigns import MESSAGE_NAMES
from services.domain.spans import overlaps
from services.extract.constrained import NAMED_TYPES

__all__ = ["merge_entities", "too_thin"]

#: Types whose entities are names or designations: they hold a letter ("3e RIMa", "T-72B3").
_NAMES: frozenset[str] = NAMED_TYPES | {"Person", "Nationality"}
#: One number alone: a count or a time, not a callsign, frequency or telephone number (which
#: have a decimal, "41.250", or several groups, "03 415 227").
_ONE_NUMBER = re.compile(r"\d+")
#: Types whose entities may be a single character: a count ("3") or an hour written alone.
_MAY_BE_ONE_CHARACTER: frozenset[EntityType] = frozenset({"Quantity", "DateTime"})
#: Names of messages and report formats: the report's own heading, not a thing on the ground.
_MESSAGE_NAMES = MESSAGE_NAMES | {"EVASAN", "SALUTE", "MSGID", "TRANSMISSION"}
_FIRST_WORD = re.compile(r"\w+")
#: A list or field separator followed by a space, in the report scripts.
_BOUNDARY = re.compile(r"[,;:،؛]\s")


def too_thin(kind: EntityType, text: str) -> bool:
    """Whether ``text`` is too thin to be an entity of type ``kind`` (the module docstring)."""
    stripped = text.strip()
    if len(stripped) < 2 and kind not in _MAY_BE_ONE_CHARACTER:
        return True
    first = _FIRST_WORD.search(stripped)
    if first is not None and first.group(0).upper() in _MESSAGE_NAMES:
        return True
    if any(char.isalpha() for char in stripped):
        return False
    if kind in _NAMES:
        return True
    return kind == "CommsIdentifier" and _ONE_NUMBER.fullmatch(stripped) is not None


def merge_entities(pattern: Sequence[Entity], model: Sequence[Entity]) -> list[Entity]:
    """All pattern entities, plus the model entities not left out (the module docstring).

    Identical (type, span) entities are kept once, the pattern's first. Sorted by
    (start, end, type).
    """
    merged: dict[tuple[int, int, EntityType], Entity] = {}
    for entity in pattern:
        merged.setdefault((entity.start, entity.end, entity.type), entity)
    # Each (span, type) once: a repeated proposal is not a second opinion.
    proposals = {(e.start, e.end, e.type): e for e in reversed(model)}
    types = Counter((start, end) for start, end, _ in proposals)
    for entity in proposals.values():
        if (
            any(overlaps(entity, p) for p in pattern)
            or types[(entity.start, entity.end)] > 1
            or _BOUNDARY.search(entity.text) is not None
            or too_thin(entity.type, entity.text)
        ):
            continue
        merged.setdefault((entity.start, entity.end, entity.type), entity)
    return [merged[key] for key in sorted(merged)]
