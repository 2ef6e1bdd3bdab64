"""Run one service against a NATS server: connect, provision, pull, drain on SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any

import anyio
import anyio.to_thread
from anyio.abc import TaskGroup
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from bus.connect import close, connect
from bus.outcomes import Delivery, DeliveryBudget, Outcome, fixed_budget
from bus.provision import ProvisionError, ProvisionReport, provision, verify
from bus.publish import JetStreamPublisher, Publisher
from bus.security.permissions import service_topology
from bus.telemetry import ConsumerPoller
from bus.topology import (
    URGENT,
    ConsumerSpec,
    Topology,
    build_topology,
    consumer_precedence,
    kv_bucket,
)
from bus.worker import Worker, WorkerSettings
from services.config.schema import Config, topology_settings
from services.inference.engine import Engine
from services.security.credentials import client_security, least_privilege
from services.tasks.registry import task_registry
from services.telemetry.service import observe_engine, service_telemetry

log = logging.getLogger("vigie.runtime")


def service_names(cfg: Config) -> tuple[str, ...]:
    """Every service of a deployment, in data-path order: ingest, each task of the registry
    (shipped rows and ``tasks.extra_rows``), the engine, collate."""
    return ("ingest", *task_registry(cfg.tasks.extra_rows).names, "inference", "collate")


#: The services of a deployment of the shipped task registry.
SERVICES: tuple[str, ...] = service_names(Config())


@dataclass(frozen=True)
class ServiceParts:
    handler: Callable[[Delivery], Awaitable[Outcome]]
    consumers: list[ConsumerSpec]
    delivery_budget: DeliveryBudget = fixed_budget
    #: Messages in the service's hands at once; None = ``bus.concurrency``.
    concurrency: int | None = None
    #: Of those, kept for FLASH and IMMEDIATE messages (see ``bus.slots.SlotPool``).
    reserved_slots: int = 0
    #: Releases what the service holds (the engine) once its worker has drained.
    aclose: Callable[[], Awaitable[None]] | None = None
    #: Why the service can no longer serve (its engine failed); None while it can.
    broken: Callable[[], str | None] | None = None
    #: The engine the service serves (inference): its health and capacity are reported.
    engine: Engine | None = None
    #: Runs beside the worker until the service stops (the consumer-info metrics poller).
    background: Callable[[], Coroutine[Any, Any, None]] | None = None


def worker_settings(cfg: Config) -> WorkerSettings:
    return WorkerSettings(
        concurrency=cfg.bus.concurrency,
        fetch_batch=cfg.bus.fetch_batch,
        ack_wait=cfg.bus.ack_wait,
        max_deliveries=cfg.bus.max_deliveries,
        nak_backoff=tuple(cfg.bus.nak_backoff),
        drain_timeout=cfg.bus.drain_timeout,
    )


async def provision_with_retry(js: JetStreamContext, topology: Topology) -> ProvisionReport:
    """Services start together and provision concurrently: a lost create race is retried."""
    for attempt in range(5):
        try:
            return await provision(js, topology)
        except ProvisionError as exc:
            if attempt == 4:
                raise
            log.info("provisioning raced (%s); retrying", exc.detail)
            await anyio.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


async def _buckets(
    js: JetStreamContext, purpose: str, labels: tuple[str, ...]
) -> dict[str, KeyValue]:
    return {label: await js.key_value(kv_bucket(purpose, label)) for label in labels}  # type: ignore[arg-type]


async def build_service(
    name: str,
    js: JetStreamContext,
    publisher: Publisher,
    topology: Topology,
    cfg: Config,
    engine: Engine | None = None,
) -> ServiceParts:
    """The named service's handler and consumers; ``engine`` replaces the configured one
    (a stand-in, for tests and the bus-overhead benchmark)."""
    labels = tuple(cfg.bus.labels)
    if name == "ingest":
        from services.domain.langid import shared_identifier
        from services.ingest.service import IngestService, IngestSettings

        # Loading the model takes most of a second: not on the event loop; once per process
        # (the tasks that check an output's language share it).
        languages = await anyio.to_thread.run_sync(shared_identifier)
        ingest = IngestService(
            publisher,
            await _buckets(js, "ingest", labels),
            IngestSettings(
                max_text_bytes=cfg.ingest.max_text_bytes,
                tasks=tuple(cfg.ingest.tasks),
                default_precedence=cfg.ingest.default_precedence,
                deadline_for=cfg.collate.deadline_for,
            ),
            languages,
        )
        return ServiceParts(ingest.handle, topology.consumers_for("ingest", labels))
    if name in topology.tasks:
        from services.tasks.service import ModelTaskService
        from services.tasks.wiring import task_consumers, task_logic

        # Loading the glossary reads files: not on the event loop.
        logic = await anyio.to_thread.run_sync(task_logic, name, cfg)
        return ServiceParts(
            ModelTaskService(logic, publisher, model=cfg.inference.model).handle,
            task_consumers(name, topology, labels),
        )
    if name == "inference":
        from services.inference.factory import open_engine, served_adapter
        from services.inference.service import InferenceService

        if engine is None:
            engine = await open_engine(cfg)
        # The engine verified it when it loaded it; here its name and label (a file read).
        adapter = await anyio.to_thread.run_sync(served_adapter, cfg)
        consumers = topology.consumers_for("inference", labels)
        served = engine
        log.info("engine %s serving model %s", engine.name, engine.model)
        observe_engine(engine)
        return ServiceParts(
            InferenceService(engine, publisher, adapter=adapter).handle,
            consumers,
            # The engine's sequences, plus one per consumer: an idle consumer's long-poll holds
            # a slot, and the engine queues the few extra requests by precedence.
            concurrency=cfg.inference.max_sequences
            + cfg.inference.reserved_sequences
            + len(consumers),
            # Routine requests wait in the engine's queue holding their slots: without a reserve
            # they fill the pool under load and a FLASH request is not even fetched until one
            # finishes. Kept for the urgent: the engine's reserved sequences and their long-polls.
            reserved_slots=cfg.inference.reserved_sequences
            + sum(consumer_precedence(c) in URGENT for c in consumers),
            aclose=engine.aclose,
            broken=lambda: None if served.health().ok else served.health().detail,
            engine=engine,
        )
    if name == "collate":
        from services.collate.service import CollateService

        collate = CollateService(
            publisher,
            await _buckets(js, "collate", labels),
            fills=task_registry(cfg.tasks.extra_rows).fills(),
            recheck_interval=cfg.collate.recheck_interval,
        )
        consumers = topology.consumers_for("collate", labels) + topology.consumers_for(
            "result", labels
        )
        # One service polls every consumer's info into the vigie.consumer.* gauges.
        poller = ConsumerPoller(
            js, [(c.stream, c.durable) for c in topology.consumers], cfg.telemetry.metric_interval
        )
        return ServiceParts(
            collate.handle,
            consumers,
            collate.delivery_budget,
            background=poller.run if cfg.telemetry.enabled else None,
        )
    raise ValueError(f"unknown service {name!r}; choose one of {', '.join(service_names(cfg))}")


async def run_service(name: str, url: str, cfg: Config) -> None:
    """The service with its telemetry (``[telemetry]``), flushed when it ends."""
    async with service_telemetry(name, cfg):
        await _serve(name, url, cfg)


async def _serve(name: str, url: str, cfg: Config) -> None:
    """Serve until SIGTERM/SIGINT, then drain within ``bus.drain_timeout``.

    Signals are handled from the first moment: one during start-up (connecting, provisioning)
    abandons the start-up cleanly instead of killing the process half-way.
    """
    shutdown = _Shutdown(name)
    async with anyio.create_task_group() as tg:
        tg.start_soon(shutdown.watch_signals)
        nc: Client | None = None
        try:
            with shutdown.starting:
                nc = await connect(
                    url,
                    name=f"vigie-{name}",
                    connect_timeout=cfg.nats.connect_timeout,
                    reconnect_wait_max=cfg.nats.reconnect_wait_max,
                    security=client_security(cfg.nats, name),
                )
                _start_health(tg, name, cfg, nc, shutdown)
                shutdown.parts, shutdown.worker = await start_worker(name, nc, cfg)
            # A signal during a start-up step that cannot be interrupted (loading a model in a
            # thread) lands when the step returns: start-up is abandoned all the same.
            if shutdown.worker is not None and not shutdown.starting.cancel_called:
                log.info("%s serving %d consumers", name, len(shutdown.worker.consumers))
                if shutdown.parts is not None and shutdown.parts.broken is not None:
                    tg.start_soon(shutdown.watch_health, shutdown.parts.broken)
                if shutdown.parts is not None and shutdown.parts.background is not None:
                    tg.start_soon(shutdown.parts.background)
                await shutdown.worker.run()
                shutdown.drained = True
                log.info("%s drained: %s", name, shutdown.worker.stats)
                if shutdown.failure:
                    raise ServiceBroken(name, shutdown.failure)
        finally:
            if shutdown.parts is not None and shutdown.parts.aclose is not None:
                with anyio.CancelScope(shield=True):
                    await shutdown.parts.aclose()
            if nc is not None:
                with anyio.CancelScope(shield=True):
                    await close(nc)
        tg.cancel_scope.cancel()


async def start_worker(
    name: str, nc: Client, cfg: Config, engine: Engine | None = None
) -> tuple[ServiceParts, Worker]:
    js = nc.jetstream()
    topology = build_topology(topology_settings(cfg))
    if least_privilege(cfg.nats):
        # Its own identity may not create streams: check that the provisioner did.
        await verify(js, service_topology(topology, name, tuple(cfg.bus.labels)))
    else:
        await provision_with_retry(js, topology)
    publisher = JetStreamPublisher(js)
    parts = await build_service(name, js, publisher, topology, cfg, engine)
    settings = worker_settings(cfg)
    if parts.concurrency is not None:
        settings = replace(settings, concurrency=parts.concurrency)
    settings = replace(settings, reserved_slots=parts.reserved_slots)
    worker = Worker(
        js,
        publisher,
        stage=name,
        consumers=parts.consumers,
        handler=parts.handler,
        settings=settings,
        delivery_budget=parts.delivery_budget,
    )
    return parts, worker


def _start_health(tg: TaskGroup, name: str, cfg: Config, nc: Client, shutdown: _Shutdown) -> None:
    """The NATS service API (``$SRV.*``, as ``vigie-<name>``) and the HTTP probe when
    configured (``services.health``); they answer through the drain, and end with the task
    group once the connection is closed. A failure there never stops the service."""
    from services.health import Vitals, serve_health

    vitals = Vitals(
        service=name,
        client=nc,
        worker=lambda: shutdown.worker,
        engine=lambda: shutdown.parts.engine if shutdown.parts is not None else None,
        failure=lambda: shutdown.failure,
        drained=lambda: shutdown.drained,
    )
    tg.start_soon(serve_health, vitals, cfg.health)


class ServiceBroken(Exception):
    """A service that can no longer serve (its engine failed): the process exits non-zero so
    that its supervisor restarts it, and meanwhile other workers take its messages."""

    recoverable = True

    def __init__(self, service: str, reason: str) -> None:
        self.service, self.reason = service, reason
        super().__init__(f"{service} stopped: {reason}")


class _Shutdown:
    def __init__(self, name: str) -> None:
        self.name = name
        self.starting = anyio.CancelScope()
        self.worker: Worker | None = None
        self.parts: ServiceParts | None = None
        self.failure: str | None = None
        self.drained = False

    async def watch_health(self, broken: Callable[[], str | None]) -> None:
        while self.failure is None:
            await anyio.sleep(0.5)
            if self.drained:
                return  # the engine closing after the drain is the normal end, not a failure
            self.failure = broken()
        log.error("%s: %s; stopping so that another worker takes over", self.name, self.failure)
        if self.worker is not None:
            self.worker.stop()

    async def watch_signals(self) -> None:
        # Keeps listening after the first signal: a second one must not kill a draining service.
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for signum in signals:
                log.info("%s: %s received, stopping", self.name, signal.Signals(signum).name)
                if self.worker is None:
                    self.starting.cancel()
                else:
                    self.worker.stop()
