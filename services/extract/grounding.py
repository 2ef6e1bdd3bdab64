"""Grounding: every entity the model proposes is located in the report, or dropped.

In intelligence work a confident invention is worse than a gap, so an entity survives only with
offsets into the report's normalised text such that ``text[start:end] == entity.text``. The
entity's text is always the source slice, never the model's string: a model that changed case
or spacing still points at what the report says, byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from schemas.v1 import Entity, EntityType, Flag, Quality
from services.extract.model import ProposedEntity

__all__ = ["Grounding", "ground", "grounding_quality"]

#: A flag names at most this many dropped texts (Flag.items holds 32), each clipped to this.
MAX_FLAG_ITEMS = 32
MAX_FLAG_ITEM_CHARS = 80

# Spellings a model substitutes for one another without meaning to: it writes "-" for the
# report's non-breaking hyphen, "'" for its typographic apostrophe.
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2212"
_APOSTROPHES = "'\u2019\u02bc\u2018`"
_CHAR_CLASSES = {c: f"[{re.escape(_DASHES)}]" for c in _DASHES} | {
    c: f"[{re.escape(_APOSTROPHES)}]" for c in _APOSTROPHES
}

Span = tuple[int, int]


@dataclass(frozen=True)
class Grounding:
    """The located entities (``source="model"``, sorted by span) and the proposals that could
    not be located. ``repeated``: proposals that named an entity already located (the model
    listed it twice, the text has it once) — located, but not a second entity."""

    entities: list[Entity]
    dropped: list[ProposedEntity]
    repeated: int = field(default=0)


def ground(proposed: Sequence[ProposedEntity], text: str) -> Grounding:
    """Locate each proposal in ``text``; see the module docstring for the guarantee.

    A proposal matches exactly first, else ignoring case, dash and apostrophe variants and
    differences in whitespace. When its text occurs several times, each proposal takes the first
    occurrence not already taken by an entity of the same type, exact matches and whole words
    before the rest. Proposals that are blank, longer than the text or not found are dropped.
    """
    taken: dict[EntityType, set[Span]] = {}
    entities: list[Entity] = []
    dropped: list[ProposedEntity] = []
    repeated = 0
    for proposal in proposed:
        candidate = proposal.text.strip()
        if not candidate or len(candidate) > len(text):
            dropped.append(proposal)
            continue
        spans = _occurrences(candidate, text)
        if not spans:
            dropped.append(proposal)
            continue
        mine = taken.setdefault(proposal.type, set())
        span = next((s for s in spans if s not in mine), None)
        if span is None:  # every occurrence already holds this entity: a repeat, not a new one
            repeated += 1
            continue
        mine.add(span)
        start, end = span
        entities.append(
            Entity(type=proposal.type, text=text[start:end], start=start, end=end, source="model")
        )
    entities.sort(key=lambda e: (e.start, e.end, e.type))
    return Grounding(entities=entities, dropped=dropped, repeated=repeated)


def _occurrences(candidate: str, text: str) -> list[Span]:
    """Every span of ``text`` that ``candidate`` may denote, best first: exact matches before
    flexible ones, whole words before matches inside a longer word, then in text order."""
    spans: set[Span] = set()
    start = text.find(candidate)
    while start != -1:
        spans.add((start, start + len(candidate)))
        start = text.find(candidate, start + 1)
    for match in _flexible(candidate).finditer(text):
        if match.end() > match.start():
            spans.add((match.start(), match.end()))

    def rank(span: Span) -> tuple[bool, bool, int]:
        start, end = span
        return text[start:end] != candidate, not _whole_word(text, start, end), start

    return sorted(spans, key=rank)


def _flexible(candidate: str) -> re.Pattern[str]:
    """``candidate`` ignoring case, dash and apostrophe variants, and the width of spaces."""
    words = ("".join(_CHAR_CLASSES.get(c) or re.escape(c) for c in w) for w in candidate.split())
    return re.compile(r"\s+".join(words), re.IGNORECASE)


def _whole_word(text: str, start: int, end: int) -> bool:
    # "Ural" should point at "Ural" before the first four letters of "Uralsk". Arabic attaches
    # prefixes ("ب", "و", "ال") to the word, so a match inside a word is ranked after, not dropped.
    before = start == 0 or not (text[start - 1].isalnum() and text[start].isalnum())
    after = end == len(text) or not (text[end - 1].isalnum() and text[end].isalnum())
    return before and after


def grounding_quality(g: Grounding) -> tuple[Quality, list[Flag]]:
    """The counts for the task's :class:`Quality`, and an ``entities_dropped`` flag when the
    model proposed entities the text does not contain."""
    grounded = len(g.entities) + g.repeated
    quality = Quality(entities_proposed=grounded + len(g.dropped), entities_grounded=grounded)
    if not g.dropped:
        return quality, []
    items: list[str] = []
    for proposal in g.dropped:
        shown = " ".join(proposal.text.split())[:MAX_FLAG_ITEM_CHARS] or "(blank)"
        if shown not in items:
            items.append(shown)
    count = len(g.dropped)
    flag = Flag(
        code="entities_dropped",
        detail=(
            f"{count} entit{'y' if count == 1 else 'ies'} proposed by the model could not be "
            "located in the report text and were dropped"
        ),
        task="extract",
        items=items[:MAX_FLAG_ITEMS],
    )
    return quality, [flag]
