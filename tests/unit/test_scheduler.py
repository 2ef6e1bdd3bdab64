"""The engine's step planner, with plain values."""

from __future__ import annotations

import pytest

from services.inference.scheduler import (
    Candidate,
    PrefillLimits,
    PrefillNeed,
    SchedulerSettings,
    plan_prefill,
    plan_step,
    rank_of,
)

FLASH, IMMEDIATE, PRIORITY, ROUTINE = range(4)
S = SchedulerSettings(max_sequences=4, kv_tokens=4000, reserved_sequences=1, reserved_kv_tokens=0)


def c(key: int, rank: int, kv: int = 100) -> Candidate:
    return Candidate(key=key, rank=rank, arrival=key, kv_tokens=kv)


def test_routine_fills_the_whole_batch_in_arrival_order() -> None:
    # The reserve comes on top of max_sequences: routine work loses no sequence to it.
    plan = plan_step([], [c(i, ROUTINE) for i in range(6)], S)
    assert plan.admit == (0, 1, 2, 3)
    assert plan.active == (0, 1, 2, 3)
    assert plan.paused == ()
    assert S.total_sequences == 5


def test_flash_finds_its_reserved_sequence_when_routine_fills_the_batch() -> None:
    running = [c(i, ROUTINE) for i in range(4)]
    plan = plan_step(running, [c(8, ROUTINE), c(9, FLASH)], S)
    assert plan.admit == (9,)
    assert plan.active == (9,)
    assert plan.paused == (0, 1, 2, 3)
    # Only one reserved sequence: a second urgent request waits for one to finish.
    plan = plan_step([*running, c(9, FLASH)], [c(10, IMMEDIATE), c(11, ROUTINE)], S)
    assert plan.admit == ()


def test_urgent_work_may_use_routine_sequences_too() -> None:
    plan = plan_step([], [c(i, FLASH) for i in range(7)], S)
    assert plan.admit == (0, 1, 2, 3, 4)


def test_without_reserve_routine_still_gets_max_sequences() -> None:
    s = SchedulerSettings(max_sequences=3, kv_tokens=3000, reserved_sequences=0)
    assert plan_step([], [c(i, ROUTINE) for i in range(5)], s).admit == (0, 1, 2)
    assert plan_step([c(0, ROUTINE), c(1, ROUTINE), c(2, ROUTINE)], [c(3, FLASH)], s).admit == ()


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
    assert plan.admit == (3, 4, 1, 5)


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
        SchedulerSettings(max_sequences=2, kv_tokens=100, reserved_sequences=-1)
    # A reserve bigger than the batch is allowed: it sits on top.
    on_top = SchedulerSettings(max_sequences=1, kv_tokens=100, reserved_sequences=2)
    assert on_top.total_sequences == 3
    with pytest.raises(ValueError, match="max_sequences"):
        SchedulerSettings(max_sequences=0, kv_tokens=100)
    with pytest.raises(ValueError, match="unknown precedence"):
        rank_of("URGENT")
    assert rank_of("flash") == FLASH


def need(
    key: int, rank: int, consumed: int, length: int, stop_at: int | None = None
) -> PrefillNeed:
    return PrefillNeed(key=key, rank=rank, consumed=consumed, length=length, stop_at=stop_at)


def test_urgent_prompts_are_computed_first() -> None:
    limits = PrefillLimits(tokens=512, seconds=10.0)
    needs = [need(0, ROUTINE, 0, 900), need(1, FLASH, 0, 300), need(2, IMMEDIATE, 0, 100)]
    # FLASH first, then IMMEDIATE, then what the budget leaves to routine.
    assert plan_prefill(needs, limits, decoding=3) == [(1, 300), (2, 100), (0, 112)]


def test_prefill_is_bounded_by_time_when_sequences_decode() -> None:
    limits = PrefillLimits(tokens=512, seconds=0.1, tokens_per_s=1000.0)
    needs = [need(0, ROUTINE, 0, 900), need(1, ROUTINE, 0, 900)]
    assert plan_prefill(needs, limits, decoding=4) == [(0, 100)]
    # Nobody decodes: nobody to keep waiting, the token bound alone.
    assert plan_prefill(needs, limits, decoding=0) == [(0, 512)]
    # Not measured yet: the token bound alone.
    unmeasured = PrefillLimits(tokens=512, seconds=0.1)
    assert plan_prefill(needs, unmeasured, decoding=4) == [(0, 512)]


def test_a_slow_machine_still_advances_prompts() -> None:
    limits = PrefillLimits(tokens=512, seconds=0.01, tokens_per_s=100.0, floor=64)
    assert plan_prefill([need(0, ROUTINE, 10, 900)], limits, decoding=2) == [(0, 74)]


def test_chunks_follow_the_grid_and_stop_at_a_prefix_to_keep() -> None:
    limits = PrefillLimits(tokens=512, seconds=10.0)
    assert plan_prefill([need(0, ROUTINE, 500, 900)], limits, decoding=0) == [(0, 512)]
    assert plan_prefill([need(0, ROUTINE, 100, 900, 300)], limits, decoding=0) == [(0, 300)]
    # A prefix point already passed or beyond the chunk does not cut it.
    assert plan_prefill([need(0, ROUTINE, 300, 900, 300)], limits, decoding=0) == [(0, 512)]
    assert plan_prefill([need(0, ROUTINE, 0, 900, 700)], limits, decoding=0) == [(0, 512)]
    # Done prompts are skipped.
    assert plan_prefill([need(0, ROUTINE, 900, 900)], limits, decoding=0) == []
