"""The quantities of one segment — a LOGSTAT line or a sentence of free text.

A quantity is a number and the unit of measure written after it (``12 000 L``, ``24 000 RDS``,
``٥٠٠٠ لتر``). Around it, the segment says what it is (the item: ``gazole``, ``CL III``,
``5.56MM``), in what state (on hand, required, consumed, unserviceable) and which colour the
line gives. A line's header — what comes before its first colon — speaks for every quantity of
the line; each chunk between separators (``/``, ``;``, ``, ``, "et", "and"…) speaks for its own.

Free text is read more cautiously than a line: there, a number counts only with a unit of
measure that cannot be anything else (litres, rounds, boxes…), or with a count noun (vehicles,
personnel) next to a word saying their state.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from services.logstat import vocabulary as v
from services.logstat.items import Quantity
from services.logstat.numbers import Number, as_json_number, find_number_words, find_numbers

__all__ = ["Context", "SegmentReading", "disjoint", "read_segment", "within"]

Span = tuple[int, int]

_MULTIPLIER = re.compile(
    r"[ ]?(?P<m>тыс\.?|тис\.?|thousand|mille|ألف|آلاف|млн\.?|million|millions|مليون)(?!\w)",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"\s*(?:/|;|\||\(|\)|[,،](?=\s)|\s[-–—]\s|\s(?:et|and|и|і|й|та|plus|puis)\s)\s*", re.IGNORECASE
)
_DECLARED = re.compile(r"\(\s*([^()]{1,16}?)\s*\)")
_RESTATED = re.compile(r"\s*\(\s*(?:soit|i\.?e\.?|=|ou|or|env\.?|approx\.?|~|то есть|أي)?\s*")
_FUELS = frozenset({"diesel", "petrol", "jet fuel", "fuel", "water"})
_UNIT_ITEMS = {
    "rounds": "ammunition",
    "rations": "rations",
    "vehicles": "vehicles",
    "personnel": "personnel",
}
# How close after its unit an item word still names that quantity ("12 000 L de gazole").
_ITEM_REACH = 24
# How close before its number an item word makes "5 суток" a stock ("продовольствие — на 5").
_DAYS_REACH = 30
_COUNTED_IN_HEADERS = frozenset({"rounds", "boxes", "pallets", "rations", "personnel"})


@dataclass(frozen=True)
class Context:
    """What one report's text holds, found once: the spans of numbers that are no quantity
    (DTGs, grids, designations, calibres, times…) and the vocabulary's hits."""

    text: str
    excluded: list[Span]
    items: list[v.Hit]
    calibres: list[v.Hit]
    classes: list[v.Hit]
    statuses: list[v.Hit]
    ratings: list[v.Hit]

    def excluded_at(self, start: int, end: int) -> bool:
        """Whether ``[start, end)`` lies inside an excluded span (``excluded`` is sorted and
        its spans are disjoint: see :func:`disjoint`)."""
        index = bisect.bisect_right(self.excluded, (start, 1 << 62)) - 1
        return index >= 0 and self.excluded[index][0] <= start and end <= self.excluded[index][1]


def disjoint(spans: Sequence[Span]) -> list[Span]:
    """``spans`` sorted, overlapping ones joined."""
    joined: list[Span] = []
    for start, end in sorted(spans):
        if joined and start < joined[-1][1]:
            joined[-1] = (joined[-1][0], max(joined[-1][1], end))
        else:
            joined.append((start, end))
    return joined


def within(hits: Sequence[v.Hit], start: int, end: int) -> list[v.Hit]:
    """The hits lying inside ``[start, end)``; ``hits`` sorted by start (as found)."""
    found: list[v.Hit] = []
    for hit in hits[bisect.bisect_left(hits, start, key=lambda h: h.start) :]:
        if hit.start >= end:
            break
        if hit.end <= end:
            found.append(hit)
    return found


@dataclass
class SegmentReading:
    quantities: list[Quantity] = field(default_factory=list)
    #: Numbers nobody read: malformed, or without a unit the segment makes clear.
    unexplained: list[Number] = field(default_factory=list)
    malformed: list[Number] = field(default_factory=list)
    confusions: list[str] = field(default_factory=list)


@dataclass
class _Candidate:
    number: Number
    value: float
    unit: str
    end: int
    explicit: bool
    item: str | None = None
    #: The unit is one free text does not trust alone (days, vehicles, personnel, each).
    weak: bool = False


