"""What logstat outputs: quantities grounded in the report, and the report's reading."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Quantity", "Reading", "Source"]

Source = Literal["pattern", "model"]


@dataclass(frozen=True)
class Quantity:
    """One quantity of one item, located: ``text == report.normalised_text[start:end]``."""

    item: str
    quantity: int | float
    unit: str
    status: str
    start: int
    end: int
    text: str
    source: Source = "pattern"
    #: The line's colour (green, amber, red, black), when it gives one.
    rating: str | None = None
    #: NATO class of supply (I–X), when the line or the item says.
    supply_class: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "quantity": self.quantity,
            "unit": self.unit,
            "status": self.status,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "source": self.source,
            "rating": self.rating,
            "supply_class": self.supply_class,
        }


@dataclass(frozen=True)
class Reading:
    """The deterministic reading of one report.

    ``line_format``: the report is written as LOGSTAT lines; ``complete``: every number of
    every line was read (a quantity, a DTG, a calibre, a designation…), so the model has nothing
    to add. ``confusions`` and ``malformed`` name the texts behind the ``unit_confusion`` and
    ``quantity_malformed`` flags.
    """

    quantities: list[Quantity]
    unit: str | None = None
    unit_span: tuple[int, int] | None = None
    dtg: str | None = None
    dtg_text: str | None = None
    line_format: bool = False
    complete: bool = False
    signal: bool = False
    confusions: list[str] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)
