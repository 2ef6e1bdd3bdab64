"""The gold set's reports (``ops/gold/reports/*.json``; fields: ``ops/gold/README.md``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "GoldEntity",
    "GoldQuantity",
    "GoldReport",
    "GoldTerm",
    "default_gold_dir",
    "load_gold",
    "parse_report",
]


@dataclass(frozen=True)
class GoldEntity:
    type: str
    text: str
    start: int
    end: int
    #: DTG: ISO-8601 UTC; MGRS: compact upper case; lat/long: ``"48.858200,2.294500"``.
    value: str | None = None


@dataclass(frozen=True)
class GoldQuantity:
    item: str
    quantity: float
    unit: str
    status: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class GoldTerm:
    source: str
    target: str


@dataclass(frozen=True)
class GoldReport:
    id: str
    split: str
    language: str
    form: str
    label: str
    precedence: str
    text: str
    reference_language: str
    reference_text: str
    entities: tuple[GoldEntity, ...] = ()
    quantities: tuple[GoldQuantity, ...] = ()
    summary_facts: tuple[str, ...] = ()
    glossary_terms: tuple[GoldTerm, ...] = ()
    protected_tokens: tuple[str, ...] = ()
    injection: bool = False


def default_gold_dir() -> Path:
    """``ops/gold/reports`` of the source tree this package belongs to."""
    return Path(__file__).resolve().parents[2] / "ops" / "gold" / "reports"


def parse_report(raw: dict[str, Any]) -> GoldReport:
    reference = raw["reference_translation"]
    return GoldReport(
        id=raw["id"],
        split=raw["split"],
        language=raw["language"],
        form=raw["form"],
        label=raw["label"],
        precedence=raw["precedence"],
        text=raw["text"],
        reference_language=reference["language"],
        reference_text=reference["text"],
        entities=tuple(
            GoldEntity(e["type"], e["text"], e["start"], e["end"], e.get("value"))
            for e in raw.get("entities", [])
        ),
        quantities=tuple(
            GoldQuantity(
                q["item"],
                float(q["quantity"]),
                q["unit"],
                q["status"],
                q["text"],
                q["start"],
                q["end"],
            )
            for q in raw.get("quantities", [])
        ),
        summary_facts=tuple(raw.get("summary_facts", [])),
        glossary_terms=tuple(GoldTerm(t["source"], t["target"]) for t in raw["glossary_terms"]),
        protected_tokens=tuple(raw.get("protected_tokens", [])),
        injection=bool(raw.get("injection", False)),
    )


def load_gold(
    directory: Path | None = None, split: str | None = None, ids: tuple[str, ...] = ()
) -> list[GoldReport]:
    """The reports of ``directory`` (default: the shipped set), by id; only ``split``
    (``dev``/``test``; None: both) and, when given, only ``ids`` (in that order)."""
    folder = directory or default_gold_dir()
    paths = sorted(folder.glob("*.json"))
    if not paths:
        raise FileNotFoundError(f"no gold report (*.json) in {folder}")
    reports = [parse_report(json.loads(p.read_text("utf-8"))) for p in paths]
    if split is not None:
        reports = [r for r in reports if r.split == split]
    if ids:
        by_id = {r.id: r for r in reports}
        unknown = [i for i in ids if i not in by_id]
        if unknown:
            raise KeyError(f"not in the gold set{f' ({split})' if split else ''}: {unknown}")
        reports = [by_id[i] for i in ids]
    return reports
