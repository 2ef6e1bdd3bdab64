"""How a running service is doing, for operators and orchestrators.

Two doors onto the same figures (``Vitals.snapshot``):

* the NATS service API (nats-py ``micro``): every service is ``vigie-<service>`` and answers
  ``$SRV.PING``, ``$SRV.INFO`` and ``$SRV.STATS`` (also ``.<name>`` and ``.<name>.<id>``); its
  one endpoint, ``$SRV.STATUS.<name>.<id>``, answers the snapshot, which STATS carries too (in
  the endpoint's ``data``). Everything is under ``$SRV.``: no other subject is needed.
  ``vigie health`` reads it.
* an HTTP probe, off unless ``health.http_port`` is set: ``GET /livez`` (the process answers)
  and ``GET /readyz`` (connected, worker serving, engine healthy; 503 otherwise), for
  Kubernetes probes, which then need no instance id and no NATS client.

Neither ever stops the service: a failure here is logged, the work goes on.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import anyio
from anyio.abc import SocketStream
from anyio.streams.buffered import BufferedByteReceiveStream
from nats.aio.client import Client

from bus.worker import Worker
from services.config.schema import HealthConfig
from services.inference.engine import Engine

log = logging.getLogger("vigie.health")

SERVICE_PREFIX = "vigie-"
STATUS_ENDPOINT = "STATUS"
LIVE_PATH, READY_PATH = "/livez", "/readyz"
#: Bound on one probe connection: a client that sends nothing does not hold a task for long.
HTTP_TIMEOUT = 5.0
MAX_REQUEST_HEAD = 8192


def service_name(service: str) -> str:
    """The service API name of a Vigie service: ``vigie-<service>``."""
    return f"{SERVICE_PREFIX}{service}"


def vigie_version() -> str:
    try:
        return version("vigie")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0"


@dataclass
class Vitals:
    """Where the service stands; each getter reads the runtime's state as it is now."""

    service: str
    client: Client
    worker: Callable[[], Worker | None]
    engine: Callable[[], Engine | None] = lambda: None
    failure: Callable[[], str | None] = lambda: None
    drained: Callable[[], bool] = lambda: False
    started: float = field(default_factory=time.monotonic)

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready status; ``ready`` is what a readiness probe checks."""
        worker, engine, failure = self.worker(), self.engine(), self.failure()
        connected = self.client.is_connected
        problems: list[str] = []
        if failure is not None:
            state = "broken"
            problems.append(failure)
        elif worker is None:
            state = "starting"
        elif self.drained():
            state = "stopped"
        elif worker.stopping:
            state = "draining"
        else:
            state = "serving"
        if state != "serving" and failure is None:
            problems.append(state)
        if not connected:
            problems.append("not connected to NATS")
        engine_doc = _engine_doc(engine) if engine is not None else None
        if engine_doc is not None and not engine_doc["ok"]:
            problems.append(f"engine: {engine_doc['detail'] or 'unhealthy'}")
        return {
            "service": self.service,
            "state": state,
            "live": True,
            "ready": not problems,
            "problems": problems,
            "connected": connected,
            "uptime_s": round(time.monotonic() - self.started, 3),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "worker": _worker_doc(worker) if worker is not None else None,
            "engine": engine_doc,
        }


def _worker_doc(worker: Worker) -> dict[str, Any]:
    return {
        **asdict(worker.stats),
        "in_flight": worker.in_flight,
        "concurrency": worker.settings.concurrency,
        "consumers": [spec.durable for spec in worker.consumers],
    }


def _engine_doc(engine: Engine) -> dict[str, Any]:
    try:
        health, capacity = engine.health(), engine.capacity()
    except Exception as exc:  # a probe reports a broken engine; it does not raise
        return {"ok": False, "engine": engine.name, "model": engine.model, "detail": repr(exc)}
    return {
        "ok": health.ok,
        "engine": health.engine,
        "mode": engine_mode(health.engine),
        "model": health.model,
        "detail": health.detail,
        "steps": health.steps,
        "last_step_s": health.last_step_s,
        "max_sequences": capacity.max_sequences,
        "running": capacity.running,
        "paused": capacity.paused,
        "waiting": capacity.waiting,
        "free_sequences": capacity.free_sequences,
        "kv_tokens": capacity.kv_tokens,
        "kv_tokens_reserved": capacity.kv_tokens_reserved,
    }


def engine_mode(engine: str) -> str:
    """``exllamav2-paged`` → ``paged``; engines with one mode: ``continuous``/``stand-in``."""
    if engine.startswith("exllamav2-"):
        return engine.removeprefix("exllamav2-")
    return "stand-in" if engine == "stand-in" else "continuous"


async def serve_health(vitals: Vitals, settings: HealthConfig) -> None:
    """Until cancelled (after the drain): the service API and the HTTP probe, from the moment
    the service is connected (a model that loads for minutes must not fail a liveness probe)."""
    async with anyio.create_task_group() as tg:
        if settings.http_port:
            tg.start_soon(serve_http, vitals, settings.http_host, settings.http_port)
        await serve_service_api(vitals)


async def serve_service_api(vitals: Vitals) -> None:
    nc = vitals.client
    try:
        service = await _add_service(nc, vitals)
    except Exception:
        log.exception("%s: no NATS service API (it could not start)", vitals.service)
        return
    try:
        await anyio.sleep_forever()
    finally:
        # Normally the connection is already drained (and the subscriptions with it).
        if not (nc.is_closed or nc.is_draining):
            with anyio.CancelScope(shield=True), anyio.move_on_after(1.0):
                try:
                    await service.stop()
                except Exception:
                    log.debug("stopping the service API failed", exc_info=True)


async def _add_service(nc: Client, vitals: Vitals) -> Any:
    from nats.micro import add_service
    from nats.micro.request import Request
    from nats.micro.service import ServiceConfig

    name = service_name(vitals.service)
    config = ServiceConfig(
        name=name,
        version=vigie_version(),
        description=f"Vigie {vitals.service} service",
        metadata={"service": vitals.service, "host": socket.gethostname(), "pid": str(os.getpid())},
        stats_handler=lambda _endpoint: vitals.snapshot(),
    )
    # nats-py's micro stamps times with datetime.utcnow(), deprecated from Python 3.12.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        service = await add_service(nc, config)

    async def status(request: Request) -> None:
        await request.respond(json.dumps(vitals.snapshot()).encode())

    await service.add_endpoint(
        name="status", subject=f"$SRV.{STATUS_ENDPOINT}.{name}.{service.id}", handler=status
    )
    log.info("%s answers the NATS service API as %s id %s", vitals.service, name, service.id)
    return service


# ---------------------------------------------------------------- HTTP probe


async def serve_http(vitals: Vitals, host: str, port: int) -> None:
    try:
        listener = await anyio.create_tcp_listener(local_host=host, local_port=port)
    except OSError as exc:
        log.error("health probe: cannot listen on %s:%d (%s); serving without it", host, port, exc)
        return
    log.info("health probe on http://%s:%d%s and %s", host, port, LIVE_PATH, READY_PATH)
    async with listener:
        await listener.serve(partial(_answer, vitals))


async def _answer(vitals: Vitals, stream: SocketStream) -> None:
    async with stream:
        try:
            with anyio.fail_after(HTTP_TIMEOUT):
                head = await BufferedByteReceiveStream(stream).receive_until(
                    b"\r\n\r\n", MAX_REQUEST_HEAD
                )
                await stream.send(http_response(vitals, head))
        except Exception as exc:  # a bad or slow client: its connection ends, nothing else
            log.debug("health probe: %r", exc)


def http_response(vitals: Vitals, head: bytes) -> bytes:
    method, _, rest = head.partition(b" ")
    path = rest.partition(b" ")[0].partition(b"?")[0].decode("ascii", "replace")
    if method not in (b"GET", b"HEAD"):
        return _http(405, {"error": "GET only"}, False)
    if path == LIVE_PATH:
        return _http(200, {"service": vitals.service, "live": True}, method == b"HEAD")
    if path == READY_PATH:
        snapshot = vitals.snapshot()
        return _http(200 if snapshot["ready"] else 503, snapshot, method == b"HEAD")
    return _http(404, {"error": f"unknown path; try {LIVE_PATH} or {READY_PATH}"}, False)


_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


def _http(status: int, doc: dict[str, Any], head_only: bool) -> bytes:
    body = json.dumps(doc).encode() + b"\n"
    lines = [
        f"HTTP/1.1 {status} {_REASONS[status]}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Cache-Control: no-store",
        "Connection: close",
    ]
    return "\r\n".join(lines).encode() + b"\r\n\r\n" + (b"" if head_only else body)
