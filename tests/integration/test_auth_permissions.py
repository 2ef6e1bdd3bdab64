"""Least privilege on the REAL server: each identity is denied everything outside its own
subjects — JetStream API and both ack-subject forms included — and allowed what it needs."""

from __future__ import annotations

import json
from pathlib import Path

import nats
import pytest
from nats.js.api import ConsumerConfig

from bus.security.permissions import service_consumers, service_outputs, subject_matches
from bus.topology import ConsumerSpec, build_topology
from services.config.schema import Config, topology_settings
from tests.integration.secured import Secured, Watched, connect_as, secured_server

MARK = b"SECRET-MARKER-7f3a"
#: The topology the secured server provisions: the shipped task registry's.
TOPOLOGY = build_topology(topology_settings(Config()))
SERVICES = TOPOLOGY.stages


def concrete(subject: str) -> str:
    return ".".join("x" if t in ("*", ">") else t for t in subject.split("."))


def ack_forms(spec: ConsumerSpec) -> list[str]:
    """Both ack subject forms of a delivered message of ``spec`` (nats-server 2.15 and older)."""
    tail = "1.7.3.1700000000000000000.0"
    return [
        f"$JS.ACK.{spec.stream}.{spec.durable}.{tail}",
        f"$JS.ACK.hub.ACCOUNTHASH.{spec.stream}.{spec.durable}.{tail}.tok",
    ]


async def attempt(w: Watched, publish: list[str], subscribe: list[str]) -> list[str]:
    for subject in publish:
        await w.nc.publish(subject, b"{}", reply=w.nc.new_inbox())
    for subject in subscribe:
        await w.nc.subscribe(subject)
    return await w.violations()


def assert_all_denied(violations: list[str], publish: list[str], subscribe: list[str]) -> None:
    # nats-py lower-cases the server's -ERR text.
    text = "\n".join(violations).lower()
    missing = [s for s in publish if f'publish to "{s.lower()}"' not in text]
    missing += [s for s in subscribe if f'subscription to "{s.lower()}"' not in text]
    assert missing == [], f"allowed but should be denied: {missing}"


def foreign_publishes(secured: Secured, service: str) -> list[str]:
    topo = secured.topology
    labels = topo.settings.labels
    own = service_consumers(topo, service, labels)
    victim = next(c for c in topo.consumers if c not in own)
    bucket = "ingest_s" if service == "collate" else "collate_s"
    subjects = [
        # The JetStream API on streams and consumers that are not its own.
        "$JS.API.STREAM.CREATE.ROGUE",
        "$JS.API.STREAM.DELETE.FEEDS_NP",
        "$JS.API.STREAM.PURGE.WORK_NP",
        "$JS.API.STREAM.UPDATE.ENRICHED_TS",
        "$JS.API.CONSUMER.CREATE.ENRICHED_TS",
        "$JS.API.CONSUMER.CREATE.ENRICHED_TS.spy.enriched.ts.>",
        "$JS.API.CONSUMER.DURABLE.CREATE.DLQ_S.spy",
        f"$JS.API.CONSUMER.CREATE.{victim.stream}.spy",
        "$JS.API.STREAM.MSG.GET.ENRICHED_TS",
        "$JS.API.STREAM.MSG.GET.DLQ_S",
        "$JS.API.DIRECT.GET.ENRICHED_TS",
        f"$JS.API.DIRECT.GET.KV_{bucket}.$KV.{bucket}.r1",
        f"$JS.API.CONSUMER.MSG.NEXT.{victim.stream}.{victim.durable}",
        f"$JS.API.CONSUMER.DELETE.{victim.stream}.{victim.durable}",
        *ack_forms(victim),
        # Feeds are the publishers' alone.
        "feeds.np.report.rogue",
    ]
    mine = service_outputs(TOPOLOGY, service, labels)
    for other in SERVICES:
        for subject in service_outputs(TOPOLOGY, other, labels):
            if not any(subject_matches(m, subject) for m in mine):
                subjects.append(concrete(subject))
    if service not in ("ingest", "collate"):
        subjects += ["$KV.ingest_np.r1", "$JS.API.DIRECT.GET.KV_ingest_np"]
    return subjects