def read_segment(
    ctx: Context,
    start: int,
    end: int,
    *,
    line: bool,
    before: Quantity | None = None,
    status: str | None = None,
) -> SegmentReading:
    """The quantities of ``ctx.text[start:end]``; ``line``: a LOGSTAT line (its header speaks
    for it, a weak unit such as ``DAYS`` or ``VEH`` counts), else a sentence of free text.
    ``before``: the last quantity of the segments before ("Il reste 800 L." is still gazole
    when the sentence before counted gazole in litres); ``status``: the state a section
    heading gave the lines under it ("Besoins :")."""
    text = ctx.text
    out = SegmentReading()
    header_end = _header_end(ctx, start, end)
    header = (start, header_end) if header_end is not None else None
    body_start = header_end + 1 if header_end is not None else start
    bracketed = _declared_unit(text, header) if header else None
    declared = bracketed or (_header_unit(text, header) if header and line else None)
    header_item = _best_item(ctx, *header) if header else None
    casualty = v.CASUALTIES.find(text, *header) if header else []
    chunks = _chunks(ctx, body_start, end)
    numbers = [n for n in find_numbers(text, start, end) if not ctx.excluded_at(n.start, n.end)]
    candidates: list[_Candidate] = []
    for n in numbers:
        if n.value is None:
            out.malformed.append(n)
            out.unexplained.append(n)
            continue
        candidate = _quantity_at(ctx, n, n.value, end, line=line, declared=declared)
        if candidate is None and line and casualty:
            candidate = _Candidate(n, n.value, "personnel", n.end, False, casualty[0].value)
        if candidate is None and line and header_item in ("personnel", "vehicles"):
            candidate = _Candidate(n, n.value, header_item, n.end, explicit=False)
        if candidate is None and line and candidates:
            candidate = _elliptic(ctx, candidates[-1], n)
        if candidate is None:
            out.unexplained.append(n)
            continue
        candidates.append(candidate)
    for n in find_number_words(text, body_start, end):
        if n.value is None:
            continue
        candidate = _quantity_at(ctx, n, n.value, end, line=line, declared=None)
        if candidate is not None and candidate.explicit:
            candidates.append(candidate)
    candidates.sort(key=lambda c: c.number.start)
    # "deux mille litres" is one quantity: "mille litres" inside it is not a second one.
    candidates = [
        c for i, c in enumerate(candidates) if not i or c.number.start >= candidates[i - 1].end
    ]
    candidates = _without_restatements(text, candidates, out)
    statuses = _statuses(ctx, candidates, chunks, header, status)
    previous_item: str | None = None
    segment_rating = _first_value(ctx.ratings, start, end)
    for candidate, status in zip(candidates, statuses, strict=True):
        chunk = _chunk_of(chunks, candidate.number.start) or (body_start, end)
        if not line and not _free_text_counts(ctx, candidate, chunk):
            out.unexplained.append(candidate.number)
            continue
        earlier = previous_item or _same_kind(before, candidate.unit)
        item, supply_class = _item_for(ctx, candidate, chunk, header, header_item, earlier, line)
        previous_item = item
        unit, status = candidate.unit, status
        if unit == "each" and item.startswith("ammunition"):
            unit = "rounds"  # "30 000 шт." of cartridges
        if candidate.item is not None:
            status = "unserviceable"  # the wounded and the killed are out of action
        if (
            bracketed
            and candidate.explicit
            and candidate.unit != bracketed
            and v.unit_family(candidate.unit) == v.unit_family(bracketed)
        ):
            out.confusions.append(text[candidate.number.start : candidate.end])
        if _unit_contradicts_item(item, candidate.unit):
            out.confusions.append(text[candidate.number.start : candidate.end])
        rating = _first_value(ctx.ratings, *chunk) or segment_rating
        s, e = candidate.number.start, candidate.end
        out.quantities.append(
            Quantity(
                item=item,
                quantity=as_json_number(candidate.value),
                unit=unit,
                status=status,
                start=s,
                end=e,
                text=text[s:e],
                rating=rating,
                supply_class=supply_class,
            )
        )
    return out


def _header_end(ctx: Context, start: int, end: int) -> int | None:
    """Where the segment's header ends (its first colon), when it has one: a short label
    without a quantity of its own ("CL III (DIESEL)", "Besoins", "Горючее")."""
    text = ctx.text
    colon = text.find(":", start, end)
    while colon != -1 and colon + 1 < end and text[colon + 1].isdigit():
        colon = text.find(":", colon + 1, end)  # "06:40" is a time, not a header's end
    if colon == -1 or colon - start > 60:
        return None
    for n in find_numbers(text, start, colon):
        if n.value is not None and not ctx.excluded_at(n.start, n.end):
            return None
    return colon


