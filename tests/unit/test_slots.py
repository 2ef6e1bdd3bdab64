"""The slot pool grants the most urgent waiter first and never exceeds its capacity."""

from __future__ import annotations

import anyio
import pytest

from bus.slots import SlotPool

FLASH, IMMEDIATE, PRIORITY, ROUTINE = range(4)


async def test_takes_up_to_what_is_free() -> None:
    pool = SlotPool(4)
    assert await pool.acquire(ROUTINE, 3) == 3
    assert await pool.acquire(ROUTINE, 3) == 1
    assert pool.in_use == 4
    pool.release(4, ROUTINE)
    assert pool.in_use == 0


async def test_urgent_waiter_served_first() -> None:
    pool = SlotPool(1)
    assert await pool.acquire(ROUTINE, 1) == 1
    order: list[str] = []

    async def wait(name: str, rank: int) -> None:
        await pool.acquire(rank, 1)
        order.append(name)
        pool.release(1, rank)

    async with anyio.create_task_group() as tg:
        tg.start_soon(wait, "routine", ROUTINE)
        await anyio.sleep(0.01)
        tg.start_soon(wait, "priority", PRIORITY)
        await anyio.sleep(0.01)
        tg.start_soon(wait, "flash", FLASH)
        await anyio.sleep(0.01)
        assert pool.waiting == 3
        pool.release(1, ROUTINE)
    assert order == ["flash", "priority", "routine"]


async def test_cancelled_waiter_leaves_the_queue() -> None:
    pool = SlotPool(1)
    await pool.acquire(FLASH, 1)
    with anyio.move_on_after(0.05):
        await pool.acquire(FLASH, 1)
    assert pool.waiting == 0
    pool.release(1, FLASH)
    assert await pool.acquire(IMMEDIATE, 1) == 1


def test_over_release_is_an_error() -> None:
    pool = SlotPool(2)
    with pytest.raises(ValueError):
        pool.release(1, ROUTINE)


async def test_releasing_urgent_slots_that_were_taken_as_routine_is_an_error() -> None:
    pool = SlotPool(2)
    await pool.acquire(ROUTINE, 1)
    with pytest.raises(ValueError):
        pool.release(1, FLASH)


async def test_overdraw_is_counted_and_blocks_until_released() -> None:
    pool = SlotPool(2)
    assert await pool.acquire(FLASH, 2) == 2
    pool.overdraw(1, FLASH)
    assert pool.in_use == 3
    pool.release(1, FLASH)
    with anyio.move_on_after(0.05) as scope:
        await pool.acquire(FLASH, 1)
    assert scope.cancelled_caught  # two in use of two: full
    pool.release(1, FLASH)
    assert await pool.acquire(FLASH, 1) == 1


async def test_routine_ranks_hold_at_most_capacity_minus_reserved() -> None:
    pool = SlotPool(4, reserved=2)
    assert await pool.acquire(ROUTINE, 4) == 2  # routine takes what is not reserved
    assert pool.available(ROUTINE) == 0 and pool.available(FLASH) == 2
    with anyio.move_on_after(0.05) as scope:
        await pool.acquire(PRIORITY, 1)  # PRIORITY is not urgent either
    assert scope.cancelled_caught
    assert await pool.acquire(FLASH, 1) == 1  # FLASH gets in at once
    assert await pool.acquire(IMMEDIATE, 4) == 1  # IMMEDIATE too, up to the last slot


async def test_urgent_slots_in_use_do_not_shrink_the_routine_share() -> None:
    # Urgent consumers' idle long-polls hold slots of their own: routine work keeps its share.
    pool = SlotPool(6, reserved=3)
    assert await pool.acquire(FLASH, 1) == 1
    assert await pool.acquire(IMMEDIATE, 1) == 1
    assert await pool.acquire(ROUTINE, 6) == 3
    pool.release(1, ROUTINE)
    assert await pool.acquire(ROUTINE, 1) == 1  # a routine slot back is a routine slot again
    assert pool.available(FLASH) == 1


async def test_urgent_waiter_behind_a_blocked_routine_waiter_is_served() -> None:
    pool = SlotPool(3, reserved=1)
    assert await pool.acquire(ROUTINE, 2) == 2
    got: list[str] = []

    async def wait(name: str, rank: int) -> None:
        await pool.acquire(rank, 1)
        got.append(name)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(wait, "routine", ROUTINE)  # only the reserved slot is free: it waits
            await anyio.sleep(0.01)
            assert got == [] and pool.waiting == 1
            tg.start_soon(wait, "flash", FLASH)  # takes the reserved slot past the routine waiter
            await anyio.sleep(0.01)
            assert got == ["flash"]
            pool.release(1, ROUTINE)  # a routine slot comes back: the routine waiter takes it
    assert got == ["flash", "routine"]


def test_reserve_must_leave_room() -> None:
    with pytest.raises(ValueError):
        SlotPool(2, reserved=2)
