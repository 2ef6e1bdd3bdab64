"""Kill collate mid-way, SIGTERM ingest mid-way: every report still yields exactly one event."""

from __future__ import annotations

import signal
from collections import Counter

import anyio
import nats
from nats.js.errors import KeyNotFoundError

from bus.topology import enriched_subject, result_subject, stream_name
from schemas.v1 import TaskResult, collate_state_decoder, json_encoder
from services.collate import logic
from services.config.schema import CollateConfig, IngestConfig
from services.ingest.parse import report_identity
from services.tasks.registry import task_registry
from tests.integration.pipeline import collector, fast_config, pipeline
from tests.integration.procs import start_service

N = 150


def text(i: int) -> bytes:
    return f"Report {i}: two BTR-82A at 31U DQ 48251 11932, 251430ZNOV26.".encode()


async def publish_reports(url: str, n: int, prefix: str) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    for i in range(n):
        await js.publish("feeds.dr.report.crash", text(i), headers={"Nats-Msg-Id": f"{prefix}-{i}"})
    await nc.close()


async def test_collate_sigkilled_midway_each_revision_once(nats_url: str) -> None:
    async with (
        pipeline(nats_url, fast_config(), ("ingest", "extract")),
        collector(nats_url) as seen,
    ):
        await publish_reports(nats_url, N, "k")
        collate = await start_service("collate", nats_url)
        await seen.wait_for(lambda: len(seen.events) >= 10, within=30)
        collate.send_signal(signal.SIGKILL)
        await collate.wait()
        killed_at = len(seen.events)
        collate = await start_service("collate", nats_url)
        await seen.wait_for(lambda: len({e.report_id for e in seen.events}) == N, within=60)
        await anyio.sleep(3)  # room for a duplicate to show up, if there were one
        collate.send_signal(signal.SIGTERM)
        assert await collate.wait() == 0
    assert killed_at < N, "the kill must land mid-way for this test to mean anything"
    counts = Counter((e.report_id, e.revision) for e in seen.events)
    assert len(counts) == N
    assert max(counts.values()) == 1
    assert all(e.revision == 1 and not e.partial for e in seen.events)


async def ingest_backlog(url: str) -> tuple[int, int]:
    """(delivered, still to ingest) of the ingest consumer of the ``dr`` feeds."""
    nc = await nats.connect(url)
    info = await nc.jetstream().consumer_info(stream_name("feeds", "dr"), "ingest-dr")
    await nc.close()
    return info.delivered.stream_seq, info.num_pending + info.num_ack_pending


async def test_ingest_sigterm_drains_and_loses_nothing(nats_url: str) -> None:
    n = 2 * N  # ingest takes reports 64 at a time: enough left for the stop to land mid-way
    async with (
        pipeline(nats_url, fast_config(), ("extract", "collate")),
        collector(nats_url) as seen,
    ):
        ingest = await start_service("ingest", nats_url)
        await publish_reports(nats_url, n, "d")
        with anyio.fail_after(30):
            while True:
                delivered, _ = await ingest_backlog(nats_url)
                if delivered:
                    break
                await anyio.sleep(0.01)
        ingest.send_signal(signal.SIGTERM)
        with anyio.fail_after(15):  # drain_timeout is 5 s
            code = await ingest.wait()
        assert code == 0
        _, left_at_stop = await ingest_backlog(nats_url)
        ingest = await start_service("ingest", nats_url)
        await seen.wait_for(lambda: len({e.report_id for e in seen.events}) == n, within=60)
        await anyio.sleep(2)
        ingest.send_signal(signal.SIGTERM)
        assert await ingest.wait() == 0
    assert left_at_stop > 0, "the stop must land mid-way for this test to mean anything"
    counts = Counter(e.report_id for e in seen.events)
    assert len(counts) == n and max(counts.values()) == 1
    assert seen.dead == []


async def test_crash_between_publish_and_confirm_does_not_publish_twice(nats_url: str) -> None:
    """A revision reserved and published, but not confirmed (the crash window), is not repeated."""
    cfg = fast_config(
        ingest=IngestConfig(tasks=("extract", "translate")),
        collate=CollateConfig(deadline_routine=600.0, recheck_interval=0.5),
    )
    async with pipeline(nats_url, cfg), collector(nats_url) as seen:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        await js.publish("feeds.dr.report.window", text(1), headers={"Nats-Msg-Id": "w-1"})
        kv = await js.key_value("collate_dr")
        key = report_identity("dr", "window", "", "", "w-1")
        with anyio.fail_after(10):
            while True:
                try:
                    entry = await kv.get(key)
                except KeyNotFoundError:
                    entry = None
                if entry is not None and entry.value:
                    state = collate_state_decoder.decode(entry.value)
                    if state.report is not None and len(state.results) == 1:
                        break
                await anyio.sleep(0.05)
        # Simulate a collate that reserved revision 1, published it, and died before confirming.
        plan = logic.PublishedRevision(revision=1, tasks=["extract"], partial=True)
        reserved = logic.reserve(state, plan)
        await kv.update(key, json_encoder.encode(reserved), last=entry.revision)
        event = logic.build_event(
            reserved, plan, state.report.ingested_at, fills=task_registry().fills()
        )
        await js.publish(
            enriched_subject("dr", "report", "window"),
            json_encoder.encode(event),
            headers={"Nats-Msg-Id": f"{event.report_id}:r1"},
        )
        late = TaskResult(report_id=event.report_id, task="translate", label="dr", status="skipped")
        await js.publish(result_subject("dr", "ROUTINE"), json_encoder.encode(late))
        await seen.wait_for(lambda: len(seen.events) >= 2)
        await anyio.sleep(1.5)
        await nc.close()
    assert [(e.revision, e.partial) for e in seen.events] == [(1, True), (2, False)]
