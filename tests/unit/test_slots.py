"""The slot pool grants the most urgent waiter first and never exceeds its capacity."""

from __future__ import annotations

import anyio
import pytest

from bus.slots import SlotPool


async def test_takes_up_to_what_is_free() -> None:
    pool = SlotPool(4)
    assert await pool.acquire(3, 3) == 3
    assert await pool.acquire(3, 3) == 1
    assert pool.in_use == 4
    pool.release(4)
    assert pool.in_use == 0


async def test_urgent_waiter_served_first() -> None:
    pool = SlotPool(1)
    assert await pool.acquire(3, 1) == 1
    order: list[str] = []

    async def wait(name: str, rank: int) -> None:
        await pool.acquire(rank, 1)
        order.append(name)
        pool.release(1)

    async with anyio.create_task_group() as tg:
        tg.start_soon(wait, "routine", 3)
        await anyio.sleep(0.01)
        tg.start_soon(wait, "priority", 2)
        await anyio.sleep(0.01)
        tg.start_soon(wait, "flash", 0)
        await anyio.sleep(0.01)
        assert pool.waiting == 3
        pool.release(1)
    assert order == ["flash", "priority", "routine"]


async def test_cancelled_waiter_leaves_the_queue() -> None:
    pool = SlotPool(1)
    await pool.acquire(0, 1)
    with anyio.move_on_after(0.05):
        await pool.acquire(0, 1)
    assert pool.waiting == 0
    pool.release(1)
    assert await pool.acquire(1, 1) == 1


def test_over_release_is_an_error() -> None:
    pool = SlotPool(2)
    with pytest.raises(ValueError):
        pool.release(1)


async def test_overdraw_is_counted_and_blocks_until_released() -> None:
    pool = SlotPool(2)
    assert await pool.acquire(0, 2) == 2
    pool.overdraw(1)
    assert pool.in_use == 3
    pool.release(1)
    with anyio.move_on_after(0.05) as scope:
        await pool.acquire(0, 1)
    assert scope.cancelled_caught  # two in use of two: full
    pool.release(1)
    assert await pool.acquire(0, 1) == 1
