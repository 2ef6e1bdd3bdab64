"""Test harness: the real services, in-process, against the test's real nats-server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import nats
from nats.aio.client import Client
from nats.aio.msg import Msg

from bus.connect import connect
from bus.security.client import ClientSecurity
from bus.topology import LABELS, stream_name
from bus.worker import Worker
from schemas.v1 import DeadLetter, EnrichedEvent, dead_letter_decoder, enriched_decoder
from services.config.schema import BusConfig, CollateConfig, Config, IngestConfig, TasksConfig
from services.inference.engine import Engine
from services.runtime import ServiceParts, start_worker


def fast_config(**sections: object) -> Config:
    """Short timers so redelivery, deadlines and drains happen within a test."""
    bus = BusConfig(
        ack_wait=2.0,
        nak_backoff=(0.2, 0.5),
        drain_timeout=3.0,
        max_deliveries=3,
        stream_max_bytes=32 * 1024 * 1024,
    )
    collate = CollateConfig(deadline_routine=30.0, recheck_interval=0.5)
    # The spine's tests run without an engine: patterns-only extraction, no model tasks.
    parts: dict[str, object] = {
        "bus": bus,
        "collate": collate,
        "ingest": IngestConfig(tasks=("extract",)),
        "tasks": TasksConfig(extract_with_model=False),
    }
    parts.update(sections)
    return Config(**parts)  # type: ignore[arg-type]


@dataclass
class Collector:
    """Every enriched event and dead letter the test's subscriptions saw."""

    events: list[EnrichedEvent] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    dead_subjects: list[str] = field(default_factory=list)

    changed: anyio.Event = field(default_factory=anyio.Event)

    async def on_enriched(self, msg: Msg) -> None:
        self.events.append(enriched_decoder.decode(msg.data))
        self._notify()

    async def on_dead(self, msg: Msg) -> None:
        self.dead.append(dead_letter_decoder.decode(msg.data))
        self.dead_subjects.append(msg.subject)
        self._notify()

    def _notify(self) -> None:
        self.changed.set()
        self.changed = anyio.Event()

    async def wait_for(self, predicate: Callable[[], object], within: float = 20.0) -> None:
        with anyio.fail_after(within):
            while not predicate():
                await self.changed.wait()


@asynccontextmanager
async def collector(url: str) -> AsyncIterator[Collector]:
    """What the ENRICHED and DLQ streams stored (not what was published: a re-publish the stream
    dropped as a duplicate is seen by a core subscription, never by a stream consumer).

    Enter it after ``pipeline``: the streams must exist.
    """
    nc = await nats.connect(url)
    js = nc.jetstream()
    c = Collector()
    for label in LABELS:
        await js.subscribe(
            f"enriched.{label}.>",
            stream=stream_name("enriched", label),
            cb=c.on_enriched,
            ordered_consumer=True,
        )
        await js.subscribe(
            f"dlq.*.{label}",
            stream=stream_name("dlq", label),
            cb=c.on_dead,
            ordered_consumer=True,
        )
    await nc.flush()
    try:
        yield c
    finally:
        await nc.close()


@dataclass
class Running:
    workers: dict[str, Worker]
    clients: dict[str, Client]
    parts: dict[str, ServiceParts]


@asynccontextmanager
async def pipeline(
    url: str,
    cfg: Config,
    services: tuple[str, ...] = ("ingest", "extract", "collate"),
    engine: Engine | None = None,
    security: Callable[[str], ClientSecurity] | None = None,
) -> AsyncIterator[Running]:
    """The services, in-process; ``engine`` (a stand-in) replaces the inference service's;
    ``security`` gives each service its own credentials (a secured server)."""
    running = Running({}, {}, {})
    async with anyio.create_task_group() as tg:
        for name in services:
            nc = await connect(
                url, name=f"test-{name}", security=security(name) if security else None
            )
            running.clients[name] = nc
            parts, worker = await start_worker(
                name, nc, cfg, engine if name == "inference" else None
            )
            running.workers[name] = worker
            running.parts[name] = parts
            tg.start_soon(worker.run)
        try:
            yield running
        finally:
            for worker in running.workers.values():
                worker.stop()
    for parts in running.parts.values():
        if parts.aclose is not None:
            await parts.aclose()
    for nc in running.clients.values():
        await nc.close()
