"""`vigie health`: which service instances answer, and how they are doing.

Over NATS, it asks every expected service for its statistics through the NATS service API
(``$SRV.STATS.vigie-<service>``: every instance answers, on any machine) and waits ``--timeout``
for the answers. Exit status 0 when every expected service has at least one instance and every
instance that answered is ready; 1 otherwise, naming what is missing or unhealthy.

With ``--local`` it asks the HTTP probe of the service on this host (``health.http_port``)
instead: the exec-probe form of ``GET /readyz`` (``--live``: ``/livez``).
"""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

import anyio
import anyio.to_thread
import orjson
from nats.aio.client import Client

from services.cli.common import add_nats_option, cli_connection, fail, table
from services.config.load import LoadedConfig
from services.health import LIVE_PATH, READY_PATH, SERVICE_PREFIX, service_name
from services.runtime import SERVICES, service_names

DEFAULT_TIMEOUT = 1.0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "health",
        help="every service instance over the NATS service API; exit 1 if one is missing "
        "or unhealthy",
    )
    p.add_argument(
        "--service",
        action="append",
        metavar="NAME",
        help=f"expect this service (repeatable; default: every service, {', '.join(SERVICES)}"
        " and the tasks of tasks.extra_rows)",
    )
    p.add_argument("--json", action="store_true", help="one JSON document")
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="S",
        help=f"how long to wait for the instances' answers (default {DEFAULT_TIMEOUT:g} s)",
    )
    p.add_argument(
        "--local",
        action="store_true",
        help="probe the service on this host through its HTTP probe (health.http_port) "
        "instead: readiness, exit 0 when ready",
    )
    p.add_argument("--live", action="store_true", help="with --local: liveness instead")
    p.add_argument("--port", type=int, metavar="N", help="with --local: the probe's port")
    add_nats_option(p)
    p.set_defaults(func=cmd_health)


