"""The engine's step planner, with plain values."""

from __future__ import annotations

import pytest

from services.inference.scheduler import Candidate, SchedulerSettings, plan_step, rank_of

FLASH, IMMEDIATE, PRIORITY, ROUTINE = range(4)
S = SchedulerSettings(max_sequences=4, kv_tokens=4000, reserved_sequences=1, reserved_kv_tokens=0)


def c(key: int, rank: int, kv: int = 100) -> Candidate:
    return Candidate(key=key, rank=rank, arrival=key, kv_tokens=kv)


def test_routine_fills_all_but_the_reserve_in_arrival_order() -> None:
    plan = plan_step([], [c(i, ROUTINE) for i in range(6)], S)
    assert plan.admit == (0, 1, 2)
    assert plan.active == (0, 1, 2)
    assert plan.paused == ()


def test_flash_takes_the_reserve_and_pauses_the_rest() -> None:
    running = [c(i, ROUTINE) for i in range(3)]
    plan = plan_step(running, [c(9, ROUTINE), c(10, FLASH)], S)
    assert plan.admit == (10,)
    assert plan.active == (10,)
    assert plan.paused == (0, 1, 2)


def test_immediate_pauses_priority_and_routine_but_runs_with_flash() -> None:
    running = [c(0, ROUTINE), c(1, PRIORITY), c(2, IMMEDIATE)]
    plan = plan_step(running, [], S)
    assert plan.active == (2,)
    assert set(plan.paused) == {0, 1}
    plan = plan_step([*running, c(3, FLASH)], [], S)
    assert plan.active == (3,)


def test_nothing_lower_is_admitted_while_urgent_work_runs() -> None:
    plan = plan_step([c(0, FLASH)], [c(1, ROUTINE), c(2, PRIORITY)], S)
    assert plan.admit == ()
    assert plan.active == (0,)


def test_priority_does_not_pause_routine() -> None:
    plan = plan_step([c(0, ROUTINE)], [c(1, PRIORITY)], S)
    assert plan.admit == (1,)
    assert plan.active == (1, 0)  # most urgent first
    assert plan.paused == ()


def test_waiting_is_served_most_urgent_first_then_oldest() -> None:
    plan = plan_step([], [c(5, ROUTINE), c(3, PRIORITY), c(4, PRIORITY), c(1, ROUTINE)], S)
    assert plan.admit == (3, 4, 1)


def test_kv_budget_blocks_admission_in_order() -> None:
    s = SchedulerSettings(max_sequences=8, kv_tokens=1000, reserved_sequences=0)
    plan = plan_step([c(0, ROUTINE, 600)], [c(1, ROUTINE, 500), c(2, ROUTINE, 100)], s)
    # The big request is not overtaken: admitting the small one could starve it.
    assert plan.admit == ()


def test_kv_reserve_is_for_urgent_work() -> None:
    s = SchedulerSettings(
        max_sequences=8, kv_tokens=1000, reserved_sequences=0, reserved_kv_tokens=300
    )
    assert plan_step([c(0, ROUTINE, 600)], [c(1, ROUTINE, 200)], s).admit == ()
    assert plan_step([c(0, ROUTINE, 600)], [c(1, FLASH, 200)], s).admit == (1,)


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="reserved_sequences"):
        SchedulerSettings(max_sequences=2, kv_tokens=100, reserved_sequences=2)
    with pytest.raises(ValueError, match="max_sequences"):
        SchedulerSettings(max_sequences=0, kv_tokens=100)
    with pytest.raises(ValueError, match="unknown precedence"):
        rank_of("URGENT")
    assert rank_of("flash") == FLASH
