"""Deterministic entity parsers: DTGs, MGRS references and lat/long pairs.

Pure functions over ``str``: offsets are code-point indices into the text given, so they stay
right whatever the script around the entities.
"""

from __future__ import annotations

import bisect
import datetime as dt

from schemas import Entity
from services.extract.patterns.dtg import find_dtgs
from services.extract.patterns.latlon import find_latlons
from services.extract.patterns.mgrs_ref import find_mgrs

__all__ = ["find_dtgs", "find_latlons", "find_mgrs", "find_pattern_entities", "resolve_overlaps"]


def find_pattern_entities(text: str, observed_at: dt.datetime | None = None) -> list[Entity]:
    """All pattern entities of ``text``, sorted by start, no two spans overlapping."""
    candidates = [*find_dtgs(text, observed_at), *find_mgrs(text), *find_latlons(text)]
    return resolve_overlaps(candidates)


def resolve_overlaps(entities: list[Entity]) -> list[Entity]:
    """Keep the longest span of each overlapping group, earlier start first on ties.

    The longer reading explains more of the text: "251430N 0351234E" is a compact lat/long, and
    its first seven characters must not also come out as a DTG. Ties keep input order, so the
    caller decides which parser wins an exact draw.
    """
    ranked = sorted(
        enumerate(entities),
        key=lambda item: (item[1].start - item[1].end, item[1].start, item[0]),
    )
    # Kept spans never overlap, so sorted by start they are also sorted by end: the only kept
    # span that can overlap a candidate is the last one starting before the candidate ends.
    # That keeps the whole pass O(n log n) on reports with thousands of entities.
    starts: list[int] = []
    kept: list[Entity] = []
    for _, entity in ranked:
        index = bisect.bisect_left(starts, entity.end)
        if index > 0 and kept[index - 1].end > entity.start:
            continue
        starts.insert(index, entity.start)
        kept.insert(index, entity)
    return kept
