"""The worker loop against a real server, with handlers written for the test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import nats
import pytest
from nats.js import JetStreamContext

from bus.embedded import EmbeddedNats
from bus.outcomes import Ack, Defer, Delivery, Outcome, Reject, Retry
from bus.provision import provision
from bus.publish import JetStreamPublisher
from bus.topology import TopologySettings, build_topology
from bus.worker import Worker, WorkerSettings
from schemas.v1 import dead_letter_decoder
from tests.support import eventually

SETTINGS = WorkerSettings(
    concurrency=8, fetch_timeout=0.5, ack_wait=1.0, max_deliveries=3, nak_backoff=(0.1, 0.2),
    drain_timeout=2.0,
)  # fmt: skip
TOPOLOGY = build_topology(
    TopologySettings(ack_wait=1.0, stream_max_bytes=32 * 1024 * 1024, tasks=("extract",))
)


@asynccontextmanager
async def running(
    url: str, handler: object, settings: WorkerSettings = SETTINGS
) -> AsyncIterator[tuple[Worker, JetStreamContext]]:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await provision(js, TOPOLOGY)
    worker = Worker(
        js,
        JetStreamPublisher(js),
        stage="extract",
        consumers=TOPOLOGY.consumers_for("extract", ("np",)),
        handler=handler,
        settings=settings,
    )  # type: ignore[arg-type]
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.run)
        try:
            yield worker, js
        finally:
            worker.stop()
    await nc.close()


async def dead_letters(js: JetStreamContext) -> list[object]:
    info = await js.stream_info("DLQ_NP")
    return [
        dead_letter_decoder.decode((await js.get_msg("DLQ_NP", seq)).data)
        for seq in range(1, info.state.messages + 1)
    ]


async def test_transient_failure_is_retried_then_acked(nats_url: str) -> None:
    calls: list[int] = []

    async def flaky(d: Delivery) -> Outcome:
        calls.append(d.num_delivered)
        if d.num_delivered < 2:
            raise Retry("downstream busy")
        return Ack()

    async with running(nats_url, flaky) as (worker, js):
        await js.publish("work.np.extract.routine", b"x")
        await eventually(lambda: worker.stats.acked >= 1, within=10)
        assert calls == [1, 2]
        assert worker.stats.retried == 1
        assert (await js.stream_info("WORK_NP")).state.messages == 0
        assert await dead_letters(js) == []


async def test_max_deliveries_dead_letters_with_last_error(nats_url: str) -> None:
    async def broken(d: Delivery) -> Outcome:
        raise RuntimeError("parser exploded")

    async with running(nats_url, broken) as (worker, js):
        await js.publish("work.np.extract.flash", b"poison", headers={"Nats-Msg-Id": "p-1"})
        await eventually(lambda: worker.stats.dead_lettered >= 1, within=10)
        letters = await dead_letters(js)
    assert len(letters) == 1
    letter = letters[0]
    assert letter.reason == "max_deliveries"  # type: ignore[attr-defined]
    assert "parser exploded" in letter.message  # type: ignore[attr-defined]
    assert letter.data == b"poison" and letter.deliveries == 3  # type: ignore[attr-defined]
    assert letter.headers["Nats-Msg-Id"] == "p-1"  # type: ignore[attr-defined]


async def test_reject_dead_letters_before_terminating(nats_url: str) -> None:
    async def picky(d: Delivery) -> Outcome:
        raise Reject("schema_violation", "not what I eat", {"field": "text"})

    async with running(nats_url, picky) as (worker, js):
        await js.publish("work.np.extract.routine", b"junk")
        await eventually(lambda: worker.stats.dead_lettered >= 1, within=10)
        letters = await dead_letters(js)
        assert (await js.stream_info("WORK_NP")).state.messages == 0
    assert [(x.reason, x.fields) for x in letters] == [  # type: ignore[attr-defined]
        ("schema_violation", {"field": "text"})
    ]


async def test_heartbeats_keep_a_long_handler_from_redelivery(nats_url: str) -> None:
    """A handler running 3× the ack wait keeps its message: no second delivery."""
    deliveries: list[int] = []

    async def slow(d: Delivery) -> Outcome:
        deliveries.append(d.num_delivered)
        await anyio.sleep(3.0)
        return Ack()

    async with running(nats_url, slow) as (worker, js):
        await js.publish("work.np.extract.routine", b"long")
        await eventually(lambda: worker.stats.acked >= 1, within=10)
    assert deliveries == [1]


async def test_defer_redelivers_after_delay(nats_url: str) -> None:
    seen: list[int] = []

    async def later(d: Delivery) -> Outcome:
        seen.append(d.num_delivered)
        return Ack() if d.num_delivered >= 3 else Defer(0.1)

    async with running(nats_url, later) as (worker, js):
        await js.publish("work.np.extract.routine", b"wait")
        await eventually(lambda: worker.stats.acked >= 1, within=10)
    assert seen == [1, 2, 3] and worker.stats.deferred == 2


async def test_drain_timeout_hands_unfinished_work_back(nats_url: str) -> None:
    started = anyio.Event()

    async def stuck(d: Delivery) -> Outcome:
        started.set()
        await anyio.sleep(60)
        return Ack()

    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    async with running(nats_url, stuck) as (_worker, js2):
        await js2.publish("work.np.extract.routine", b"stuck")
        with anyio.fail_after(10):
            await started.wait()
        t0 = anyio.current_time()
    # run() returned within the drain timeout, and the message is still in the stream, unacked.
    assert anyio.current_time() - t0 < SETTINGS.drain_timeout + 3
    info = await js.consumer_info("WORK_NP", "extract-np-routine")
    assert info.num_ack_pending + info.num_pending == 1
    assert (await js.stream_info("WORK_NP")).state.messages == 1
    await nc.close()


async def test_service_survives_a_server_restart(tmp_path: object) -> None:
    from pathlib import Path

    handled: list[bytes] = []

    async def record(d: Delivery) -> Outcome:
        handled.append(d.data)
        return Ack()

    async with (
        EmbeddedNats(Path(str(tmp_path)) / "n") as server,
        running(server.url, record) as (_worker, js),
    ):
        await js.publish("work.np.extract.routine", b"before")
        await eventually(lambda: len(handled) >= 1, within=10)
        await server.restart()
        nc = await nats.connect(server.url)
        with anyio.fail_after(20):
            while True:
                try:
                    await nc.jetstream().publish("work.np.extract.routine", b"after")
                    break
                except Exception:
                    await anyio.sleep(0.2)
        await eventually(lambda: b"after" in handled, within=30)
        await nc.close()
    assert handled.count(b"before") >= 1 and b"after" in handled


@pytest.mark.parametrize("capacity", [0, -1])
def test_slot_pool_rejects_bad_capacity(capacity: int) -> None:
    from bus.slots import SlotPool

    with pytest.raises(ValueError, match="capacity"):
        SlotPool(capacity)
