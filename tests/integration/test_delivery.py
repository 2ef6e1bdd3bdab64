"""Identity, dedupe beyond the server's window, and late results — on a real nats-server."""

from __future__ import annotations

import datetime as dt

import anyio
import nats

from bus.topology import result_subject
from schemas.v1 import TaskResult, json_encoder
from services.config.schema import BusConfig, CollateConfig, IngestConfig
from services.ingest.parse import content_digest, report_identity
from services.ingest.service import SeenRecord
from tests.integration.pipeline import collector, fast_config, pipeline

REPORT = "Patrol reports two T-72B3 at 31U DQ 48251 11932, 251430ZNOV26."


async def test_same_report_without_id_twice_gives_one_event(nats_url: str) -> None:
    async with pipeline(nats_url, fast_config()), collector(nats_url) as seen:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        first = await js.publish("feeds.np.report.alpha", REPORT.encode())
        second = await js.publish("feeds.np.report.alpha", REPORT.encode())
        assert first.seq != second.seq  # both stored: the server had no id to dedupe on
        await seen.wait_for(lambda: seen.events)
        await anyio.sleep(1.5)
        await nc.close()
    assert len(seen.events) == 1
    assert seen.events[0].publisher_id is None


async def test_same_id_after_server_window_still_one_event(nats_url: str) -> None:
    cfg = fast_config(
        bus=BusConfig(ack_wait=2.0, feed_duplicate_window=1.0, stream_max_bytes=32 * 1024**2)
    )
    async with pipeline(nats_url, cfg), collector(nats_url) as seen:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        hdrs = {"Nats-Msg-Id": "spot-7"}
        await js.publish("feeds.np.report.alpha", REPORT.encode(), headers=hdrs)
        await seen.wait_for(lambda: seen.events)
        await anyio.sleep(1.5)
        again = await js.publish("feeds.np.report.alpha", REPORT.encode(), headers=hdrs)
        assert not again.duplicate  # the server's window has passed: only ingest can drop it
        # A different trace context is not different content.
        hdrs2 = {**hdrs, "traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"}
        await js.publish("feeds.np.report.alpha", REPORT.encode(), headers=hdrs2)
        await anyio.sleep(1.5)
        await nc.close()
    assert len(seen.events) == 1
    assert seen.events[0].publisher_id == "spot-7"
    assert seen.dead == []


async def test_same_id_other_bytes_is_a_conflict_dead_letter(nats_url: str) -> None:
    cfg = fast_config(
        bus=BusConfig(ack_wait=2.0, feed_duplicate_window=1.0, stream_max_bytes=32 * 1024**2)
    )
    async with pipeline(nats_url, cfg), collector(nats_url) as seen:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        await js.publish("feeds.s.report.bravo", REPORT.encode(), headers={"Nats-Msg-Id": "x1"})
        # An id carried in the JSON body is scoped the same way as the header.
        body_a = b'{"text": "Convoy of four trucks.", "id": "x2"}'
        body_b = b'{"text": "Convoy of five trucks.", "id": "x2"}'
        await js.publish("feeds.s.report.bravo", body_a)
        await seen.wait_for(lambda: len(seen.events) == 2)
        await js.publish("feeds.s.report.bravo", body_b)
        await anyio.sleep(1.5)  # past the server's window, so only ingest can tell
        changed = b"Patrol reports THREE T-72B3."
        await js.publish("feeds.s.report.bravo", changed, headers={"Nats-Msg-Id": "x1"})
        await seen.wait_for(lambda: len(seen.dead) == 2)
        await anyio.sleep(0.5)
        await nc.close()
    assert len(seen.events) == 2
    assert [d.reason for d in seen.dead] == ["id_conflict", "id_conflict"]
    assert sorted(d.data for d in seen.dead) == sorted([body_b, changed])
    assert all(d.stage == "ingest" and d.label == "s" for d in seen.dead)
    assert seen.dead_subjects == ["dlq.ingest.s", "dlq.ingest.s"]
    by_data = {d.data: d for d in seen.dead}
    assert by_data[changed].headers["Nats-Msg-Id"] == "x1"


async def test_late_result_after_partial_gives_revision_two_once(nats_url: str) -> None:
    cfg = fast_config(
        ingest=IngestConfig(tasks=("extract", "translate")),
        collate=CollateConfig(deadline_routine=1.0, recheck_interval=0.3),
    )
    async with pipeline(nats_url, cfg), collector(nats_url) as seen:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        await js.publish("feeds.dr.report.charlie", REPORT.encode())
        await seen.wait_for(lambda: seen.events)
        first = seen.events[0]
        assert first.revision == 1 and first.partial
        statuses = {t.task: t.status for t in first.tasks}
        assert statuses == {"extract": "ok", "translate": "missing"}
        late = TaskResult(
            report_id=first.report_id,
            task="translate",
            label="dr",
            status="skipped",
            detail="already in the target language",
        )
        subject = result_subject("dr", "ROUTINE")
        await js.publish(subject, json_encoder.encode(late), headers={"Nats-Msg-Id": "late-1"})
        await seen.wait_for(lambda: len(seen.events) >= 2)
        # The same answer again (as a redelivery would bring it) publishes nothing new.
        await js.publish(subject, json_encoder.encode(late), headers={"Nats-Msg-Id": "late-2"})
        await anyio.sleep(1.5)
        await nc.close()
    assert [(e.revision, e.partial) for e in seen.events] == [(1, True), (2, False)]
    second = seen.events[1]
    assert {t.task: t.status for t in second.tasks} == {"extract": "ok", "translate": "skipped"}
    assert second.entities == first.entities


async def test_requeue_takes_over_the_identity_of_a_recorded_input(nats_url: str) -> None:
    """An input recorded by ingest and then dead-lettered (e.g. after max deliveries) comes back
    by requeue: it must be enriched, not dropped as a duplicate of itself."""
    async with (
        pipeline(nats_url, fast_config(), ("extract", "collate")),
        collector(nats_url) as seen,
    ):
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        kv = await js.key_value("ingest_np")
        report_id = report_identity("np", "delta", "", "", "lost-1")
        failed = SeenRecord(
            content_digest(REPORT.encode(), {}), "FEEDS_NP", 999, "feeds.np.report.delta",
            dt.datetime.now(dt.UTC),
        )  # fmt: skip
        await kv.create(report_id, json_encoder.encode(failed))
        # Without the requeue header the same report is a repeat and is dropped…
        await js.publish(
            "feeds.np.report.delta", REPORT.encode(), headers={"Vigie-Report-Id": "lost-1"}
        )
        # …with it, it takes the failed input's place.
        await js.publish(
            "feeds.np.report.delta",
            REPORT.encode(),
            headers={"Vigie-Report-Id": "lost-1", "Vigie-Requeue-Of": "FEEDS_NP:999"},
        )
        async with pipeline(nats_url, fast_config(), ("ingest",)):
            await seen.wait_for(lambda: seen.events)
            await anyio.sleep(1.0)
        await nc.close()
    assert [e.publisher_id for e in seen.events] == ["lost-1"]
    assert seen.dead == []