async def cmd_health(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    if args.timeout <= 0:
        return fail("health: --timeout must be > 0", 2)
    if args.local:
        return await local_probe(args, loaded)
    names = service_names(loaded.config)
    unknown = [name for name in args.service or () if name not in names]
    if unknown:
        return fail(f"health: unknown service {unknown[0]!r}: choose among {', '.join(names)}", 2)
    expected = list(dict.fromkeys(args.service or names))
    async with cli_connection(args, loaded) as nc:
        instances = await collect(nc, expected, args.timeout)
    doc = verdict(expected, instances)
    if args.json:
        print(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode(), flush=True)
    else:
        print(format_health(doc), flush=True)
    if doc["missing"]:
        fail(f"health: no instance answered for {', '.join(doc['missing'])}")
    if doc["unhealthy"]:
        fail(f"health: not ready: {', '.join(doc['unhealthy'])}")
    return 0 if doc["ok"] else 1


async def collect(nc: Client, services: list[str], wait: float) -> list[dict[str, Any]]:
    """Every STATS answer of the named services' instances within ``wait`` seconds."""
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    answers: list[dict[str, Any]] = []
    try:
        for service in services:
            await nc.publish(f"$SRV.STATS.{service_name(service)}", b"", reply=inbox)
        await nc.flush()
        with anyio.move_on_after(wait):
            async for msg in sub.messages:
                instance = _instance(msg.data)
                if instance is not None:
                    answers.append(instance)
    finally:
        await sub.unsubscribe()
    return sorted(answers, key=lambda i: (i["service"], i["id"]))


def _instance(data: bytes) -> dict[str, Any] | None:
    try:
        stats = json.loads(data)
        name = stats["name"]
    except (ValueError, TypeError, KeyError):
        return None
    if not isinstance(name, str) or not name.startswith(SERVICE_PREFIX):
        return None
    endpoints = stats.get("endpoints") or []
    status = next((e.get("data") for e in endpoints if isinstance(e.get("data"), dict)), None)
    return {
        "service": name.removeprefix(SERVICE_PREFIX),
        "name": name,
        "id": stats.get("id", "?"),
        "version": stats.get("version", "?"),
        "started": stats.get("started"),
        "metadata": stats.get("metadata") or {},
        "status": status,
    }


def verdict(expected: list[str], instances: list[dict[str, Any]]) -> dict[str, Any]:
    seen = {i["service"] for i in instances}
    missing = [service_name(s) for s in expected if s not in seen]
    unhealthy = [f"{i['name']} {i['id']} ({_problems(i)})" for i in instances if not _ready(i)]
    return {
        "ok": not missing and not unhealthy,
        "expected": [service_name(s) for s in expected],
        "missing": missing,
        "unhealthy": unhealthy,
        "instances": instances,
    }


def _ready(instance: dict[str, Any]) -> bool:
    status = instance["status"]
    return isinstance(status, dict) and status.get("ready") is True


def _problems(instance: dict[str, Any]) -> str:
    status = instance["status"]
    if not isinstance(status, dict):
        return "no status in its stats"
    return "; ".join(str(p) for p in status.get("problems") or []) or "not ready"


def format_health(doc: dict[str, Any]) -> str:
    rows = []
    for i in doc["instances"]:
        status = i["status"] or {}
        worker = status.get("worker") or {}
        rows.append(
            [
                i["name"],
                i["id"],
                i["version"],
                _uptime(status.get("uptime_s"), i["started"]),
                status.get("state", "?"),
                worker.get("handled", 0),
                worker.get("in_flight", 0),
                worker.get("dead_lettered", 0),
                "ok" if _ready(i) else _problems(i),
                _detail(status),
            ]
        )
    headers = ["SERVICE", "ID", "VERSION", "UPTIME", "STATE", "HANDLED", "IN-FLIGHT", "DLQ"]
    lines = [table([*headers, "HEALTH", "DETAIL"], rows, right=(5, 6, 7))] if rows else []
    for name in doc["missing"]:
        lines.append(f"{name}: no instance answered")
    if not rows and not doc["missing"]:
        lines.append("no service expected")
    return "\n".join(lines)


def _detail(status: dict[str, Any]) -> str:
    engine = status.get("engine")
    if isinstance(engine, dict):
        name, mode = engine.get("engine"), engine.get("mode")
        return (
            f"{name}{f' {mode}' if mode and mode != name else ''}, model {engine.get('model')}: "
            f"running {engine.get('running', '?')}, paused {engine.get('paused', '?')}, "
            f"waiting {engine.get('waiting', '?')}"
        )
    worker = status.get("worker") or {}
    return f"{len(worker.get('consumers') or [])} consumers" if worker else ""


def _uptime(seconds: object, started: object) -> str:
    if not isinstance(seconds, int | float) and isinstance(started, str):
        try:
            since = datetime.strptime(started, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        except ValueError:
            return "?"
        seconds = (datetime.now(UTC) - since).total_seconds()
    if not isinstance(seconds, int | float):
        return "?"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


# ---------------------------------------------------------------- --local


async def local_probe(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    port = args.port or loaded.config.health.http_port
    if not port:
        return fail(
            "health --local: no HTTP probe configured — set health.http_port "
            "(VIGIE_HEALTH__HTTP_PORT) for the service, or pass --port",
            2,
        )
    url = f"http://127.0.0.1:{port}{LIVE_PATH if args.live else READY_PATH}"
    code, doc = await anyio.to_thread.run_sync(_get, url, args.timeout)
    what = "live" if args.live else "ready"
    if code is None:
        return fail(f"health --local: {url} did not answer ({doc.get('error')})")
    name = doc.get("service", "service")
    if code == 200:
        print(f"{name}: {what}", flush=True)
        return 0
    return fail(f"{name}: not {what} ({'; '.join(doc.get('problems') or []) or code})")


def _get(url: str, timeout: float) -> tuple[int | None, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), _json(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, _json(exc.read())
    except (OSError, ValueError) as exc:
        return None, {"error": str(exc) or type(exc).__name__}


def _json(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}
