"""publish_all: side by side, every message attempted, a failure raised as itself."""

from __future__ import annotations

import anyio
import pytest

from bus.publish import Outgoing, PublishError, PublishReceipt, publish_all


class RecordingPublisher:
    """Test stand-in: holds every publish until all are in flight, fails the subjects asked."""

    def __init__(self, expected: int, failing: frozenset[str] = frozenset()) -> None:
        self.expected = expected
        self.failing = failing
        self.in_flight = 0
        self.most_in_flight = 0
        self.all_in = anyio.Event()
        self.seen: list[str] = []

    async def publish(
        self, subject: str, payload: bytes, *, msg_id: str, headers: dict[str, str] | None = None
    ) -> PublishReceipt:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        self.seen.append(subject)
        if len(self.seen) == self.expected:
            self.all_in.set()
        with anyio.fail_after(5):
            await self.all_in.wait()
        self.in_flight -= 1
        if subject in self.failing:
            raise PublishError(subject, "stream full", recoverable=True)
        return PublishReceipt("S", self.seen.index(subject) + 1, False)


def outgoing(*subjects: str) -> list[Outgoing]:
    return [Outgoing(s, b"x", f"id-{s}") for s in subjects]


async def test_publishes_side_by_side_and_returns_receipts_in_order() -> None:
    pub = RecordingPublisher(3)
    receipts = await publish_all(pub, outgoing("a", "b", "c"))
    assert pub.most_in_flight == 3
    assert [r.seq for r in receipts] == [pub.seen.index(s) + 1 for s in "abc"]


async def test_a_failure_is_raised_as_itself_after_every_message_was_tried() -> None:
    pub = RecordingPublisher(3, failing=frozenset({"b", "c"}))
    with pytest.raises(PublishError) as caught:
        await publish_all(pub, outgoing("a", "b", "c"))
    assert caught.value.subject == "b" and caught.value.recoverable
    assert sorted(pub.seen) == ["a", "b", "c"]


async def test_nothing_to_publish() -> None:
    assert await publish_all(RecordingPublisher(0), []) == []
