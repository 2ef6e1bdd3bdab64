"""A bounded pool of handler slots shared by a service's consumers, granted most urgent first."""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field

import anyio


@dataclass(order=True)
class _Waiter:
    rank: int
    seq: int
    event: anyio.Event = field(default_factory=anyio.Event, compare=False)


class SlotPool:
    """``capacity`` messages may be in a service's hands at once.

    Waiters are served by rank (0 = most urgent, e.g. FLASH), then in arrival order, so a
    consumer of urgent work is never starved by routine consumers holding the pool. And ranks
    from ``urgent_below`` on (PRIORITY, ROUTINE) may hold at most ``capacity - reserved`` slots
    together, the rest being for FLASH and IMMEDIATE: where handlers hold their messages long (the
    engine's requests), routine work alone could fill the pool and an urgent message would wait
    for a routine one to finish before it is even fetched. Slots are released with the rank they
    were taken for.
    """

    def __init__(self, capacity: int, *, reserved: int = 0, urgent_below: int = 2) -> None:
        if capacity < 1:
            raise ValueError(f"slot capacity must be ≥ 1, got {capacity}")
        if not 0 <= reserved < capacity:
            raise ValueError(f"reserved slots must be ≥ 0 and < capacity {capacity}")
        self.capacity = capacity
        self.reserved = reserved
        self.urgent_below = urgent_below
        self._free = capacity
        self._urgent = 0  # slots held by urgent ranks
        self._waiters: list[_Waiter] = []
        self._order = itertools.count()

    @property
    def in_use(self) -> int:
        return self.capacity - self._free

    @property
    def waiting(self) -> int:
        """Depth of the queue of consumers waiting for a slot."""
        return len(self._waiters)

    def available(self, rank: int) -> int:
        """Free slots a waiter of ``rank`` may take."""
        if rank < self.urgent_below:
            return max(self._free, 0)
        routine_in_use = self.in_use - self._urgent
        return max(min(self._free, self.capacity - self.reserved - routine_in_use), 0)

    async def acquire(self, rank: int, want: int) -> int:
        """Wait for at least one slot this rank may take, then take up to ``want``; returns how
        many."""
        if want < 1:
            raise ValueError("want must be ≥ 1")
        if self.available(rank) > 0 and not self._waiters:
            return self._take(rank, want)
        entry = _Waiter(rank, next(self._order))
        heapq.heappush(self._waiters, entry)
        try:
            while True:
                if self._waiters[0] is entry and self.available(rank) > 0:
                    heapq.heappop(self._waiters)
                    taken = self._take(rank, want)
                    self._wake()
                    return taken
                # Not our turn (a more urgent waiter is first) or nothing we may take: wait.
                self._wake()
                await entry.event.wait()
                entry.event = anyio.Event()
        except BaseException:
            if entry in self._waiters:
                self._waiters.remove(entry)
                heapq.heapify(self._waiters)
            self._wake()
            raise

    def overdraw(self, n: int, rank: int) -> None:
        """Account for ``n`` messages the client handed over beyond what was asked for.

        nats-py's fetch also returns messages left buffered by an earlier, timed-out request;
        they are already ours (their ack wait is running), so they are counted, never refused.
        """
        self._free -= n
        if rank < self.urgent_below:
            self._urgent += n

    def release(self, n: int, rank: int) -> None:
        urgent = rank < self.urgent_below
        if n < 0 or self._free + n > self.capacity or (urgent and n > self._urgent):
            raise ValueError(f"releasing {n} slots of rank {rank}: more than were taken")
        self._free += n
        if urgent:
            self._urgent -= n
        self._wake()

    def _take(self, rank: int, want: int) -> int:
        taken = min(want, self.available(rank))
        self._free -= taken
        if rank < self.urgent_below:
            self._urgent += taken
        return taken

    def _wake(self) -> None:
        # Only the first waiter can be served (those behind it are no more urgent, so they may
        # take nothing it may not); it rechecks when it runs.
        if self._waiters and self.available(self._waiters[0].rank) > 0:
            self._waiters[0].event.set()