FOREIGN_SUBSCRIBE = ["feeds.>", "enriched.ts.>", "work.>", "dlq.>", "_INBOX.>", ">"]


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_may_use_its_own_subjects_and_nothing_else(
    tmp_path: Path, service: str
) -> None:
    async with secured_server(tmp_path) as secured:
        w = await connect_as(secured, service)
        js = w.nc.jetstream()
        labels = secured.topology.settings.labels
        # Allowed: pull from its consumers, publish its outputs, use its buckets.
        for spec in service_consumers(secured.topology, service, labels)[:4]:
            await js.consumer_info(spec.stream, spec.durable)
            sub = await js.pull_subscribe_bind(durable=spec.durable, stream=spec.stream)
            with pytest.raises(nats.errors.TimeoutError):
                await sub.fetch(1, timeout=0.2)
        for subject in service_outputs(secured.topology, service, ("np",)):
            ack = await js.publish(concrete(subject).replace(".x", ".routine", 1), b"{}")
            assert ack.seq >= 1
        if service in ("ingest", "collate"):
            kv = await js.key_value(f"{service}_np")
            await kv.create("r1", b"state")
            assert (await kv.get("r1")).value == b"state"
        assert await w.violations() == []
        # Denied: everything else.
        publish = foreign_publishes(secured, service)
        other_inbox = "_INBOX_collate.>" if service != "collate" else "_INBOX_ingest.>"
        subscribe = [*FOREIGN_SUBSCRIBE, other_inbox]
        violations = await attempt(w, publish, subscribe)
        await w.nc.close()
    assert_all_denied(violations, publish, subscribe)


async def test_acks_in_both_forms_reach_only_the_own_consumer(tmp_path: Path) -> None:
    """A real delivery's ack subject (the server's own form) is allowed to its consumer."""
    async with secured_server(tmp_path) as secured:
        pub = await connect_as(secured, "publisher-np")
        await pub.nc.jetstream().publish("feeds.np.report.a", b"hello")
        ingest = await connect_as(secured, "ingest")
        sub = await ingest.nc.jetstream().pull_subscribe_bind(
            durable="ingest-np", stream="FEEDS_NP"
        )
        [msg] = await sub.fetch(1, timeout=2)
        assert msg.reply.startswith("$JS.ACK.")
        await msg.in_progress()
        await msg.ack_sync()
        assert await ingest.violations() == []
        # The same ack subject is denied to another service.
        collate = await connect_as(secured, "collate")
        violations = await attempt(collate, [msg.reply], [])
        assert_all_denied(violations, [msg.reply], [])
        for w in (pub, ingest, collate):
            await w.nc.close()


LEVELS_BELOW = {"np": [], "dr": ["np"], "s": ["np", "dr"]}


