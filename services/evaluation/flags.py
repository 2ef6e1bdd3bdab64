"""Flag quality: each flag against the error it claims to catch, as the gold sees it.

For every output (a task's text or entities, or the report itself) and every check that covers
it, a :class:`Case` says whether the output is wrong in the way the check claims to catch
(``error``: from the gold; None where the gold cannot say) and whether the event carries the
flag. Then, per flag code: precision = flagged and wrong ÷ flagged, recall = flagged and wrong ÷
wrong (outputs where the gold cannot say are left out of both). An output that is wrong in a way
a check covers and carries no flag is a **silent failure**.

=====================  =========================================================================
flag                   the error, from the gold
=====================  =========================================================================
protected_altered      a gold protected token kept fewer times than the source holds it
glossary_missed        a gold glossary term whose required target the translation lacks
wrong_language         the output's language (identified here) is not the target
unfaithful_summary     a DTG, grid or number of the summary that the source does not hold
entities_dropped       the model proposed an entity the text does not hold: a dropped item that
                       is not a whole word sequence of the text, or a model entity kept although
                       its span cuts a word
suspected_injection    the gold marks the report ``injection``
=====================  =========================================================================

Flags raised by other checks (truncated, output_invalid, the logistics task's) are counted, with
no precision or recall: the gold does not say what they claim.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["ERRORS", "Case", "FlagStats", "SilentFailure", "flag_quality", "silent_failures"]

#: Flag code → the error it claims to catch (the JSON and the Markdown say it).
ERRORS: dict[str, str] = {
    "protected_altered": "a gold protected token lost (counted with multiplicity)",
    "glossary_missed": "a gold glossary term's required target missing",
    "wrong_language": "output language (py3langid, here) is not the target",
    "unfaithful_summary": "a DTG, grid or number of the summary not in the source",
    "entities_dropped": "a model entity the text does not hold (dropped item not in the "
    "text, or a kept span cutting a word)",
    "suspected_injection": "the gold marks the report as an injection",
}


@dataclass(frozen=True)
class Case:
    """One output under one check."""

    report: str
    #: The task whose output it is (None: the report itself).
    task: str | None
    code: str
    #: Whether the output is wrong as the check claims to catch; None: the gold cannot say.
    error: bool | None
    flagged: bool
    #: What is wrong (the tokens lost, the terms missed, the language found…).
    detail: str = ""


@dataclass(frozen=True)
class FlagStats:
    code: str
    outputs: int
    flagged: int
    errors: int
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None


@dataclass(frozen=True)
class SilentFailure:
    report: str
    task: str | None
    code: str
    detail: str


def flag_quality(cases: Iterable[Case]) -> dict[str, FlagStats]:
    """Per flag code, over the cases the gold can judge (see the module docstring)."""
    grouped: dict[str, list[Case]] = {}
    for case in cases:
        grouped.setdefault(case.code, []).append(case)
    out: dict[str, FlagStats] = {}
    for code, group in sorted(grouped.items()):
        judged = [c for c in group if c.error is not None]
        out[code] = FlagStats(
            code=code,
            outputs=len(judged),
            flagged=sum(c.flagged for c in judged),
            errors=sum(bool(c.error) for c in judged),
            tp=sum(c.flagged and bool(c.error) for c in judged),
            fp=sum(c.flagged and not c.error for c in judged),
            fn=sum(not c.flagged and bool(c.error) for c in judged),
        )
    return out


def silent_failures(cases: Sequence[Case]) -> list[SilentFailure]:
    """The outputs wrong in a way a check covers, carrying no flag of that check."""
    return [
        SilentFailure(c.report, c.task, c.code, c.detail)
        for c in cases
        if c.error and not c.flagged
    ]
