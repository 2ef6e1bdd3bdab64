"""Spans of text and the one rule for overlapping ones.

A finder reports what it read as a :class:`Span` (or, for the positional patterns, as a wire
``Entity``); where two readings claim the same characters, :func:`resolve_overlaps` keeps one.
Pure: standard library only, so any task can share the rule.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from typing import Literal, NamedTuple, Protocol, TypeVar

__all__ = ["Located", "Span", "SpanKind", "Ties", "overlaps", "resolve_overlaps"]

SpanKind = Literal[
    "pattern", "unit", "equipment", "comms", "acronym", "listed", "quantity", "identifier", "name"
]
#: How :func:`resolve_overlaps` breaks a tie between two overlapping spans of equal length.
Ties = Literal["earlier_start", "input_order"]


class Span(NamedTuple):
    start: int
    end: int
    text: str
    kind: SpanKind


class Located(Protocol):
    """Anything with code-point offsets into a text: a :class:`Span`, a wire ``Entity``."""

    @property
    def start(self) -> int: ...

    @property
    def end(self) -> int: ...


_L = TypeVar("_L", bound=Located)


def overlaps(first: Located, second: Located) -> bool:
    """Whether the two spans share at least one character."""
    return first.start < second.end and second.start < first.end


def resolve_overlaps(candidates: Iterable[_L], *, ties: Ties = "earlier_start") -> list[_L]:
    """Keep the longest span of each overlapping group; no two kept overlap; sorted by start.

    The longer reading explains more of the text: "251430N 0351234E" is a compact lat/long, and
    its first seven characters must not also come out as a DTG. Between two of equal length,
    ``ties="earlier_start"`` keeps the one starting first, then the earlier candidate (the
    pattern entities: the caller orders its parsers to decide an exact draw);
    ``ties="input_order"`` keeps the earlier candidate whatever its start (protected tokens and
    the summary's facts: the caller lists its finders by precedence).
    """
    if ties == "earlier_start":
        ranked = sorted(
            enumerate(candidates),
            key=lambda item: (item[1].start - item[1].end, item[1].start, item[0]),
        )
    else:
        ranked = sorted(
            enumerate(candidates), key=lambda item: (item[1].start - item[1].end, item[0])
        )
    # Kept spans never overlap, so sorted by start they are also sorted by end: the only kept
    # span that can overlap a candidate is the last one starting before the candidate ends.
    # That keeps the whole pass O(n log n) on reports with thousands of entities.
    starts: list[int] = []
    kept: list[_L] = []
    for _, candidate in ranked:
        index = bisect.bisect_left(starts, candidate.end)
        if index > 0 and kept[index - 1].end > candidate.start:
            continue
        starts.insert(index, candidate.start)
        kept.insert(index, candidate)
    return kept