@pytest.mark.parametrize("level", ["np", "dr", "s"])
async def test_an_analyst_reads_its_levels_and_nothing_above_by_any_path(
    tmp_path: Path, level: str
) -> None:
    above = [lb for lb in ("np", "dr", "s", "ts") if lb not in (*LEVELS_BELOW[level], level)]
    async with secured_server(tmp_path) as secured:
        collate = await connect_as(secured, "collate")
        cjs = collate.nc.jetstream()
        for label in ("np", "dr", "s", "ts"):
            await cjs.publish(f"enriched.{label}.report.a", MARK + label.encode())
            await cjs.publish(f"dlq.collate.{label}", MARK + label.encode())
            kv = await cjs.key_value(f"collate_{label}")
            await kv.create("r1", MARK + label.encode())
        assert await collate.violations() == []

        analyst = await connect_as(secured, f"analyst-{level}")
        js = analyst.nc.jetstream()
        # Allowed: its own levels, by consumer and by message get.
        for label in (*LEVELS_BELOW[level], level):
            stream = f"ENRICHED_{label.upper()}"
            sub = await js.pull_subscribe("enriched.>", stream=stream, config=ConsumerConfig())
            [msg] = await sub.fetch(1, timeout=2)
            assert msg.data == MARK + label.encode()
            await msg.ack_sync()
            got = await js.get_msg(stream, seq=1)
            assert got.data == MARK + label.encode()
            # Its levels' dead letters (the console shows them) and audit records.
            letters = await js.pull_subscribe(
                "dlq.>", stream=f"DLQ_{label.upper()}", config=ConsumerConfig()
            )
            [msg] = await letters.fetch(1, timeout=2)
            assert msg.data == MARK + label.encode()
        await js.publish(f"audit.{level}.viewed", b"{}")
        assert await analyst.violations() == []

        # Denied: every path to a higher label (enriched, dead letters, audit), every collate
        # state and work queue.
        publish: list[str] = []
        for label in above:
            for s in (f"ENRICHED_{label.upper()}", f"DLQ_{label.upper()}"):
                publish += [
                    f"$JS.API.CONSUMER.CREATE.{s}",
                    f"$JS.API.CONSUMER.CREATE.{s}.spy",
                    f"$JS.API.CONSUMER.CREATE.{s}.spy.enriched.{label}.>",
                    f"$JS.API.CONSUMER.DURABLE.CREATE.{s}.spy",
                    f"$JS.API.STREAM.MSG.GET.{s}",
                    f"$JS.API.DIRECT.GET.{s}",
                    f"$JS.API.DIRECT.GET.{s}.enriched.{label}.report.a",
                    f"$JS.API.STREAM.INFO.{s}",
                ]
            publish += [f"$JS.API.CONSUMER.CREATE.AUDIT_{label.upper()}", f"audit.{label}.viewed"]
        # Nothing written below its own label either.
        publish += [f"audit.{label}.viewed" for label in LEVELS_BELOW[level]]
        for label in ("np", "dr", "s", "ts"):
            for s in (f"KV_collate_{label}", f"WORK_{label.upper()}"):
                publish += [
                    f"$JS.API.CONSUMER.CREATE.{s}",
                    f"$JS.API.STREAM.MSG.GET.{s}",
                    f"$JS.API.DIRECT.GET.{s}",
                ]
        subscribe = [f"enriched.{lb}.>" for lb in above] + [
            "dlq.>",
            "$KV.>",
            "work.>",
            ">",
        ]
        seen: list[bytes] = []
        for subject in publish:
            body = json.dumps({"seq": 1}).encode()
            try:
                reply = await analyst.nc.request(subject, body, timeout=0.3)
                seen.append(reply.data)
            except (nats.errors.TimeoutError, nats.errors.NoRespondersError):
                pass
        violations = await attempt(analyst, [], subscribe)
        await analyst.nc.close()
        await collate.nc.close()
    assert_all_denied(violations, publish, subscribe)
    assert not any(MARK in data for data in seen)


async def test_a_per_label_service_cannot_reach_another_labels_state(tmp_path: Path) -> None:
    async with secured_server(tmp_path, per_label=True) as secured:
        w = await connect_as(secured, "collate-dr")
        publish = [
            "$KV.collate_s.r1",
            "$JS.API.DIRECT.GET.KV_collate_s.$KV.collate_s.r1",
            "$JS.API.STREAM.MSG.GET.KV_collate_s",
            "$JS.API.CONSUMER.MSG.NEXT.WORK_S.collate-s-routine",
            "enriched.s.report.a",
            "dlq.collate.s",
        ]
        violations = await attempt(w, publish, ["enriched.s.>"])
        kv = await w.nc.jetstream().key_value("collate_dr")
        await kv.create("r1", b"ok")
        await w.nc.close()
    assert_all_denied(violations, publish, ["enriched.s.>"])
