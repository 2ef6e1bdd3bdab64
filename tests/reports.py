"""Ingested reports for the tasks' tests: the wire value a task service receives, built from the
few values a test varies (the others are those of a routine report on the test feed)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from schemas.v1 import IngestedReport, Kind

#: When the tests' reports are ingested (a fixed instant: outputs never depend on the clock).
INGESTED_AT = dt.datetime(2026, 11, 25, 14, 30, tzinfo=dt.UTC)


def ingested_report(
    text: str,
    tasks: Sequence[str],
    *,
    language: str | None,
    confidence: float = 0.99,
    report_id: str = "r1",
    kind: Kind = "report",
    at: dt.datetime = INGESTED_AT,
    deadline_s: float = 60,
) -> IngestedReport:
    """A report of ``text`` for ``tasks``, identified in ``language`` with ``confidence``
    (no confidence when no language was identified), due ``deadline_s`` after ``at``."""
    return IngestedReport(
        report_id=report_id,
        label="np",
        kind=kind,
        source="test",
        subject="feeds.np.report.test",
        precedence="ROUTINE",
        original_text=text,
        normalised_text=text,
        language=language,
        language_confidence=confidence if language else None,
        expected_tasks=list(tasks),
        ingested_at=at,
        deadline_at=at + dt.timedelta(seconds=deadline_s),
        trace_id="0" * 31 + "1",
    )
