"""Entities against the gold: exact span and type, and the normalised values.

* precision/recall/F1: an entity of the event counts as right when the gold has an entity with
  the same start, end and type (each gold entity matched at most once), overall and per type;
* normalised accuracy: a gold DTG, MGRS or lat/long entity (one with a ``value``) is found when
  the event has an entity of the same type whose span overlaps it with the same value (lat/long:
  both within 1e-6);
* in-word model entities: a model entity whose span starts or ends inside a word (the Arabic
  proclitic allowed, :func:`services.evaluation.text.on_word_boundaries`): an entity the text
  does not hold as such.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from schemas.v1 import Entity
from services.evaluation.gold import GoldEntity
from services.evaluation.text import on_word_boundaries

__all__ = [
    "VALUE_KINDS",
    "Counts",
    "ValueCounts",
    "in_word_model_entities",
    "match_entities",
    "normalised_values",
    "value_kind",
]

VALUE_KINDS: tuple[str, ...] = ("dtg", "mgrs", "latlon")
_LATLON = re.compile(r"^-?\d+\.\d+,-?\d+\.\d+$")


@dataclass(frozen=True)
class Counts:
    """True positives, false positives, false negatives; the ratios (None when undefined)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None:
            return None
        return 2 * p * r / (p + r) if p + r else 0.0


def match_entities(
    gold: Sequence[GoldEntity], predicted: Sequence[Entity]
) -> tuple[dict[str, Counts], dict[str, Counts]]:
    """(per type, per source of the predicted entity) counts of exact span-and-type matches;
    a gold entity missed counts under its type only."""
    wanted = Counter((g.start, g.end, g.type) for g in gold)
    by_type: dict[str, Counts] = {}
    by_source: dict[str, Counts] = {}
    for e in predicted:
        key = (e.start, e.end, e.type)
        hit = Counts(tp=1) if wanted[key] > 0 else Counts(fp=1)
        if wanted[key] > 0:
            wanted[key] -= 1
        by_type[e.type] = by_type.get(e.type, Counts()) + hit
        by_source[e.source] = by_source.get(e.source, Counts()) + hit
    for (_, _, kind), missed in wanted.items():
        if missed:
            by_type[kind] = by_type.get(kind, Counts()) + Counts(fn=missed)
    return by_type, by_source


def value_kind(entity: GoldEntity) -> str | None:
    """``dtg``, ``mgrs`` or ``latlon`` for a gold entity with a normalised value, else None."""
    if entity.value is None:
        return None
    if entity.type == "DateTime":
        return "dtg"
    if entity.type == "Location":
        return "latlon" if _LATLON.match(entity.value) else "mgrs"
    return None


def _same_value(kind: str, gold: str, found: str | None) -> bool:
    if found is None:
        return False
    if kind != "latlon":
        return found == gold
    try:
        a = [float(x) for x in gold.split(",")]
        b = [float(x) for x in found.split(",")]
    except ValueError:
        return False
    return len(a) == len(b) == 2 and all(abs(x - y) <= 1e-6 for x, y in zip(a, b, strict=True))


@dataclass(frozen=True)
class ValueCounts:
    """Per kind: gold values, those found; and the gold values missed (``kind: text = value``)."""

    gold: dict[str, int]
    found: dict[str, int]
    missed: tuple[str, ...]


def normalised_values(gold: Sequence[GoldEntity], predicted: Sequence[Entity]) -> ValueCounts:
    totals: Counter[str] = Counter()
    found: Counter[str] = Counter()
    missed: list[str] = []
    for g in gold:
        kind = value_kind(g)
        if kind is None or g.value is None:
            continue
        totals[kind] += 1
        if any(
            e.type == g.type
            and e.start < g.end
            and g.start < e.end
            and _same_value(kind, g.value, e.value)
            for e in predicted
        ):
            found[kind] += 1
        else:
            missed.append(f"{kind}: {g.text} = {g.value}")
    return ValueCounts(dict(totals), dict(found), tuple(missed))


def in_word_model_entities(text: str, predicted: Iterable[Entity]) -> list[Entity]:
    """The model entities of ``predicted`` whose span cuts a word of ``text``."""
    return [
        e for e in predicted if e.source == "model" and not on_word_boundaries(text, e.start, e.end)
    ]
