"""The console's memory: bounded stores of the events, dead letters and audit records seen.

Pure. The feed keeps the latest revision of each report (a revision replaces the earlier one in
place; an older revision arriving late changes nothing), at most ``limit`` reports, the oldest
dropped first. Every store exposes its depth.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Literal

from schemas.v1 import PRECEDENCES, EnrichedEvent

#: Reports the console holds (and replays to a page that opens); the page keeps fewer.
FEED_LIMIT = 2000
#: Dead letters and audit records held.
LOG_LIMIT = 500

Change = Literal["new", "revised", "stale"]


@dataclass
class Feed:
    limit: int = FEED_LIMIT
    _events: OrderedDict[str, EnrichedEvent] = field(default_factory=OrderedDict)

    def __len__(self) -> int:
        return len(self._events)

    def add(self, event: EnrichedEvent) -> Change:
        key = event.report_id
        known = self._events.get(key)
        if known is not None:
            if event.revision <= known.revision:
                return "stale"
            # In place: the report keeps its position in the feed.
            self._events[key] = event
            return "revised"
        self._events[key] = event
        while len(self._events) > self.limit:
            self._events.popitem(last=False)
        return "new"

    def get(self, report_id: str) -> EnrichedEvent | None:
        return self._events.get(report_id)

    def newest_first(self) -> list[EnrichedEvent]:
        return list(reversed(self._events.values()))

    def counts(self) -> dict[str, int]:
        """Reports held per precedence, most urgent first."""
        out: dict[str, int] = dict.fromkeys(PRECEDENCES, 0)
        for event in self._events.values():
            out[event.precedence] += 1
        return out


@dataclass
class Log:
    """A bounded log of JSON-ready records (dead letters, audit), newest last."""

    limit: int = LOG_LIMIT
    _items: deque[dict[str, Any]] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self._items = deque(maxlen=self.limit)

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: dict[str, Any]) -> None:
        self._items.append(item)

    def newest_first(self) -> list[dict[str, Any]]:
        return list(reversed(self._items))


def replay_start(first_seq: int, last_seq: int, count: int) -> int:
    """The stream sequence to start from to replay the last ``count`` messages, then live."""
    return max(first_seq, last_seq - count + 1, 1)
