"""Grounding: every entity the model proposes is located in the report, or dropped.

In intelligence work a confident invention is worse than a gap, so an entity survives only with
offsets into the report's normalised text such that ``text[start:end] == entity.text``. The
entity's text is always the source slice, never the model's string: a model that changed case
or spacing still points at what the report says, byte for byte.

A proposal is located on word boundaries: a whole word (or words) first; in Arabic, a word
after its clitic prefixes (و، ف، ب، ك، ل، ال and their combinations: "قرب" in "وبالقرب"), the
span excluding them; any other match inside a word is refused ("en" is not in "enemy", "T-72"
not in "T-72B3"). A proposal whose text cannot be of its type (a Quantity without a number, see
:mod:`services.extract.plausibility`) is refused before it is looked for. Every refusal is
dropped, counted and flagged with its reason.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from schemas.v1 import Entity, EntityType, Flag, Quality
from services.extract.arabic import is_clitic
from services.extract.model import ProposedEntity
from services.extract.plausibility import implausible

__all__ = ["Drop", "DropReason", "Grounding", "ground", "grounding_quality"]

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

#: Why a proposal was dropped: blank; not in the text; in it only inside a longer word; its
#: text cannot be of its type.
DropReason = Literal["blank", "not_found", "inside_word", "implausible"]


@dataclass(frozen=True)
class Drop:
    reason: DropReason
    #: For ``implausible``: what the text lacks for its type.
    why: str = ""


@dataclass(frozen=True)
class Grounding:
    """The located entities (``source="model"``, sorted by span) and the proposals that could
    not be located. ``repeated``: proposals that named an entity already located (the model
    listed it twice, the text has it once) — located, but not a second entity. ``drops``: why
    each proposal of ``dropped`` was dropped, in the same order."""

    entities: list[Entity]
    dropped: list[ProposedEntity]
    repeated: int = field(default=0)
    drops: list[Drop] = field(default_factory=list)


def ground(proposed: Sequence[ProposedEntity], text: str) -> Grounding:
    """Locate each proposal in ``text``; see the module docstring for the guarantee.

    A proposal matches exactly first, else ignoring case, dash and apostrophe variants and
    differences in whitespace; only on word boundaries (an Arabic clitic prefix is one). When its
    text occurs several times, each proposal takes the first occurrence not already taken by an
    entity of the same type, exact matches and whole words before the rest. Proposals that are
    blank, longer than the text, implausible for their type, not found or found only inside a
    word are dropped.
    """
    taken: dict[EntityType, set[Span]] = {}
    entities: list[Entity] = []
    dropped: list[ProposedEntity] = []
    drops: list[Drop] = []
    repeated = 0
    for proposal in proposed:
        candidate = proposal.text.strip()
        drop: Drop | None = None
        spans: list[Span] = []
        if not candidate:
            drop = Drop("blank")
        elif len(candidate) > len(text):
            drop = Drop("not_found")
        elif (why := implausible(proposal.type, candidate)) is not None:
            drop = Drop("implausible", f"{proposal.type} {_shown(candidate)!r}: {why}")
        else:
            found = _occurrences(candidate, text)
            spans = [span for span in found if _on_word_boundaries(text, *span)]
            if not spans:
                drop = Drop("inside_word" if found else "not_found")
        if drop is not None:
            dropped.append(proposal)
            drops.append(drop)
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
    return Grounding(entities=entities, dropped=dropped, repeated=repeated, drops=drops)


def _occurrences(candidate: str, text: str) -> list[Span]:
    """Every span of ``text`` that ``candidate`` may denote, best first: exact matches before
    flexible ones, whole words before words after an Arabic clitic (and before matches inside
    a word, which the caller refuses), then in text order."""
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


def _glued_before(text: str, start: int) -> bool:
    return start > 0 and text[start - 1].isalnum() and text[start].isalnum()


def _glued_after(text: str, end: int) -> bool:
    return end < len(text) and text[end - 1].isalnum() and text[end].isalnum()


def _whole_word(text: str, start: int, end: int) -> bool:
    """``text[start:end]`` is not glued, letter or digit to letter or digit, to its
    neighbours: "Ural" in "deux Ural chargés", not in "Uralsk"."""
    return not _glued_before(text, start) and not _glued_after(text, end)


def _on_word_boundaries(text: str, start: int, end: int) -> bool:
    """A whole word, or a word that ends where its word ends after an Arabic clitic prefix
    ("قرب" in "وبالقرب", "1500" in "بـ1500")."""
    if _glued_after(text, end):
        return False
    if not _glued_before(text, start):
        return True
    word_start = start
    while word_start > 0 and text[word_start - 1].isalnum():
        word_start -= 1
    return is_clitic(text[word_start:start])


def _shown(text: str) -> str:
    return " ".join(text.split())[:MAX_FLAG_ITEM_CHARS] or "(blank)"


_REASONS: dict[DropReason, str] = {
    "not_found": "not in the report text",
    "inside_word": "only inside a longer word",
    "implausible": "implausible for {its} type",
    "blank": "blank",
}
#: The detail names at most this many implausible proposals (the items name them all).
MAX_DETAIL_EXAMPLES = 3


def _drop_detail(g: Grounding) -> str:
    count = len(g.dropped)
    # A Grounding built without reasons: its drops were not found.
    counts = Counter(drop.reason for drop in g.drops)
    counts["not_found"] += max(0, count - len(g.drops))
    parts: list[str] = []
    for reason, text in _REASONS.items():
        n = counts.get(reason, 0)
        if not n:
            continue
        part = f"{n} " + text.format(its="its" if n == 1 else "their")
        if reason == "implausible":
            whys = list(dict.fromkeys(d.why for d in g.drops if d.reason == reason))
            part += " (" + "; ".join(whys[:MAX_DETAIL_EXAMPLES])
            part += ", …)" if len(whys) > MAX_DETAIL_EXAMPLES else ")"
        parts.append(part)
    return (
        f"{count} entit{'y' if count == 1 else 'ies'} proposed by the model "
        f"{'was' if count == 1 else 'were'} dropped: " + "; ".join(parts)
    )


def grounding_quality(g: Grounding) -> tuple[Quality, list[Flag]]:
    """The counts for the task's :class:`Quality`, and an ``entities_dropped`` flag when the
    model proposed entities the text does not contain."""
    grounded = len(g.entities) + g.repeated
    quality = Quality(entities_proposed=grounded + len(g.dropped), entities_grounded=grounded)
    if not g.dropped:
        return quality, []
    items: list[str] = []
    for proposal in g.dropped:
        shown = _shown(proposal.text)
        if shown not in items:
            items.append(shown)
    flag = Flag(
        code="entities_dropped",
        detail=_drop_detail(g),
        task="extract",
        items=items[:MAX_FLAG_ITEMS],
    )
    return quality, [flag]
