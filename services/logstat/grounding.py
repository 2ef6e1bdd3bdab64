"""Grounding: every quantity the model proposes is found in the report and checked there, or
dropped.

A logistician moves fuel on these numbers, so a model's quantity survives only when

1. the words it cites are in the report, at word boundaries (exactly, else ignoring case, dash
   and apostrophe variants, the width of spaces, the script of the digits and the grouping of
   thousands: the model writes ``12000`` for the report's ``12 000``, ``3000`` for ``٣٠٠٠``);
2. its number is a number written there (in digits or words, ``5 тыс.`` being 5000);
3. its unit is the one written after that number — or, when the report writes the same kind of
   unit differently (litres for the report's m³, rounds for its boxes), the report's unit, the
   item kept and flagged as a unit confusion. A unit the report does not write at all (litres
   where it says nothing, or says rounds) is not in the source.

The item's text is always the source slice, never the model's string.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from services.logstat import vocabulary as v
from services.logstat.items import Quantity
from services.logstat.model import ProposedItem
from services.logstat.numbers import as_json_number, find_number_words, find_numbers
from services.logstat.reading import Context, within

__all__ = ["Grounding", "describe", "ground"]

Span = tuple[int, int]

_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2212"
_APOSTROPHES = "'\u2019\u02bc\u2018`"
_DIGITS = {str(d): f"[{d}{chr(0x0660 + d)}{chr(0x06F0 + d)}]" for d in range(10)}
_DIGITS |= {chr(0x0660 + d): _DIGITS[str(d)] for d in range(10)}
_CLASSES = (
    {c: f"[{re.escape(_DASHES)}]" for c in _DASHES}
    | {c: f"[{re.escape(_APOSTROPHES)}]" for c in _APOSTROPHES}
    | _DIGITS
)
_GROUPING = "[ \u00a0\u202f,.'\u066c]?"
_MULTIPLIER = re.compile(r"[ ]?(тыс\.?|тис\.?|thousand|mille|ألف|آلاف)(?!\w)", re.IGNORECASE)
_COUNTS = frozenset({"each", "vehicles", "personnel"})


@dataclass(frozen=True)
class Grounding:
    """The model's quantities found and checked in the text (``source="model"``), those that
    were not, and the texts whose unit the model confused."""

    quantities: list[Quantity]
    dropped: list[ProposedItem]
    confusions: list[str] = field(default_factory=list)
    repeated: int = 0


def describe(proposal: ProposedItem) -> str:
    """A dropped proposal as a flag names it: ``4000 litres (“4 000 L de gazole”)``."""
    text = " ".join(proposal.text.split())[:80] or "(blank)"
    return f"{as_json_number(proposal.quantity)} {proposal.unit} (“{text}”)"


def ground(proposed: Sequence[ProposedItem], ctx: Context) -> Grounding:
    taken: set[Span] = set()
    quantities: list[Quantity] = []
    dropped: list[ProposedItem] = []
    confusions: list[str] = []
    repeated = 0
    for proposal in proposed:
        spans = _occurrences(proposal.text.strip(), ctx.text)
        if not spans:
            dropped.append(proposal)
            continue
        free = [s for s in spans if s not in taken]
        if not free:
            repeated += 1
            continue
        located = None
        for span in free:
            located = _check(proposal, span, ctx)
            if located is not None:
                break
        if located is None:
            dropped.append(proposal)
            continue
        quantity, confused = located
        taken.add((quantity.start, quantity.end))
        quantities.append(quantity)
        if confused:
            confusions.append(quantity.text)
    quantities.sort(key=lambda q: (q.start, q.end))
    return Grounding(quantities, dropped, confusions, repeated)


def _occurrences(candidate: str, text: str) -> list[Span]:
    """Every span of ``text`` at word boundaries that ``candidate`` may denote, exact ones
    first, then in text order."""
    if not candidate or len(candidate) > len(text):
        return []
    spans: set[Span] = set()
    for pattern in (re.escape(candidate), _flexible(candidate)):
        for m in re.finditer(_bounded(pattern, candidate), text, re.IGNORECASE):
            if m.end() > m.start():
                spans.add((m.start(), m.end()))
    return sorted(spans, key=lambda s: (text[s[0] : s[1]] != candidate, s[0]))


def _flexible(candidate: str) -> str:
    parts: list[str] = []
    for word in candidate.split():
        pieces: list[str] = []
        for index, c in enumerate(word):
            if index and c.isdigit() and word[index - 1].isdigit():
                pieces.append(_GROUPING)
            pieces.append(_CLASSES.get(c) or re.escape(c))
        parts.append("".join(pieces))
    return r"\s+".join(parts)


def _bounded(pattern: str, candidate: str) -> str:
    before = r"(?<!\w)" if candidate[0].isalnum() else ""
    after = r"(?!\w)" if candidate[-1].isalnum() else ""
    return f"{before}(?:{pattern}){after}"


def _check(proposal: ProposedItem, span: Span, ctx: Context) -> tuple[Quantity, bool] | None:
    """The proposal at ``span`` if its number and unit are written there (see the module
    docstring); the flag says whether its unit was the report's other unit of the same kind."""
    text = ctx.text
    start, end = span
    for number in [*find_numbers(text, start, end), *find_number_words(text, start, end)]:
        if number.value is None:
            continue
        value, position = number.value, number.end
        multiplier = _MULTIPLIER.match(text, position)
        if multiplier is not None:
            value, position = value * 1000, multiplier.end()
        if abs(value - proposal.quantity) > 1e-6 * max(1.0, abs(value)):
            continue
        gap = 1 if position < len(text) and text[position] == " " else 0
        written = v.UNITS.at(text, position + gap) or v.CASUALTIES.at(text, position + gap)
        if written is None:
            written = _unit_in_span(text, position, end)
        unit, confused = _unit(proposal, written, ctx, span)
        if unit is None:
            continue
        if written is not None and written.end > end:
            end = written.end  # the model cut the unit off its citation: cite it whole
        return _quantity(proposal, unit, (start, end), ctx), confused
    return None


