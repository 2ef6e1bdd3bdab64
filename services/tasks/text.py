"""Text helpers every task shares: bounding a flag's items, collapsing a decoding loop.

Model outputs of any task need the same two treatments (the wire's limits on a flag, a small
model repeating itself), so they live here rather than in one task package that the others
would then import. Pure: standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["MAX_FLAG_ITEMS", "MAX_ITEM_CHARS", "collapse_repetition", "flag_items"]

#: A flag names at most this many items, each at most this long (the wire's limits).
MAX_FLAG_ITEMS = 32
MAX_ITEM_CHARS = 256

# Sentences and lines, with their separators kept so that the text can be put back together.
_UNITS = re.compile(r"((?<=[.!?…])[ \t]+|\n+)")
_WORD_LOOP = re.compile(r"\b(\w+)(?:\s+\1\b){3,}")
#: A unit repeated this many times in a row is a decoding loop, not the report's wording.
_LOOP_RUN = 3


def flag_items(values: Iterable[str]) -> list[str]:
    """``values`` cut to what a flag carries: at most 32 items of at most 256 characters."""
    items: list[str] = []
    for value in values:
        if len(items) == MAX_FLAG_ITEMS:
            break
        items.append(value if len(value) <= MAX_ITEM_CHARS else value[: MAX_ITEM_CHARS - 1] + "…")
    return items


def collapse_repetition(text: str) -> tuple[str, bool]:
    """Runs of one sentence (or line) repeated three times or more become one, and so do runs
    of one word repeated four times or more; the flag says whether any such loop was found."""
    pieces = _UNITS.split(text)
    units, separators = pieces[0::2], [*pieces[1::2], ""]
    kept: list[str] = []
    looped = False
    index = 0
    while index < len(units):
        run = 1
        while index + run < len(units) and _same(units[index + run], units[index]):
            run += 1
        if run < _LOOP_RUN:
            for offset in range(run):
                kept += [units[index + offset], separators[index + offset]]
            index += run
            continue
        looped = True
        rest = units[index + run :]
        # Cut short mid-repeat: the budget ended inside one more copy of the unit.
        if len(rest) == 1 and units[index].casefold().startswith(rest[0].casefold().strip()):
            units = units[: index + run]
        kept += [units[index], separators[index + run - 1]]
        index += run
    collapsed = "".join(kept)
    words_collapsed = _WORD_LOOP.sub(r"\1", collapsed)
    return words_collapsed, looped or words_collapsed != collapsed


def _same(first: str, second: str) -> bool:
    return first.strip().casefold() == second.strip().casefold() and bool(first.strip())
