"""Equipment named in several pieces, protected as one: ``Leopard 2A4``, ``2S19 Msta-S``,
``BM-21 Grad``, ``VBMR Griffon``, ``DJI Mavic 3``, ``Falcon 50``, ``CV90s``, ``Мста-С``.

Masking the pieces apart would give the model ``[P1] [P2]`` to reorder or split; a model name is
one thing and moves as one. The pieces come from the other finders (designations, the listed
names, acronyms); this module only joins what touches. Pure (standard library and
``services.domain`` only).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from services.domain.designations import find_equipment
from services.domain.spans import Span

__all__ = ["extend_units", "find_plural_equipment", "find_variant_names", "join_equipment"]

_GAP = "[ \u00a0\u202f]"
_CAPS = "A-ZА-ЯЁІЇЄҐ"

# A name with a variant letter after a hyphen: "Msta-S", "Мста-С", "Тигр-М", "МТ-ЛБ". The
# suffix is one or two capitals: a hyphenated prose word ("Saint-Lô", "по-русски") has
# lower-case letters there.
_VARIANT_RE = re.compile(rf"(?<![\w-])[{_CAPS}]\w{{1,9}}-[{_CAPS}]{{1,2}}(?![\w-])")
# A designation with a plural "s" ("CV90s", "2A4s"): the designation is the token, written as
# the report wrote it.
_PLURAL_RE = re.compile(r"(?<![\w-])(?P<base>[\w-]{1,14}[0-9A-Z])s(?!\w)")
# What may follow a name to make it one model: a number ("Falcon 50", "Bergepanzer 2") or a
# variant suffix ("Msta-S"). Not a decimal, nor a number running on into another.
_MODEL_NUMBER_RE = re.compile(rf"{_GAP}[0-9]{{1,3}}(?![\w.,]|{_GAP}[0-9])")
_SUFFIX_RE = re.compile(rf"[-\u2010\u2011][{_CAPS}0-9]{{1,3}}(?![\w-])")

# Pieces a compound is made of. A name (a listed token with a lower-case letter: "Leopard",
# "Griffon", "Msta") or a designation ("2A4", "BM-21") anywhere; a token in capitals (an
# acronym or a listed one: a maker or a type, "DJI Mavic", "VLTT P4") only first, since after
# a model it is a status or a heading ("M1A2 NMC", "INTREP FLASH"). Two designations side by
# side are a list ("A1 B1"), not one model.
_PIECES = frozenset(["equipment", "listed", "acronym"])
# One model is at most a maker or type, one or two names and one designation ("DJI Mavic 3",
# "Toyota Hilux", "2S19 Msta-S"): a longer run of touching pieces is a list of models.
_AT_MOST = {"prefix": 1, "name": 2, "code": 1}
_MAX_PIECES = 3


def _role(piece: Span) -> str:
    """ "code" (holds a digit: "2A4", "BM-21"), "name" (a designation or listed name without
    one: "Msta-S", "Leopard") or "prefix" (capitals from the acronym or listed finders)."""
    if any(c.isdigit() for c in piece.text):
        return "code" if piece.kind != "acronym" else "prefix"
    if piece.kind == "equipment" or any(c.islower() for c in piece.text):
        return "name"
    return "prefix"


def find_variant_names(text: str) -> list[Span]:
    """Names with a capital variant after a hyphen: ``Msta-S``, ``МТ-ЛБ``, ``Тигр-М``."""
    return [Span(m.start(), m.end(), m.group(0), "equipment") for m in _VARIANT_RE.finditer(text)]


def find_plural_equipment(text: str) -> list[Span]:
    """Designations with a plural "s": ``CV90s``, ``M777s``."""
    spans: list[Span] = []
    for m in _PLURAL_RE.finditer(text):
        base = m["base"]
        found = find_equipment(base)
        if found and found[0].start == 0 and found[0].end == len(base):
            spans.append(Span(m.start(), m.end(), m.group(0), "equipment"))
    return spans


def join_equipment(text: str, pieces: Sequence[Span]) -> list[Span]:
    """The compounds the touching ``pieces`` make (two or more pieces one space apart, or a
    listed name with its model number or variant suffix); the pieces themselves are not
    returned."""
    usable = sorted(
        (p for p in pieces if p.kind in _PIECES), key=lambda p: (p.start, p.start - p.end)
    )
    compounds: list[Span] = []
    for i, first in enumerate(usable):
        chain = [first]
        roles = Counter([_role(first)])
        for j in range(i + 1, len(usable)):
            nxt = usable[j]
            if nxt.start < chain[-1].end:
                continue
            gap = text[chain[-1].end : nxt.start]
            role = _role(nxt)
            if len(gap) != 1 or not re.fullmatch(_GAP, gap) or role == "prefix":
                break
            if roles[role] >= _AT_MOST[role] or len(chain) == _MAX_PIECES:
                break
            if role == "name" and roles["code"] and roles["name"]:
                break  # "Leopard 2A4 Leopard 2A6": the designation closed the first model
            chain.append(nxt)
            roles[role] += 1
        end = chain[-1].end
        if _role(chain[-1]) == "name":
            tail = _MODEL_NUMBER_RE.match(text, end) or _SUFFIX_RE.match(text, end)
            if tail is not None:
                end = tail.end()
        if len(chain) > 1 or end > first.end:
            compounds.append(Span(first.start, end, text[first.start : end], "equipment"))
    return compounds


def extend_units(text: str, pieces: Sequence[Span]) -> list[Span]:
    """Unit designations with the suffix glued to them by a hyphen (``1er RIMaP-NC``): the
    designation alone would leave the suffix to the model."""
    extended: list[Span] = []
    for piece in pieces:
        if piece.kind == "unit":
            tail = _SUFFIX_RE.match(text, piece.end)
            if tail is not None:
                end = tail.end()
                extended.append(Span(piece.start, end, text[piece.start : end], "unit"))
    return extended