def _unit_in_span(text: str, position: int, end: int) -> v.Hit | None:
    """``douzaine de caisses``: the first unit the cited words write after the number, before
    any other number."""
    following = [n for n in find_numbers(text, position, end) if n.start >= position]
    stop = following[0].start if following else end
    hits = v.UNITS.find(text, position, stop)
    return hits[0] if hits else None


def _unit(
    proposal: ProposedItem, written: v.Hit | None, ctx: Context, span: Span
) -> tuple[str | None, bool]:
    if written is None:
        if proposal.unit == "each":
            return "each", False
        if proposal.unit in ("vehicles", "personnel"):
            words = v.WEAK_UNITS.find(ctx.text, *span) + v.ITEMS.find(ctx.text, *span)
            if any(h.value == proposal.unit for h in words):
                return proposal.unit, False
        return None, False
    unit = "personnel" if written.value in ("wounded", "killed") else written.value
    if unit == proposal.unit:
        return unit, False
    family = v.unit_family(unit)
    if family is not None and family == v.unit_family(proposal.unit):
        return unit, True  # the report says m³ where the model says litres: the report wins
    if proposal.unit in _COUNTS or unit in _COUNTS or unit == "days_of_supply":
        return unit, False  # "each" for the report's "3 camions": the report is more precise
    return None, False


def _quantity(proposal: ProposedItem, unit: str, span: Span, ctx: Context) -> Quantity:
    text = ctx.text
    start, end = span
    cues = within(ctx.statuses, start, end)
    status = cues[0].value if cues else proposal.status
    item = _item(proposal, ctx, span)
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    ratings = within(ctx.ratings, line_start, len(text) if line_end == -1 else line_end)
    supply_class = "V" if item.startswith("ammunition") else v.ITEM_CLASS.get(item)
    return Quantity(
        item=item,
        quantity=as_json_number(proposal.quantity),
        unit=unit,
        status=status,
        start=start,
        end=end,
        text=text[start:end],
        source="model",
        rating=ratings[0].value if ratings else None,
        supply_class=supply_class,
    )


def _item(proposal: ProposedItem, ctx: Context, span: Span) -> str:
    """The item in the vocabulary's words when the model's name or the cited text has one."""
    calibre = v.CALIBRE.search(proposal.item)
    if calibre is not None:
        return v.calibre_hit(calibre).value
    named = [h.value for h in v.ITEMS.find(proposal.item)]
    specific = [n for n in named if n not in ("fuel", "ammunition")]
    cited = [h.value for h in within(ctx.calibres, *span) + within(ctx.items, *span)]
    for choice in (specific, cited, named):
        if choice:
            return choice[0]
    return " ".join(proposal.item.split()).casefold()[:40] or "unspecified"
