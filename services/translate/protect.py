"""Do-not-translate tokens: what a translation must copy byte for byte.

Grids, DTGs (with or without their month) and coordinates, compact unit designations
(``3e RIMa``, ``2nd Bn``) and named task groups (``TF SENTINEL``), equipment designations
(``BTR-82A``, ``Т-72Б3``, ``M777``, ``2S19``) and equipment named in several pieces, as one
token (``Leopard 2A4``, ``2S19 Msta-S``), radio frequencies and callsigns (``RAVEN 3``,
``«Шмель»`` after "позывной"), exercise and operation names (``SAND CROSS 26``), references
(``0012/FFDJ/DL``), NATO stock numbers, telephone numbers, Latin acronyms (``NATO``, ``FFDj``),
and the glossary's protected list. The detectors live in ``services.domain`` (shared with the
summary's faithfulness check, which needs the same notion of "a unit or equipment name"); what is
translation's own is the glossary's list, the order of precedence between them, and the
byte-for-byte check.

The check counts occurrences: a token the source holds twice must be in the translation twice.
An occurrence is a whole token — not glued letter-to-letter to a longer word ("2S1" is not in
"2S19") and not part of a longer protected token ("T-72" is not in "T-72B3", a grid's first
half is not in the grid).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from services.domain.acronyms import find_acronyms
from services.domain.callsigns import find_callsigns, find_operation_names, find_task_groups
from services.domain.comms import find_comms, find_named_callsigns
from services.domain.compounds import (
    extend_units,
    find_plural_equipment,
    find_variant_names,
    join_equipment,
)
from services.domain.designations import find_equipment, find_unit_designations, find_unit_names
from services.domain.dtg import find_monthless_dtgs, find_zoned_times
from services.domain.identifiers import (
    find_labelled_numbers,
    find_mixed_acronyms,
    find_orders,
    find_phone_numbers,
    find_references,
    find_slashed_acronyms,
    find_stock_numbers,
)
from services.domain.mgrs_ref import find_grid_shapes
from services.domain.patterns import find_pattern_entities
from services.domain.spans import Span, resolve_overlaps

__all__ = [
    "TokenCount",
    "altered",
    "kept_counts",
    "protected_spans",
    "protected_tokens",
    "token_counts",
]


def _patterns(text: str) -> list[Span]:
    spans = [Span(e.start, e.end, e.text, "pattern") for e in find_pattern_entities(text)]
    spans += [
        Span(start, end, text[start:end], "pattern")
        for finder in (find_monthless_dtgs, find_zoned_times, find_grid_shapes)
        for start, end in finder(text)
    ]
    return spans


#: The finders, by precedence: of two overlapping spans of equal length the one listed first
#: wins (patterns first, acronyms last). The glossary's listed tokens come between the named
#: tokens and the acronyms (see :func:`protected_spans`).
_FINDERS: tuple[Callable[[str], list[Span]], ...] = (
    _patterns,
    find_stock_numbers,
    find_phone_numbers,
    find_references,
    find_orders,
    find_labelled_numbers,
    find_unit_designations,
    find_unit_names,
    find_task_groups,
    find_equipment,
    find_plural_equipment,
    find_variant_names,
    find_comms,
    find_callsigns,
    find_named_callsigns,
    find_operation_names,
    find_slashed_acronyms,
)
_LAST_FINDERS: tuple[Callable[[str], list[Span]], ...] = (find_acronyms, find_mixed_acronyms)


def protected_spans(text: str, extra: Sequence[str] = ()) -> list[Span]:
    """Every protected span of ``text``, by start; of overlapping ones the longest wins.

    Pieces that touch and name one piece of equipment ("Leopard" and "2A4") are also offered
    joined, so the longer reading wins and the model sees one token."""
    candidates = [span for finder in _FINDERS for span in finder(text)]
    listed = _listed_regex(tuple(extra))
    if listed is not None:
        candidates += [
            Span(m.start(), m.end(), m.group(0), "listed") for m in listed.finditer(text)
        ]
    candidates += [span for finder in _LAST_FINDERS for span in finder(text)]
    candidates += join_equipment(text, candidates) + extend_units(text, candidates)
    # Equal lengths: the candidate listed first wins (patterns, then units, ..., acronyms last).
    return resolve_overlaps(candidates, ties="input_order")


def protected_tokens(text: str, extra: Sequence[str] = ()) -> list[str]:
    """The tokens a translation of ``text`` must keep, by first occurrence, each once."""
    return list(dict.fromkeys(span.text for span in protected_spans(text, extra)))


@dataclass(frozen=True)
class TokenCount:
    """A protected token: its occurrences in the source and in the output (at most as many as
    the source has count as kept)."""

    token: str
    in_source: int
    in_output: int

    @property
    def kept(self) -> int:
        return min(self.in_source, self.in_output)

    def describe(self) -> str:
        """The token, and its counts when the source holds it more than once."""
        if self.in_source <= 1:
            return self.token
        return f"{self.token} ({self.in_source} in the source, {self.kept} kept)"


def token_counts(
    tokens: Sequence[str], text: str, *, glued: frozenset[str] = frozenset()
) -> dict[str, int]:
    """Whole-token occurrences of each of ``tokens`` in ``text``: longest tokens first, an
    occurrence inside one already counted is not counted again; an occurrence glued to a letter
    or digit on either side is not one (except for the tokens in ``glued``)."""
    text = unicodedata.normalize("NFC", text)
    taken: list[tuple[int, int]] = []
    counts: dict[str, int] = {}
    for token in sorted(dict.fromkeys(t for t in tokens if t), key=len, reverse=True):
        count = 0
        start = text.find(token)
        while start != -1:
            end = start + len(token)
            free = not any(s < end and start < e for s, e in taken)
            if free and (token in glued or _bounded(text, start, end)):
                taken.append((start, end))
                count += 1
                start = text.find(token, end)
            else:
                start = text.find(token, start + 1)
        counts[token] = count
    return counts


def kept_counts(tokens: Sequence[str], source: str | None, output: str) -> list[TokenCount]:
    """Each token (in order, once) with its occurrences in ``source`` and in ``output``.

    Without a source each token is wanted once. A token the source itself only holds glued to a
    word (a listed token inside a longer one) is counted as a substring in both texts.
    """
    unique = list(dict.fromkeys(t for t in tokens if t))
    if source is None:
        wanted = dict.fromkeys(unique, 1)
        glued: frozenset[str] = frozenset()
    else:
        source = unicodedata.normalize("NFC", source)
        wanted = token_counts(unique, source)
        glued = frozenset(t for t in unique if wanted[t] == 0 and t in source)
        if glued:
            wanted = token_counts(unique, source, glued=glued)
    found = token_counts(unique, output, glued=glued)
    return [TokenCount(t, wanted[t], found[t]) for t in unique]


def altered(tokens: Sequence[str], output: str, *, source: str | None = None) -> list[str]:
    """The tokens ``output`` does not keep byte for byte as often as ``source`` holds them
    (without a source: once each)."""
    return [c.token for c in kept_counts(tokens, source, output) if c.kept < c.in_source]


def _bounded(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is not glued, letter or digit to letter or digit, to what is
    around it."""
    before = start == 0 or not (text[start - 1].isalnum() and text[start].isalnum())
    after = end == len(text) or not (text[end - 1].isalnum() and text[end].isalnum())
    return before and after


@lru_cache(maxsize=32)
def _listed_regex(extra: tuple[str, ...]) -> re.Pattern[str] | None:
    tokens = sorted({t for t in extra if t.strip()}, key=len, reverse=True)
    if not tokens:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(t) for t in tokens) + r")(?!\w)")
