"""Vigie through its command line, for the load tester: the stack, its configuration, its topology.

The load tester is a client: it starts the stack exactly as an operator would — ``vigie up``
with a fresh store in a temporary directory, on a free port — reads the URL it prints, and
stops it with SIGTERM (``vigie up`` stops its services and server on that signal, and dies with
this process if it is killed).

A benchmark that runs the services one by one (``vigie run NAME``) against its own server asks
the product the rest, with the configuration it gives the services (environment variables
``VIGIE_<SECTION>__<KEY>``, see ``ops/vigie.example.toml``): which tasks the deployment runs
(:func:`deployment_tasks`, from ``vigie config --json``), hence which services
(:func:`pipeline_services`), and it provisions the topology with ``vigie ops provision``
(:func:`provision_topology`). It never names a task itself: the task registry is the product's.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import msgspec
import nats

from bus.process import die_with_parent
from schemas import headers as H
from schemas.v1 import TextReport, json_encoder

_READY = re.compile(r"NATS ready at (\S+)")


class StackError(RuntimeError):
    pass


def vigie_argv(*args: str) -> list[str]:
    """The command line of ``vigie ARGS…`` run by this interpreter (as ``vigie up`` runs it)."""
    return [sys.executable, "-m", "services.cli.main", *args]


async def _vigie(args: Sequence[str], env: Mapping[str, str] | None, within: float) -> str:
    """Runs ``vigie ARGS…`` with ``env`` (default: this process's): its standard output."""
    command = " ".join(("vigie", *args))
    try:
        with anyio.fail_after(within):
            done = await anyio.run_process(
                vigie_argv(*args),
                env=dict(os.environ if env is None else env),
                stdin=subprocess.DEVNULL,
                check=False,
            )
    except TimeoutError:
        raise StackError(f"`{command}` did not finish in {within:.0f} s") from None
    if done.returncode:
        said = done.stderr.decode(errors="replace").strip().splitlines()
        why = said[-1] if said else "no message"
        raise StackError(f"`{command}` failed with exit code {done.returncode}: {why}")
    return done.stdout.decode()


async def effective_config(
    env: Mapping[str, str] | None = None, within: float = 60.0
) -> dict[str, Any]:
    """Every effective setting (``{"ingest.tasks": [...], "bus.labels": [...], …}``) of a
    process started with ``env`` (default: this process's), as ``vigie config --json`` says."""
    out = await _vigie(("config", "--json"), env, within)
    try:
        tree = json.loads(out)
        return {key: entry["value"] for key, entry in tree.items()}
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise StackError(f"`vigie config --json` printed no settings: {exc}") from None


def setting_env(key: str) -> str:
    """The environment variable of a setting: ``bus.ack_wait`` → ``VIGIE_BUS__ACK_WAIT``."""
    return "VIGIE_" + key.upper().replace(".", "__")


def bench_env(*, data_dir: str, threads: int) -> dict[str, str]:
    """The environment of a benchmark's services: this process's own ``VIGIE_*`` settings left
    out, one label, streams sized for a run, the engine's threads and the models' data directory
    given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")}
    env.update(
        VIGIE_LOG_LEVEL="warning",
        VIGIE_BUS__LABELS="np",
        VIGIE_BUS__STREAM_MAX_BYTES=str(256 << 20),
        VIGIE_NATS__DATA_DIR=data_dir,
        VIGIE_INFERENCE__THREADS=str(threads),
    )
    return env


def ingest_tasks(settings: Mapping[str, Any]) -> tuple[str, ...]:
    """``ingest.tasks`` of :func:`effective_config`'s settings."""
    tasks = settings.get("ingest.tasks")
    if not isinstance(tasks, list) or not all(isinstance(t, str) for t in tasks):
        raise StackError(f"`vigie config --json`: ingest.tasks is {tasks!r}, not a list of names")
    return tuple(tasks)


async def deployment_tasks(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The tasks ingest sends each report to (``ingest.tasks``: the task registry's defaults
    unless configured) in the deployment that ``env`` configures."""
    return ingest_tasks(await effective_config(env))


def pipeline_services(tasks: Sequence[str], *, engine: bool = True) -> tuple[str, ...]:
    """The services (``vigie run NAME``) that enrich a report with ``tasks``, in ``vigie up``'s
    order: ingest, the tasks, the engine (``inference``; left out if ``engine`` is false, for
    tasks configured to need none), collate."""
    return ("ingest", *tasks, *(("inference",) if engine else ()), "collate")


async def provision_topology(
    url: str, env: Mapping[str, str] | None = None, within: float = 120.0
) -> str:
    """Creates or updates the topology on the server at ``url`` as an operator does
    (``vigie ops provision --nats URL``), with the configuration ``env`` gives (labels, stream
    limits, ack wait, tasks…: give it the services' environment). Returns its summary line."""
    return (await _vigie(("ops", "provision", "--nats", url), env, within)).strip()


@asynccontextmanager
async def vigie_up(
    data_dir: Path,
    *,
    engine: str | None = None,
    config: str | None = None,
    env: Mapping[str, str] | None = None,
    log_file: Path | None = None,
    ready_timeout: float = 120.0,
) -> AsyncIterator[str]:
    """Yields the URL of a running stack; ``engine`` sets ``VIGIE_INFERENCE__ENGINE``."""
    child_env = {**os.environ, "VIGIE_LOG_LEVEL": "warning", **(env or {})}
    if engine:
        child_env["VIGIE_INFERENCE__ENGINE"] = engine
    argv = vigie_argv(*(("--config", config) if config else ()))
    argv += ["up", "--port", "0", "--data-dir", str(data_dir)]
    log = (log_file or data_dir / "vigie-up.log").open("ab")
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=log,
        env=child_env,
        preexec_fn=die_with_parent,
    )
    try:
        url = await _read_url(proc, ready_timeout, log_file or data_dir / "vigie-up.log")
        yield url
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 60)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        log.close()


async def _read_url(proc: asyncio.subprocess.Process, within: float, log: Path) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), deadline - time.monotonic())
        except TimeoutError:
            break
        if not line:
            break
        found = _READY.search(line.decode(errors="replace"))
        if found:
            return found.group(1)
    raise StackError(f"`vigie up` did not report a ready server; see {log}")


async def warm_up(url: str, label: str = "np", within: float = 300.0) -> float:
    """One FLASH report through the pipeline (every service up, the model loaded): seconds."""
    nc = await nats.connect(url)
    try:
        done = asyncio.Event()
        ident = f"warmup-{time.time_ns()}"

        async def on_event(msg: Any) -> None:
            if msgspec.json.decode(msg.data).get("publisher_id") == ident:
                done.set()

        await nc.subscribe(f"enriched.{label}.>", cb=on_event)
        started = time.perf_counter()
        report = TextReport(text="SPOTREP 251430ZNOV26: 2 BTR-82A at 31U DQ 48251 11932.")
        await nc.jetstream().publish(
            f"feeds.{label}.report.warmup",
            json_encoder.encode(report),
            headers={H.MSG_ID: ident, H.PRECEDENCE: "FLASH"},
        )
        try:
            await asyncio.wait_for(done.wait(), within)
        except TimeoutError:
            raise StackError(
                f"no enriched event for the warm-up report in {within:.0f} s"
            ) from None
        return time.perf_counter() - started
    finally:
        await nc.close()
