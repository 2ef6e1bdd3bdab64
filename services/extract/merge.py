"""Merging the deterministic (pattern) entities with the grounded model entities.

The patterns read DTGs, MGRS references and coordinates by their exact grammar, and normalise
them; the model only guesses. Where both speak about the same characters, the patterns win.
"""

from __future__ import annotations

from collections.abc import Sequence

from schemas.v1 import Entity, EntityType
from services.domain.spans import overlaps, within

__all__ = ["PATTERN_TYPES", "merge_entities"]

#: The types the pattern stage produces (services.domain.patterns).
PATTERN_TYPES: frozenset[EntityType] = frozenset({"DateTime", "Location"})


def merge_entities(pattern: Sequence[Entity], model: Sequence[Entity]) -> list[Entity]:
    """All pattern entities, plus the model entities the patterns do not contradict.

    A model entity overlapping a pattern entity is dropped when it is of a type the patterns
    produce (the pattern read that date or place exactly) or lies inside the pattern's span (a
    piece of a grid or a DTG, such as "48251" as a Quantity, is never an entity of its own).
    Other model entities are kept, including one of another type that spans a pattern entity
    and more. Identical (type, span) entities are kept once, the pattern's first. Sorted by
    (start, end, type).
    """
    merged: dict[tuple[int, int, EntityType], Entity] = {}
    for entity in pattern:
        merged.setdefault((entity.start, entity.end, entity.type), entity)
    for entity in model:
        if any(_contradicts(entity, p) for p in pattern):
            continue
        merged.setdefault((entity.start, entity.end, entity.type), entity)
    return [merged[key] for key in sorted(merged)]


def _contradicts(model: Entity, pattern: Entity) -> bool:
    if not overlaps(model, pattern):
        return False
    return model.type in PATTERN_TYPES or within(model, pattern)
