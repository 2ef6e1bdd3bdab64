"""Collation as pure functions: merge, plan, reserve/confirm, build."""

from __future__ import annotations

import datetime as dt

import pytest

from bus.outcomes import Delivery
from schemas.v1 import (
    CollateState,
    Entity,
    IngestedReport,
    Label,
    TaskName,
    TaskResult,
    json_encoder,
)
from services.collate import logic
from services.collate.service import CollateService
from services.tasks.registry import task_registry

FILLS = task_registry().fills()
T0 = dt.datetime(2026, 11, 25, 14, 30, tzinfo=dt.UTC)


def report(
    tasks: tuple[TaskName, ...] = ("extract", "translate"),
    label: Label = "dr",
    deadline: float = 60,
) -> IngestedReport:
    return IngestedReport(
        report_id="r1",
        label=label,
        kind="report",
        source="test",
        subject="feeds.dr.report.test",
        precedence="ROUTINE",
        original_text="x",
        normalised_text="x",
        language="fr",
        language_confidence=0.9,
        expected_tasks=list(tasks),
        ingested_at=T0,
        deadline_at=T0 + dt.timedelta(seconds=deadline),
        trace_id="0" * 31 + "1",
    )


def result(task: TaskName, label: Label = "dr", start: int = 0) -> TaskResult:
    ent = Entity(type="Quantity", text="x", start=start, end=start + 1)
    return TaskResult(report_id="r1", task=task, label=label, status="ok", entities=[ent])


def test_nothing_due_before_the_report_arrives() -> None:
    state = logic.merge(None, result("extract"))
    assert state.report is None
    assert logic.plan_revision(state, T0 + dt.timedelta(hours=1)) is None


def test_complete_report_plans_revision_one() -> None:
    state = logic.merge(logic.merge(None, report(("extract",))), result("extract"))
    plan = logic.plan_revision(state, T0)
    assert plan is not None
    assert (plan.revision, plan.tasks, plan.partial) == (1, ["extract"], False)


def test_result_before_report_is_joined() -> None:
    state = logic.merge(logic.merge(None, result("extract")), report(("extract",)))
    assert logic.is_complete(state)


def test_incomplete_waits_until_deadline_then_partial() -> None:
    state = logic.merge(logic.merge(None, report()), result("extract"))
    assert logic.plan_revision(state, T0 + dt.timedelta(seconds=59)) is None
    plan = logic.plan_revision(state, T0 + dt.timedelta(seconds=60))
    assert plan is not None and plan.partial and plan.tasks == ["extract"]


def test_no_expected_tasks_publishes_at_once() -> None:
    state = logic.merge(None, report(()))
    plan = logic.plan_revision(state, T0)
    assert plan is not None and not plan.partial and plan.tasks == []


def test_late_result_plans_next_revision_once() -> None:
    state = logic.merge(logic.merge(None, report()), result("extract"))
    first = logic.plan_revision(state, T0 + dt.timedelta(seconds=61))
    assert first is not None
    state = logic.confirm(logic.reserve(state, first), 1)
    assert logic.plan_revision(state, T0 + dt.timedelta(seconds=62)) is None
    state = logic.merge(state, result("translate"))
    second = logic.plan_revision(state, T0 + dt.timedelta(seconds=63))
    assert second is not None
    assert (second.revision, second.partial, second.tasks) == (2, False, ["extract", "translate"])
    state = logic.confirm(logic.reserve(state, second), 2)
    # The same answer redelivered changes nothing and plans nothing.
    again = logic.merge(state, result("translate"))
    assert again == state
    assert logic.plan_revision(again, T0 + dt.timedelta(seconds=64)) is None


def test_redelivered_report_changes_nothing() -> None:
    state = logic.merge(None, report())
    assert logic.merge(state, report()) == state


def test_unconfirmed_reservation_is_reported_until_confirmed() -> None:
    state = logic.merge(logic.merge(None, report(("extract",))), result("extract"))
    plan = logic.plan_revision(state, T0)
    assert plan is not None
    reserved = logic.reserve(state, plan)
    assert logic.unconfirmed(reserved) == [plan]
    confirmed = logic.confirm(reserved, 1)
    assert logic.unconfirmed(confirmed) == []
    assert logic.first_published(confirmed)


def test_build_event_marks_missing_tasks_and_sorts_entities() -> None:
    state = logic.merge(logic.merge(None, report()), result("extract", start=5))
    state = logic.merge(
        state, TaskResult(report_id="r1", task="summarise", label="dr", status="ok")
    )
    plan = logic.plan_revision(state, T0 + dt.timedelta(seconds=60))
    assert plan is not None
    event = logic.build_event(state, plan, T0 + dt.timedelta(seconds=60), fills=FILLS)
    assert {t.task: t.status for t in event.tasks} == {"extract": "ok", "translate": "missing"}
    assert event.partial and event.revision == 1
    assert [e.start for e in event.entities] == [5]
    assert [p.stage for p in event.provenance][-1] == "collate"


@pytest.mark.parametrize(
    ("report_label", "result_label", "expected"),
    [("np", "np", "np"), ("dr", "s", "s"), ("ts", "dr", "ts"), ("np", "ts", "ts")],
)
def test_enriched_label_is_the_highest_input_label(
    report_label: Label, result_label: Label, expected: Label
) -> None:
    state = logic.merge(
        logic.merge(None, report(("extract",), label=report_label)),
        result("extract", label=result_label),
    )
    plan = logic.plan_revision(state, T0)
    assert plan is not None
    assert logic.build_event(state, plan, T0, fills=FILLS).label == expected


def test_build_event_without_report_is_an_error() -> None:
    with pytest.raises(ValueError, match="no ingested report"):
        logic.build_event(
            CollateState(report_id="r1"),
            logic.PublishedRevision(revision=1, tasks=[], partial=True),
            T0,
            fills=FILLS,
        )


def _delivery(data: bytes, consumer: str) -> Delivery:
    return Delivery(
        subject="work.dr.collate.routine",
        data=data,
        headers={},
        stream="WORK_DR",
        stream_seq=1,
        num_delivered=1,
        consumer=consumer,
        label="dr",
    )


def test_parked_report_records_get_a_delivery_budget_for_their_parks() -> None:
    service = CollateService(publisher=None, state_buckets={}, fills=FILLS, recheck_interval=30.0)  # type: ignore[arg-type]
    record = json_encoder.encode(report(deadline=900))
    assert service.delivery_budget(_delivery(record, "collate-dr-routine"), 5) == 5 + 30 + 1
    answer = json_encoder.encode(result("extract"))
    assert service.delivery_budget(_delivery(answer, "result-dr-routine"), 5) == 5
    assert service.delivery_budget(_delivery(b"garbage", "collate-dr-routine"), 5) == 5


def test_a_task_output_reaches_the_event_even_when_the_model_failed() -> None:
    fills = {"extract": ("entities",), "wordcount": ("outputs",)}
    state = logic.merge(None, report(tasks=("extract", "wordcount")))
    state = logic.merge(state, result("extract", start=5))
    failed = TaskResult(
        report_id="r1", task="wordcount", label="dr", status="failed", detail="engine: gone",
        output={"words": 7},
    )  # fmt: skip
    state = logic.merge(state, failed)
    plan = logic.plan_revision(state, T0)
    assert plan is not None
    event = logic.build_event(state, plan, T0, fills=fills)
    assert event.outputs == {"wordcount": {"words": 7}}
    assert {t.task: t.status for t in event.tasks}["wordcount"] == "failed"
