"""Logistics quantities against the gold: an item of the event's task output matches a gold
quantity when the quantity (within 1e-9), the unit and the status are the same and the spans
overlap; each gold quantity matches at most one item."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from services.evaluation.entities import Counts
from services.evaluation.gold import GoldQuantity

__all__ = ["ITEM_KEYS", "is_quantity_output", "match_quantities"]

#: What an item of a logistics output carries (the shape that identifies such an output).
ITEM_KEYS = frozenset({"quantity", "unit", "status", "start", "end"})


def is_quantity_output(output: Mapping[str, Any]) -> bool:
    """Whether a task's typed output lists quantities: an ``items`` list of objects with
    :data:`ITEM_KEYS` (read by shape: the evaluator names no task)."""
    items = output.get("items")
    return isinstance(items, list) and all(
        isinstance(i, Mapping) and i.keys() >= ITEM_KEYS for i in items
    )


def _matches(gold: GoldQuantity, item: Mapping[str, Any]) -> bool:
    try:
        quantity = float(item["quantity"])
        start, end = int(item["start"]), int(item["end"])
    except (TypeError, ValueError):
        return False
    return (
        abs(quantity - gold.quantity) <= 1e-9
        and item["unit"] == gold.unit
        and item["status"] == gold.status
        and start < gold.end
        and gold.start < end
    )


def match_quantities(
    gold: Sequence[GoldQuantity], items: Sequence[Mapping[str, Any]]
) -> tuple[Counts, list[Mapping[str, Any]], list[GoldQuantity]]:
    """Counts, the items matching no gold quantity, the gold quantities no item matched."""
    left = list(gold)
    spurious: list[Mapping[str, Any]] = []
    for item in items:
        hit = next((g for g in left if _matches(g, item)), None)
        if hit is None:
            spurious.append(item)
        else:
            left.remove(hit)
    tp = len(gold) - len(left)
    return Counts(tp=tp, fp=len(spurious), fn=len(left)), spurious, left
