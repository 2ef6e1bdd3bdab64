"""Placeholders: what the model must not rewrite, taken out of its hands.

Before generation every protected token of the report (grid, DTG, coordinates, unit and
equipment designation, callsign, listed token — :func:`services.translate.protect.protected_spans`)
is replaced by a marker, ``[P1]``, ``[P2]``…, one per occurrence, so a token the report holds
twice is two markers. The model translates the masked report; after generation each marker is
replaced by its token, byte for byte. The model can drop a marker (the token is then missing
and the protected check flags it, ``protected_altered``), repeat one (the token is restored at
each place: nothing is altered), garble one beyond recognition (missing, flagged) or invent one
(``[P99]``: it hides nothing and is removed) — it can never misspell the token itself.

A glossary term may be masked the same way (``[G1]``…), restored as the glossary's required
target: the "placeholders" glossary method. A report that already holds text shaped like a
marker is not masked at all (its own "[P1]" would be restored as a token): the caller falls
back to prompting.

Pure: standard library and the domain finders only.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from services.translate.glossary import GlossaryTerm
from services.translate.protect import protected_spans

__all__ = ["Masked", "Restored", "Slot", "mask", "mask_example", "restore"]

#: A marker as written, and as the model may give it back (spaces inside, lower case).
_MARKER = re.compile(r"\[\s*([PG])\s*(\d{1,3})\s*\]", re.IGNORECASE)


@dataclass(frozen=True)
class Slot:
    """One masked occurrence: its marker, the source text it hides, and what restoring writes
    (the same text for a protected token, the required target for a glossary term)."""

    marker: str
    source: str
    restored_as: str
    kind: str  # "protected" or "term"


@dataclass(frozen=True)
class Masked:
    """The report as the model sees it, and the slots to restore."""

    text: str
    slots: tuple[Slot, ...]

    @property
    def markers(self) -> list[str]:
        return [slot.marker for slot in self.slots]

    def marker_of(self, token: str) -> list[str]:
        """The markers hiding ``token`` (protected occurrences)."""
        return [s.marker for s in self.slots if s.source == token and s.kind == "protected"]


@dataclass(frozen=True)
class Restored:
    """The translation with every marker replaced; what the model did with the markers."""

    text: str
    #: Slots whose marker the output does not hold: their text is missing from ``text``.
    missing: tuple[Slot, ...]
    #: Slots whose marker came back more than once (restored at each place).
    repeated: tuple[Slot, ...]
    #: Markers the output holds that name no slot (removed from ``text``).
    unknown: tuple[str, ...]


def mask(
    text: str,
    *,
    extra_protected: Sequence[str] = (),
    terms: Sequence[tuple[int, int, GlossaryTerm]] = (),
    protect: bool = True,
) -> Masked | None:
    """``text`` with its protected tokens (unless not ``protect``) and the given glossary term
    occurrences (as ``Glossary.term_spans`` finds them) replaced by markers; None when
    ``text`` already holds a marker of its own. A term overlapping a protected token is never
    masked (the token is the report's own spelling to keep)."""
    text = unicodedata.normalize("NFC", text)
    if _MARKER.search(text):
        return None
    tokens = protected_spans(text, extra_protected)
    pieces: list[tuple[int, int, str, str, str]] = [
        (s.start, s.end, s.text, s.text, "protected") for s in tokens if protect
    ]
    for start, end, term in terms:
        if not any(start < s.end and s.start < end for s in tokens):
            pieces.append((start, end, text[start:end], term.target, "term"))
    pieces.sort()
    out: list[str] = []
    slots: list[Slot] = []
    at = 0
    numbers = {"protected": 0, "term": 0}
    for start, end, source, restored_as, kind in pieces:
        numbers[kind] += 1
        marker = f"[{'P' if kind == 'protected' else 'G'}{numbers[kind]}]"
        out += [text[at:start], marker]
        slots.append(Slot(marker, source, restored_as, kind))
        at = end
    out.append(text[at:])
    return Masked("".join(out), tuple(slots))


def restore(output: str, masked: Masked) -> Restored:
    """``output`` with each marker replaced by its slot's text (see the module docstring)."""
    by_marker = {slot.marker: slot for slot in masked.slots}
    seen: Counter[str] = Counter()
    unknown: list[str] = []

    def put(match: re.Match[str]) -> str:
        marker = f"[{match.group(1).upper()}{int(match.group(2))}]"
        slot = by_marker.get(marker)
        if slot is None:
            # A marker the prompt never showed hides nothing: it goes (the report held no
            # marker of its own, or it would not have been masked).
            unknown.append(match.group(0))
            return ""
        seen[marker] += 1
        return slot.restored_as

    text = _MARKER.sub(put, output)
    return Restored(
        text=text,
        missing=tuple(s for s in masked.slots if seen[s.marker] == 0),
        repeated=tuple(s for s in masked.slots if seen[s.marker] > 1),
        unknown=tuple(dict.fromkeys(unknown)),
    )


def mask_example(source: str, translation: str) -> tuple[str, str]:
    """A worked example's pair with the same markers on both sides: each protected token of
    ``source`` masked there and, in order, in ``translation`` (a token the translation does not
    hold stays masked on the source side only)."""
    masked = mask(source)
    if masked is None:
        return source, translation
    at = 0
    out: list[str] = []
    for slot in masked.slots:
        found = translation.find(slot.source, at)
        if found == -1:
            continue
        out += [translation[at:found], slot.marker]
        at = found + len(slot.source)
    out.append(translation[at:])
    return masked.text, "".join(out)
