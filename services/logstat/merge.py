"""Merging the deterministic quantities with the grounded model quantities, and the flags.

The patterns read a LOGSTAT line or a clear statement by its grammar; the model only guesses.
Where both speak about the same characters, the patterns win.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from schemas.v1 import Flag
from services.domain.spans import overlaps
from services.logstat.grounding import Grounding, describe
from services.logstat.items import Quantity, Reading
from services.tasks.text import flag_items

__all__ = ["TASK", "combine_flags", "merge_quantities", "model_flags", "reading_flags"]

#: The task's name, in its flags (the registry's row names it too).
TASK = "logstat"


def merge_quantities(pattern: Sequence[Quantity], model: Sequence[Quantity]) -> list[Quantity]:
    """All pattern quantities, plus the model quantities that overlap none of them nor an
    earlier model quantity; sorted by (start, end)."""
    kept = list(pattern)
    for quantity in model:
        if not any(overlaps(quantity, other) for other in kept):
            kept.append(quantity)
    return sorted(kept, key=lambda q: (q.start, q.end))


def reading_flags(reading: Reading) -> list[Flag]:
    flags: list[Flag] = []
    if reading.confusions:
        flags.append(
            Flag(
                code="unit_confusion",
                detail=(
                    "the report states these quantities in units that contradict each other "
                    "(litres vs m³, kg vs tonnes) or the item (fuel in rounds, ammunition in "
                    "litres); each is kept with the unit written next to its number"
                ),
                task=TASK,
                items=flag_items(_unique(reading.confusions)),
            )
        )
    if reading.malformed:
        flags.append(
            Flag(
                code="quantity_malformed",
                detail="numbers that fit no grouping of thousands were not read as quantities",
                task=TASK,
                items=flag_items(_unique(reading.malformed)),
            )
        )
    return flags


def model_flags(grounding: Grounding, kept: Sequence[Quantity]) -> list[Flag]:
    """``quantity_ungrounded`` for what grounding dropped; ``unit_confusion`` for the model's
    quantities kept in ``kept`` whose unit the report corrected (one the patterns read anyway
    is the patterns' own)."""
    flags: list[Flag] = []
    survivors = {q.text for q in kept if q.source == "model"}
    confusions = [text for text in grounding.confusions if text in survivors]
    if grounding.dropped:
        count = len(grounding.dropped)
        flags.append(
            Flag(
                code="quantity_ungrounded",
                detail=(
                    f"{count} quantit{'y' if count == 1 else 'ies'} proposed by the model "
                    "could not be found in the report with their number and unit, and were "
                    "dropped"
                ),
                task=TASK,
                items=flag_items(_unique(describe(p) for p in grounding.dropped)),
            )
        )
    if confusions:
        flags.append(
            Flag(
                code="unit_confusion",
                detail=(
                    "the model gave these quantities another unit of the same kind than the "
                    "report writes (litres for m³, rounds for boxes); the report's unit is kept"
                ),
                task=TASK,
                items=flag_items(_unique(confusions)),
            )
        )
    return flags


def combine_flags(flags: Sequence[Flag]) -> list[Flag]:
    """One flag per code: the patterns' and the model's unit confusions are one finding."""
    by_code: dict[str, Flag] = {}
    for flag in flags:
        first = by_code.get(flag.code)
        if first is None:
            by_code[flag.code] = flag
            continue
        items = flag_items(_unique([*first.items, *flag.items]))
        by_code[flag.code] = Flag(code=flag.code, detail=first.detail, task=first.task, items=items)
    return list(by_code.values())


def _unique(values: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen
