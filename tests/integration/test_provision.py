"""Provisioning is idempotent and converges the server onto the one declaration."""

from __future__ import annotations

import nats
from nats.js import api

from bus.provision import provision
from bus.topology import LABELS, TopologySettings, build_topology

SMALL = 32 * 1024 * 1024
#: The bus knows no task of its own: whatever names it is given get their consumers.
TASKS = ("alpha", "beta")


async def test_provision_creates_then_leaves_alone_then_updates(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    topology = build_topology(TopologySettings(stream_max_bytes=SMALL, tasks=TASKS))
    first = await provision(js, topology)
    assert first.updated == [] and first.unchanged == []
    assert len(first.created) == len(topology.streams) + len(topology.consumers)
    second = await provision(js, topology)
    assert second.created == [] and second.updated == []
    changed = build_topology(
        TopologySettings(
            stream_max_bytes=SMALL, ack_wait=3.0, feed_duplicate_window=30.0, tasks=TASKS
        )
    )
    third = await provision(js, changed)
    assert third.created == []
    assert "stream FEEDS_DR" in third.updated
    assert "consumer WORK_DR/alpha-dr-flash" in third.updated
    info = await js.consumer_info("WORK_DR", "alpha-dr-flash")
    assert info.config.ack_wait == 3.0
    await nc.close()


async def test_every_stream_holds_one_label(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    topology = build_topology(TopologySettings(stream_max_bytes=SMALL, tasks=TASKS))
    await provision(js, topology)
    for spec in topology.streams:
        info = await js.stream_info(spec.name)
        subjects = info.config.subjects or []
        assert subjects
        for subject in subjects:
            tokens = subject.split(".")
            labels_in = {t for t in tokens if t in LABELS} | {
                t.rsplit("_", 1)[1] for t in tokens if t.startswith(("ingest_", "collate_"))
            }
            assert labels_in == {spec.label}, (spec.name, subject)
        assert api.StorageType(info.config.storage) == api.StorageType.FILE
    await nc.close()
