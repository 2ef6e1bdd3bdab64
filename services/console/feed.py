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
#: And their encoded size: a report may be megabytes of text.
FEED_MAX_BYTES = 256 * 1024 * 1024
#: Dead letters and audit records held.
LOG_LIMIT = 500

Change = Literal["new", "revised", "stale"]


@dataclass
class Feed:
    limit: int = FEED_LIMIT
    max_bytes: int = FEED_MAX_BYTES
    _events: OrderedDict[str, EnrichedEvent] = field(default_factory=OrderedDict)
    _sizes: dict[str, int] = field(default_factory=dict)
    bytes: int = 0

    def __len__(self) -> int:
        return len(self._events)

    def add(self, event: EnrichedEvent, size: int = 0) -> Change:
        """Keep ``event`` (``size``: its encoded bytes, counted against ``max_bytes``)."""
        key = event.report_id
        known = self._events.get(key)
        if known is not None and event.revision <= known.revision:
            return "stale"
        self.bytes += size - self._sizes.get(key, 0)
        self._sizes[key] = size
        # A revision keeps the report's position in the feed (in place).
        self._events[key] = event
        while len(self._events) > 1 and (
            len(self._events) > self.limit or self.bytes > self.max_bytes
        ):
            old, _ = self._events.popitem(last=False)
            self.bytes -= self._sizes.pop(old, 0)
        return "new" if known is None else "revised"

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
