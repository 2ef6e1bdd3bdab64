"""Collate's known states: bounded, and one turn at a time per report."""

from __future__ import annotations

import anyio

from schemas.v1 import CollateState
from services.collate.service import KnownStates


def test_known_states_are_bounded_least_recent_first() -> None:
    known = KnownStates(capacity=2)
    for i in range(3):
        known.put(("dr", f"r{i}"), CollateState(report_id=f"r{i}"), i + 1)
    known.put(("dr", "r1"), CollateState(report_id="r1"), 7)  # r1 used again: r2 is older now
    known.put(("dr", "r3"), CollateState(report_id="r3"), 8)
    assert known.depth == 2
    assert known.get(("dr", "r0")) is None and known.get(("dr", "r2")) is None
    assert known.get(("dr", "r1")) == (CollateState(report_id="r1"), 7)


async def test_turns_of_one_report_do_not_overlap_and_leave_no_lock_behind() -> None:
    known = KnownStates()
    inside: list[str] = []
    overlaps = 0

    async def take(key: str) -> None:
        nonlocal overlaps
        async with known.turn(("dr", key)):
            overlaps += key in inside
            inside.append(key)
            await anyio.sleep(0.01)
            inside.remove(key)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for key in ("a", "a", "a", "b", "b"):
                tg.start_soon(take, key)
    assert overlaps == 0
    assert known._locks == {}


async def test_other_reports_take_their_turns_side_by_side() -> None:
    known = KnownStates()
    a_inside = anyio.Event()

    async def hold_a() -> None:
        async with known.turn(("dr", "a")):
            a_inside.set()
            await anyio.sleep(30)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(hold_a)
            await a_inside.wait()
            async with known.turn(("dr", "b")):
                pass  # not held up by a's turn
            tg.cancel_scope.cancel()
