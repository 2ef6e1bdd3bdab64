"""The real pipeline for an evaluation: an embedded nats-server and every service in-process.

The services are the product's own (``services.runtime.start_worker``: ingest, the asked tasks,
the engine, collate), each with its own connection, as ``vigie up`` runs them; only their
process is shared with the evaluator, so that a test can hand the engine service a scripted
stand-in. ``engine`` None: the configured engine (llama.cpp and the registry's model by
default).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from nats.aio.client import Client

from bus.connect import close, connect
from bus.embedded import EmbeddedNats
from bus.topology import build_topology
from bus.worker import Worker
from services.config.schema import Config, topology_settings
from services.inference.engine import Engine
from services.runtime import ServiceParts, provision_with_retry, start_worker

__all__ = ["embedded_stack", "running_services", "stack_services"]

log = logging.getLogger("vigie.eval")


def stack_services(cfg: Config) -> tuple[str, ...]:
    """Ingest, the tasks ingest asks for, the engine, collate."""
    return ("ingest", *cfg.ingest.tasks, "inference", "collate")


@asynccontextmanager
async def running_services(
    url: str, cfg: Config, engine: Engine | None = None
) -> AsyncIterator[None]:
    """Every service of :func:`stack_services` serving ``url`` until the block ends."""
    workers: list[Worker] = []
    parts: list[ServiceParts] = []
    clients: list[Client] = []
    try:
        async with anyio.create_task_group() as tg:
            try:
                for name in stack_services(cfg):
                    nc = await connect(url, name=f"vigie-eval-{name}")
                    clients.append(nc)
                    service, worker = await start_worker(
                        name, nc, cfg, engine if name == "inference" else None
                    )
                    parts.append(service)
                    workers.append(worker)
                    tg.start_soon(worker.run)
                log.info("evaluation stack: %s", ", ".join(stack_services(cfg)))
                yield
            finally:
                for worker in workers:
                    worker.stop()
    finally:
        with anyio.CancelScope(shield=True):
            for service in parts:
                if service.aclose is not None:
                    await service.aclose()
            for nc in clients:
                await close(nc)


@asynccontextmanager
async def embedded_stack(
    cfg: Config, store: Path, engine: Engine | None = None
) -> AsyncIterator[str]:
    """A fresh server (its store under ``store``), provisioned, with every service: its URL."""
    async with EmbeddedNats(store, sync_interval=cfg.nats.sync_interval) as server:
        nc = await connect(server.url, name="vigie-eval-provision")
        try:
            await provision_with_retry(nc.jetstream(), build_topology(topology_settings(cfg)))
        finally:
            await close(nc)
        async with running_services(server.url, cfg, engine):
            yield server.url
