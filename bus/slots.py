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
    consumer of urgent work is never starved by routine consumers holding the pool.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"slot capacity must be ≥ 1, got {capacity}")
        self.capacity = capacity
        self._free = capacity
        self._waiters: list[_Waiter] = []
        self._order = itertools.count()

    @property
    def in_use(self) -> int:
        return self.capacity - self._free

    @property
    def waiting(self) -> int:
        """Depth of the queue of consumers waiting for a slot."""
        return len(self._waiters)

    async def acquire(self, rank: int, want: int) -> int:
        """Wait for at least one free slot, then take up to ``want``; returns how many."""
        if want < 1:
            raise ValueError("want must be ≥ 1")
        if self._free > 0 and not self._waiters:
            return self._take(want)
        entry = _Waiter(rank, next(self._order))
        heapq.heappush(self._waiters, entry)
        try:
            while True:
                await entry.event.wait()
                if self._free > 0 and self._waiters[0] is entry:
                    heapq.heappop(self._waiters)
                    taken = self._take(want)
                    self._wake()
                    return taken
                # A more urgent waiter arrived after we were woken: let it go first.
                entry.event = anyio.Event()
                self._wake()
        except BaseException:
            if entry in self._waiters:
                self._waiters.remove(entry)
                heapq.heapify(self._waiters)
            self._wake()
            raise

    def overdraw(self, n: int) -> None:
        """Account for ``n`` messages the client handed over beyond what was asked for.

        nats-py's fetch also returns messages left buffered by an earlier, timed-out request;
        they are already ours (their ack wait is running), so they are counted, never refused.
        """
        self._free -= n

    def release(self, n: int = 1) -> None:
        if n < 0 or self._free + n > self.capacity:
            raise ValueError(f"releasing {n} slots would exceed capacity {self.capacity}")
        self._free += n
        self._wake()

    def _take(self, want: int) -> int:
        taken = min(want, self._free)
        self._free -= taken
        return taken

    def _wake(self) -> None:
        if self._free > 0 and self._waiters:
            self._waiters[0].event.set()
