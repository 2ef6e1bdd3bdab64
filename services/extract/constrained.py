"""The entity schema of one report: every entity text a span of the report, plausible for its
type — grounded by construction on an engine that enforces the schema.

The answer's shape is :data:`services.extract.model.ENTITY_SCHEMA`'s, with each item one of a
type's alternatives: ``{"type": <that type>, "text": <a span of the report>}``. A span starts and
ends on word boundaries (:mod:`services.grammar.spans`, the boundary grounding checks), and its
first word already makes it plausible for the type (:mod:`services.extract.plausibility`: a
Quantity starts with a digit or a number word, a DateTime with a digit, number, day or month, a
CommsIdentifier with a digit or a capital) — a stricter rule than plausibility, so no span the
grammar allows is refused after it. Two rules more, for precision: a name or designation
(:data:`NAMED_TYPES`) starts with a capital, a digit or a caseless letter, and no entity starts
with a field label (a word followed by a colon). A type no word of the report can start is left
out; a report without words allows only the empty list.

An engine that does not enforce schemas (the GPU static mode) generates freely and says so;
grounding then checks the answer after the fact and drops, counts and flags what fails, as it
always does.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from schemas.v1 import EntityType
from services.extract.model import ENTITY_TYPES, MAX_ENTITIES, MAX_ENTITY_CHARS
from services.extract.plausibility import implausible
from services.grammar.spans import span_schema, words

__all__ = ["NAMED_TYPES", "source_entity_schema"]

#: Types whose entities are names or designations: they start with a capital, a digit, or a
#: letter of a script without case (Arabic) — "Kharkiv", "3e RIMa", "T-72B3", "БТР-82А".
#: A common noun ("camion", "птички") is not proposed as one (the gold set's rare lower-case
#: ones, "сапёрного взвода", are the price: recall for precision).
NAMED_TYPES = frozenset({"Location", "Unit", "Organisation", "MilitaryPlatform", "Weapon"})
# A word followed by a colon is a field label ("TYPE:", "КЛАСС :", "التقدير:"), not an entity.
_LABEL = re.compile(r"\s?:")


def _may_start(kind: str, word: str) -> bool:
    if implausible(kind, word) is not None:  # type: ignore[arg-type]
        return False
    if kind in NAMED_TYPES:
        first = word[0]
        return first.isdigit() or not first.islower()
    return True


def source_entity_schema(text: str, types: Collection[EntityType] = ENTITY_TYPES) -> dict[str, Any]:
    """The JSON Schema of an entity answer for the report ``text`` (see the module docstring),
    entities of ``types`` only."""
    found = words(text)
    alternatives: list[dict[str, Any]] = []
    distinct = list(dict.fromkeys(w.text for w in found))
    labels = {i for i, w in enumerate(found) if _LABEL.match(text, w.end)}
    for kind in (kind for kind in ENTITY_TYPES if kind in types):
        fits = {word for word in distinct if _may_start(kind, word)}
        starts = [i for i, w in enumerate(found) if w.text in fits and i not in labels]
        if not starts:
            continue
        alternatives.append(
            {
                "type": "object",
                "properties": {
                    "type": {"const": kind},
                    "text": span_schema(
                        text, MAX_ENTITY_CHARS, None if len(starts) == len(found) else starts
                    ),
                },
                "required": ["type", "text"],
                "additionalProperties": False,
            }
        )
    entities: dict[str, Any] = {"type": "array", "maxItems": MAX_ENTITIES if alternatives else 0}
    entities["items"] = {"anyOf": alternatives} if alternatives else {"type": "null"}
    return {
        "type": "object",
        "properties": {"entities": entities},
        "required": ["entities"],
        "additionalProperties": False,
    }
