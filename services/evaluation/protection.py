"""How well the protected-token detectors cover the gold set, without a model.

For each gold report, the tokens the translation protects (``services.translate.protect``, with
the shipped do-not-translate list) against the report's gold ``protected_tokens``:

- recall: gold tokens found as one whole protected token (a token protected in two pieces is
  not found: its pieces can be moved apart);
- not in gold: protected tokens the gold does not list (the candidates for false positives: a
  word protected by mistake is frozen untranslated);
- references altered: protected tokens the gold reference translation does not keep as often
  as the report holds them (a correct translation the check would flag).

``python -m services.evaluation.protection [--split dev|test] [--json PATH] [--list]`` prints
the figures (as JSON) and, with ``--list``, every miss and every token not in gold.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from services.evaluation.gold import GoldReport, load_gold
from services.translate.glossary import Glossary
from services.translate.protect import altered, protected_tokens

__all__ = ["Coverage", "ReportCoverage", "coverage", "report_coverage"]


@dataclass(frozen=True)
class ReportCoverage:
    """One report: its gold tokens missed, its protected tokens the gold does not list, and
    the tokens its reference translation does not keep."""

    id: str
    gold: int
    found: int
    missed: tuple[str, ...]
    not_in_gold: tuple[str, ...]
    protected: int
    reference_altered: tuple[str, ...]


@dataclass(frozen=True)
class Coverage:
    reports: int
    gold_tokens: int
    found: int
    protected_tokens: int
    not_in_gold: int
    references_altered: int
    per_report: tuple[ReportCoverage, ...] = field(default=(), repr=False)

    @property
    def recall(self) -> float:
        return self.found / self.gold_tokens if self.gold_tokens else 1.0

    def figures(self) -> dict[str, float | int]:
        return {
            "reports": self.reports,
            "gold_tokens": self.gold_tokens,
            "found": self.found,
            "recall": round(self.recall, 4),
            "protected_tokens": self.protected_tokens,
            "not_in_gold": self.not_in_gold,
            "references_altered": self.references_altered,
        }


def report_coverage(report: GoldReport, listed: Sequence[str]) -> ReportCoverage:
    """The detectors against one report's gold tokens (distinct tokens, not occurrences)."""
    tokens = protected_tokens(report.text, listed)
    gold = list(dict.fromkeys(report.protected_tokens))
    detected = set(tokens)
    missed = tuple(t for t in gold if t not in detected)
    return ReportCoverage(
        id=report.id,
        gold=len(gold),
        found=len(gold) - len(missed),
        missed=missed,
        not_in_gold=tuple(t for t in tokens if t not in set(gold)),
        protected=len(tokens),
        reference_altered=tuple(altered(tokens, report.reference_text, source=report.text)),
    )


def coverage(reports: Sequence[GoldReport], listed: Sequence[str]) -> Coverage:
    """The detectors against every report's gold tokens, summed."""
    each = tuple(report_coverage(r, listed) for r in reports)
    return Coverage(
        reports=len(each),
        gold_tokens=sum(r.gold for r in each),
        found=sum(r.found for r in each),
        protected_tokens=sum(r.protected for r in each),
        not_in_gold=sum(len(r.not_in_gold) for r in each),
        references_altered=sum(len(r.reference_altered) for r in each),
        per_report=each,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=["dev", "test"], default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--list", action="store_true", help="list misses and tokens not in gold")
    args = parser.parse_args(argv)
    listed = Glossary.load(Glossary.default_directory()).protected
    reports = load_gold(split=args.split)
    result = {"all": coverage(reports, listed)}
    if args.split is None:
        for split in ("dev", "test"):
            result[split] = coverage([r for r in reports if r.split == split], listed)
    figures = {name: c.figures() for name, c in result.items()}
    if args.list:
        for r in result["all"].per_report:
            for token in r.missed:
                print(f"missed       {r.id}  {token}")
            for token in r.not_in_gold:
                print(f"not in gold  {r.id}  {token}")
            for token in r.reference_altered:
                print(f"ref altered  {r.id}  {token}")
    print(json.dumps(figures, indent=2))
    if args.json is not None:
        details = [asdict(r) for r in result["all"].per_report]
        args.json.write_text(json.dumps({"figures": figures, "reports": details}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