def _header_unit(text: str, header: Span) -> str | None:
    """A header that names what its line counts ("Cartouches 5,56", "PAX", "Сухпайки"): the
    unit of the line's numbers written without one."""
    for hit in v.UNITS.find(text, *header):
        if hit.end - hit.start >= 3 and hit.value in _COUNTED_IN_HEADERS:
            return hit.value
    return None


def _elliptic(ctx: Context, previous: _Candidate, n: Number) -> _Candidate | None:
    """``240 шт., израсходовано 60``: a bare number after a status word, in the line of a
    quantity, counts in that quantity's unit."""
    if n.value is None or not within(ctx.statuses, previous.end, n.start):
        return None
    return _Candidate(n, n.value, previous.unit, n.end, explicit=False)


def _declared_unit(text: str, header: Span) -> str | None:
    for m in _DECLARED.finditer(text, *header):
        hit = v.UNITS.at(m.group(1), 0)
        if hit is not None and hit.end == len(m.group(1)):
            return hit.value
    return None


def _quantity_at(
    ctx: Context, n: Number, value: float, end: int, *, line: bool, declared: str | None
) -> _Candidate | None:
    text = ctx.text
    position = n.end
    multiplier = _MULTIPLIER.match(text, position, end)
    if multiplier is not None:
        word = multiplier.group("m").casefold()
        value *= 1_000_000 if word.startswith(("млн", "milli", "مليون")) else 1000
        position = multiplier.end()
    gap = 1 if position < end and text[position] == " " else 0
    strong = v.STRONG_UNITS.at(text, position + gap, end)
    if strong is not None:
        return _Candidate(n, value, strong.value, strong.end, explicit=True)
    casualty = v.CASUALTIES.at(text, position + gap, end)
    if casualty is not None:
        return _Candidate(n, value, "personnel", casualty.end, explicit=True, item=casualty.value)
    weak = v.WEAK_UNITS.at(text, position + gap, end)
    if weak is not None:
        return _Candidate(n, value, weak.value, weak.end, explicit=True, weak=True)
    if line and declared is not None and multiplier is None:
        return _Candidate(n, value, declared, n.end, explicit=False)
    return None


def _chunks(ctx: Context, start: int, end: int) -> list[Span]:
    """The segment's pieces between separators (a separator inside a status word such as
    ``O/H`` or ``U/S`` separates nothing)."""
    protected = [(h.start, h.end) for h in within(ctx.statuses, start, end)]
    cuts = [
        m
        for m in _SEPARATOR.finditer(ctx.text, start, end)
        if not any(s < m.end() and m.start() < e for s, e in protected)
    ]
    spans: list[Span] = []
    position = start
    for m in cuts:
        if m.start() > position:
            spans.append((position, m.start()))
        position = max(position, m.end())
    if position < end:
        spans.append((position, end))
    return spans


def _chunk_of(chunks: Sequence[Span], position: int) -> Span | None:
    return next(((s, e) for s, e in chunks if s <= position < e), None)


def _without_restatements(
    text: str, candidates: list[_Candidate], out: SegmentReading
) -> list[_Candidate]:
    """``12 m3 (12 000 L)``: the quantity in brackets restates the one before it — one item,
    not two. A restatement that disagrees (``12 m3 (1 200 L)``) is a unit confusion."""
    kept: list[_Candidate] = []
    for candidate in candidates:
        previous = kept[-1] if kept else None
        between = text[previous.end : candidate.number.start] if previous else ""
        if (
            previous is not None
            and candidate.explicit
            and _RESTATED.fullmatch(between)
            and "(" in between
            and v.unit_family(candidate.unit) is not None
            and v.unit_family(candidate.unit) == v.unit_family(previous.unit)
        ):
            if not _agree(previous, candidate):
                out.confusions.append(text[previous.number.start : previous.end])
                out.confusions.append(text[candidate.number.start : candidate.end])
            continue
        kept.append(candidate)
    return kept


_PER_BASE = {"litres": 1.0, "m3": 1000.0, "kg": 1.0, "tonnes": 1000.0}


def _agree(first: _Candidate, second: _Candidate) -> bool:
    if first.unit not in _PER_BASE or second.unit not in _PER_BASE:
        return True  # rounds and boxes: a box holds what the calibre puts in it
    a, b = first.value * _PER_BASE[first.unit], second.value * _PER_BASE[second.unit]
    return abs(a - b) <= 0.01 * max(a, b)


