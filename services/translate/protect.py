"""Do-not-translate tokens: what a translation must copy byte for byte.

Grids, DTGs and coordinates, compact unit designations (``3e RIMa``, ``2nd Bn``), equipment
designations (``BTR-82A``, ``Т-72Б3``, ``M777``, ``2S19``), radio frequencies and callsigns,
Latin all-caps acronyms, and the glossary's protected list. The detectors live in
``services.domain`` (shared with the summary's faithfulness check, which needs the same notion
of "a unit or equipment name"); what is translation's own is the glossary's list, the order of
precedence between them, and the byte-for-byte check.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

from services.domain.acronyms import find_acronyms
from services.domain.comms import find_comms
from services.domain.designations import find_equipment, find_unit_designations
from services.domain.patterns import find_pattern_entities
from services.domain.spans import Span, resolve_overlaps

__all__ = ["altered", "protected_spans", "protected_tokens"]


def protected_spans(text: str, extra: Sequence[str] = ()) -> list[Span]:
    """Every protected span of ``text``, by start; of overlapping ones the longest wins."""
    candidates: list[Span] = [
        Span(e.start, e.end, e.text, "pattern") for e in find_pattern_entities(text)
    ]
    candidates += find_unit_designations(text)
    candidates += find_equipment(text)
    candidates += find_comms(text)
    listed = _listed_regex(tuple(extra))
    if listed is not None:
        candidates += [
            Span(m.start(), m.end(), m.group(0), "listed") for m in listed.finditer(text)
        ]
    candidates += find_acronyms(text)
    # Equal lengths: the candidate listed first wins (patterns, then units, ..., acronyms last).
    return resolve_overlaps(candidates, ties="input_order")


def protected_tokens(text: str, extra: Sequence[str] = ()) -> list[str]:
    """The tokens a translation of ``text`` must keep, by first occurrence, each once."""
    return list(dict.fromkeys(span.text for span in protected_spans(text, extra)))


def altered(tokens: Sequence[str], output: str) -> list[str]:
    """The tokens that do not appear, byte for byte, in ``output``."""
    output = unicodedata.normalize("NFC", output)
    return [token for token in tokens if token not in output]


@lru_cache(maxsize=32)
def _listed_regex(extra: tuple[str, ...]) -> re.Pattern[str] | None:
    tokens = sorted({t for t in extra if t.strip()}, key=len, reverse=True)
    if not tokens:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(t) for t in tokens) + r")(?!\w)")
