"""The positional patterns together: DTGs, MGRS references and lat/long pairs as wire entities.

Pure functions over ``str``: offsets are code-point indices into the text given, so they stay
right whatever the script around the entities. Only the standard library, ``mgrs`` (through
``mgrs_ref``) and ``schemas``.
"""

from __future__ import annotations

import datetime as dt

from schemas.v1 import Entity
from services.domain.dtg import find_dtgs
from services.domain.latlon import find_latlons
from services.domain.mgrs_ref import find_mgrs
from services.domain.spans import resolve_overlaps

__all__ = ["find_pattern_entities"]


def find_pattern_entities(text: str, observed_at: dt.datetime | None = None) -> list[Entity]:
    """All pattern entities of ``text``, sorted by start, no two spans overlapping.

    Of overlapping readings the longest wins, then the earlier start, then DTG over MGRS over
    lat/long (the order the parsers are listed in).
    """
    candidates = [*find_dtgs(text, observed_at), *find_mgrs(text), *find_latlons(text)]
    return resolve_overlaps(candidates, ties="earlier_start")