def _statuses(
    ctx: Context,
    candidates: Sequence[_Candidate],
    chunks: Sequence[Span],
    header: Span | None,
    default: str | None,
) -> list[str]:
    """Each quantity's state: a status word right after it is its own; else the nearest one
    before it in its chunk, else after it; else the nearest one since the quantity before it;
    else the previous quantity's, the header's, the section's, on hand."""
    text = ctx.text
    bound: dict[int, v.Hit] = {}
    used: set[v.Hit] = set()
    starts = [h.start for h in ctx.statuses]
    for index, candidate in enumerate(candidates):
        position = bisect.bisect_left(starts, candidate.end)
        if position < len(starts):
            hit = ctx.statuses[position]
            if not text[candidate.end : hit.start].strip(" :–-"):
                bound[index] = hit
                used.add(hit)
    carry = (_first_value(ctx.statuses, *header) if header else None) or default
    result: list[str] = []
    since = chunks[0][0] if chunks else 0
    for index, candidate in enumerate(candidates):
        chunk = _chunk_of(chunks, candidate.number.start)
        status: str | None = bound[index].value if index in bound else None
        if status is None and chunk is not None:
            free = [h for h in within(ctx.statuses, *chunk) if h not in used]
            before = [h for h in free if h.end <= candidate.number.start]
            after = [h for h in free if h.start >= candidate.end]
            if before:
                status = before[-1].value
            elif after:
                status = after[0].value
        if status is None:
            earlier = [h for h in within(ctx.statuses, since, candidate.number.start)]
            status = next((h.value for h in reversed(earlier) if h not in used), None)
        status = status or carry or "on_hand"
        carry = status
        since = candidate.end
        result.append(status)
    return result


def _first_value(hits: Sequence[v.Hit], start: int, end: int) -> str | None:
    found = within(hits, start, end)
    return found[0].value if found else None


def _most_specific(hits: Sequence[v.Hit]) -> str:
    """A calibre before a fuel type or a named item, before "fuel" or "ammunition"."""
    ranked = sorted(
        hits,
        key=lambda h: (
            not h.value.startswith("ammunition "),
            h.value in ("fuel", "ammunition"),
            h.start,
        ),
    )
    return ranked[0].value


def _best_item(ctx: Context, start: int, end: int) -> str | None:
    named = within(ctx.calibres, start, end) + within(ctx.items, start, end)
    if named:
        return _most_specific(named)
    classes = within(ctx.classes, start, end)
    return v.CLASS_ITEMS[classes[0].value] if classes else None


def _same_kind(before: Quantity | None, unit: str) -> str | None:
    if before is None or v.unit_family(unit) is None:
        return None
    return before.item if v.unit_family(before.unit) == v.unit_family(unit) else None


def _item_for(
    ctx: Context,
    candidate: _Candidate,
    chunk: Span,
    header: Span | None,
    header_item: str | None,
    previous: str | None,
    line: bool,
) -> tuple[str, str | None]:
    item = candidate.item
    if item is None:
        # An item word right after the unit names this quantity ("12 000 L de gazole").
        reach = min(chunk[1], candidate.end + _ITEM_REACH + 1)
        follows = [
            h
            for h in within(ctx.calibres, candidate.end, chunk[1])
            + within(ctx.items, candidate.end, chunk[1])
            if h.start < reach
        ]
        if follows:
            item = _most_specific(follows)
    if item is None:
        before = _best_item(ctx, chunk[0], candidate.number.start)
        # A line's header names its quantities; in prose the last item named is likelier.
        context = (header_item, previous) if line else (previous, header_item)
        item = before or context[0] or context[1] or _UNIT_ITEMS.get(candidate.unit)
    classes = within(ctx.classes, *chunk) or (within(ctx.classes, *header) if header else [])
    supply_class = classes[0].value if classes else None
    if item is None:
        item = v.CLASS_ITEMS[supply_class] if supply_class else "unspecified"
    if supply_class is None:
        supply_class = "V" if item.startswith("ammunition") else v.ITEM_CLASS.get(item)
    return item, supply_class


def _unit_contradicts_item(item: str, unit: str) -> bool:
    """Fuel counted in rounds, ammunition in litres: the text says which, and it is not this."""
    if item in _FUELS:
        return unit in ("rounds",)
    if item.startswith("ammunition"):
        return unit in ("litres", "m3")
    return False


def _free_text_counts(ctx: Context, candidate: _Candidate, chunk: Span) -> bool:
    """In free text a weak unit (days, vehicles, personnel, each) counts only next to a status
    word or, for days, an item ("carburant pour 3 jours")."""
    if candidate.item is not None or not candidate.weak:
        return True  # casualties, and units that cannot be anything else
    if within(ctx.statuses, *chunk):
        return True
    if candidate.unit != "days_of_supply":
        return False
    start = candidate.number.start
    near = within(ctx.items, max(0, start - 4 * _DAYS_REACH), start)
    return bool(within(ctx.items, *chunk)) or any(h.end >= start - _DAYS_REACH for h in near)
