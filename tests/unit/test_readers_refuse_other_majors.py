"""Every reader refuses a major version it does not know, with a reason (compatibility policy)."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from bus.outcomes import Reject
from schemas.v1 import IngestedReport, json_encoder, readable
from services.tasks.service import decode_report as decode_work

T0 = dt.datetime(2026, 11, 25, 14, 30, tzinfo=dt.UTC)
REPORT = IngestedReport(
    report_id="r1", label="dr", kind="report", source="s", subject="feeds.dr.report.s",
    precedence="ROUTINE", original_text="x", normalised_text="x", language="fr",
    language_confidence=0.9, expected_tasks=["extract"], ingested_at=T0, deadline_at=T0,
    trace_id="1" * 32,
)  # fmt: skip


@pytest.mark.parametrize(
    ("version", "ok"),
    [("1.0", True), ("1.9", True), ("2.0", False), ("0.9", False), ("x.1", False)],
)
def test_readable(version: str, ok: bool) -> None:
    assert readable(version) is ok


def test_extract_reads_a_newer_minor() -> None:
    newer = msgspec.structs.replace(REPORT, schema_version="1.4")
    assert decode_work(json_encoder.encode(newer)).report_id == "r1"


def test_extract_refuses_another_major() -> None:
    other = msgspec.structs.replace(REPORT, schema_version="2.0")
    with pytest.raises(Reject) as caught:
        decode_work(json_encoder.encode(other))
    assert caught.value.reason == "unsupported_version"
