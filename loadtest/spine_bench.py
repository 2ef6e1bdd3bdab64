"""Throughput and latency of feed → enriched (deterministic enrichment) against a plain relay.

Both run in the same process tree, on the same embedded server with the same configuration:

* **pipeline** — `vigie run ingest`, each task of the spine, `vigie run collate`, one process
  each, as `vigie up` runs them, and no engine. The spine's tasks are those of the deployment's
  ``ingest.tasks`` (``vigie config --json``, with ``--env`` applied) that can run without the
  engine — the ones with a ``tasks.<task>_with_model`` switch, switched off; ingest is configured
  to ask for those only;
* **relay** — the floor any JetStream service pays: one nats-py process that pulls from a stream,
  publishes each message to another stream (waiting for the PubAck) and acks the input.

For each: saturation throughput (a preloaded backlog drained as fast as possible) and publish →
output latency (p50/p99) at a fixed, open-loop offered rate. Usage::

    python -m loadtest.spine_bench [--reports 2000] [--rate-fractions 0.5,1.0] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import anyio
import msgspec
import nats
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, StreamConfig

from bus.embedded import EmbeddedNats
from loadtest.stack import (
    effective_config,
    ingest_tasks,
    pipeline_services,
    provision_topology,
    setting_env,
)
from loadtest.stats import percentile
from schemas.v1 import enriched_decoder

TEXTS = (
    "Le 251430ZNOV26, la patrouille observe trois BTR-82A vers le nord en 31U DQ 48251 11932.",
    "SPOTREP: 2 trucks loading crates at 48.8582N 2.2945E, 251512ZNOV26.",
    "Колонна из 6 Т-72Б3 замечена в 37U DQ 12345 67890 в 260600ZNOV26.",
    "Спостерігач повідомляє: дві САУ біля 36U VA 55000 22000 о 251800ZNOV26.",
)


@dataclass
class Phase:
    name: str
    messages: int
    seconds: float
    per_second: float
    p50_ms: float | None = None
    p99_ms: float | None = None
    offered_per_second: float | None = None
    #: CPU time per message of each worker process during the phase (where it ran).
    cpu_ms_per_message: dict[str, float] | None = None
    #: Outputs seen twice on the wire (a core subscription sees a re-publish the stream drops).
    duplicates: int = 0


def consumed_per_report(tasks: int) -> int:
    """JetStream messages the pipeline consumes per report: ingest 1, each task its work item,
    collate the report record and each task's result."""
    return 1 + tasks + 1 + tasks


async def spine_tasks(env: dict[str, str]) -> tuple[str, ...]:
    """The deployment's tasks that can run without the engine, switched to run without it in
    ``env``, and ingest configured to ask for those only."""
    settings = await effective_config(env)
    tasks = ingest_tasks(settings)
    spine = tuple(t for t in tasks if f"tasks.{t}_with_model" in settings)
    if not spine:
        raise SystemExit(
            f"none of the deployment's tasks ({', '.join(tasks) or 'none'}) can run without the "
            "engine (a tasks.<task>_with_model switch): there is no deterministic spine to measure"
        )
    skipped = [t for t in tasks if t not in spine]
    if skipped:
        print(f"spine: {', '.join(skipped)} left out (they need the engine)", file=sys.stderr)
    for task in spine:
        env[setting_env(f"tasks.{task}_with_model")] = "false"
    env[setting_env("ingest.tasks")] = ",".join(spine)
    return spine


class Sink:
    """Receives outputs (core subscription) and stamps their arrival against send times."""

    def __init__(self, key: Callable[[Msg], str]) -> None:
        self.key = key
        self.sent: dict[str, float] = {}
        self.latencies: list[float] = []
        self.seen: set[str] = set()
        self.duplicates = 0
        self.changed = anyio.Event()
        self.first_at: float | None = None
        self.last_at = 0.0

    async def on_msg(self, msg: Msg) -> None:
        now = time.perf_counter()
        k = self.key(msg)
        if k in self.seen:
            self.duplicates += 1
            return
        self.seen.add(k)
        if self.first_at is None:
            self.first_at = now
        self.last_at = now
        if k in self.sent:
            self.latencies.append((now - self.sent[k]) * 1000)
        self.changed.set()
        self.changed = anyio.Event()

    async def wait_for(self, count: int, within: float) -> None:
        with anyio.fail_after(within):
            while len(self.seen) < count:
                await self.changed.wait()


def enriched_key(msg: Msg) -> str:
    return enriched_decoder.decode(msg.data).publisher_id or ""


def header_key(msg: Msg) -> str:
    return (msg.headers or {}).get("Bench-Id", "")


async def preload(js: object, subject: str, ids: list[str]) -> None:
    """Publish fast with many PubAcks in flight (the backlog for the saturation phase)."""
    pub = js.publish  # type: ignore[attr-defined]
    sem = anyio.Semaphore(256)

    async def one(i: int, ident: str) -> None:
        async with sem:
            await pub(
                subject,
                TEXTS[i % len(TEXTS)].encode(),
                headers={"Nats-Msg-Id": ident, "Bench-Id": ident},
            )

    async with anyio.create_task_group() as tg:
        for i, ident in enumerate(ids):
            tg.start_soon(one, i, ident)


async def open_loop(js: object, subject: str, ids: list[str], rate: float, sink: Sink) -> float:
    """Send at a fixed rate whatever the system does (no coordinated omission)."""
    pub = js.publish  # type: ignore[attr-defined]

    async def one(i: int, ident: str) -> None:
        await pub(
            subject,
            TEXTS[i % len(TEXTS)].encode(),
            headers={"Nats-Msg-Id": ident, "Bench-Id": ident},
        )

    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for i, ident in enumerate(ids):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await anyio.sleep(delay)
            sink.sent[ident] = due  # latency counts from when it should have left
            tg.start_soon(one, i, ident)
    return len(ids) / (time.perf_counter() - start)


async def start_processes(
    argvs: list[list[str]], env: dict[str, str], logs: Path
) -> list[tuple[str, asyncio.subprocess.Process]]:
    """Each process logs to ``logs/<name>.log`` so a failed run can be explained."""
    await anyio.Path(logs).mkdir(parents=True, exist_ok=True)
    procs = []
    for argv in argvs:
        name = argv[argv.index("run") + 1] if "run" in argv else argv[2].rsplit(".", 1)[-1]
        with (logs / f"{name}.log").open("ab") as log_file:
            proc = await asyncio.create_subprocess_exec(
                *argv, env=env, stdin=asyncio.subprocess.DEVNULL, stderr=log_file
            )
        procs.append((name, proc))
    return procs


def _pid(p: asyncio.subprocess.Process | int) -> int:
    return p if isinstance(p, int) else p.pid


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process (Linux /proc), in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def stop_processes(procs: list[tuple[str, asyncio.subprocess.Process]]) -> None:
    for _, p in procs:
        if p.returncode is None:
            p.send_signal(signal.SIGTERM)
    for _, p in procs:
        with anyio.move_on_after(20):
            await p.wait()
        if p.returncode is None:
            p.kill()
            await p.wait()


async def fixed_rate(
    name: str,
    js: Any,
    nc: Any,
    subject: str,
    out_subject: str,
    key: Callable[[Msg], str],
    procs: list[tuple[str, asyncio.subprocess.Process]],
    server_pid: int,
    saturation_rate: float,
    fraction: float,
    duplicates_ok: bool = False,
) -> Phase:
    """Open-loop arrivals at ``fraction`` of the saturation rate, for about 20 s."""
    watched: list[tuple[str, asyncio.subprocess.Process | int]] = [
        *procs,
        ("nats-server", server_pid),
    ]
    cpu_before = {who: cpu_seconds(_pid(p)) for who, p in watched}
    rate = max(1.0, saturation_rate * fraction)
    m = max(200, min(5000, int(rate * 20)))
    sink2 = Sink(key)
    sub = await nc.subscribe(
        out_subject, cb=sink2.on_msg, pending_msgs_limit=-1, pending_bytes_limit=-1
    )
    ids2 = [f"{name}-rate{fraction}-{i}" for i in range(m)]
    t1 = time.perf_counter()
    offered = await open_loop(js, subject, ids2, rate, sink2)
    await sink2.wait_for(m, within=600)
    fixed = Phase(
        f"{name} at {fraction:.0%} of saturation",
        m,
        time.perf_counter() - t1,
        m / (time.perf_counter() - t1),
        percentile(sink2.latencies, 0.5),
        percentile(sink2.latencies, 0.99),
        offered,
        {who: round((cpu_seconds(_pid(p)) - cpu_before[who]) * 1000 / m, 3) for who, p in watched},
    )
    await sub.unsubscribe()
    fixed.duplicates = sink2.duplicates
    if sink2.duplicates and not duplicates_ok:
        raise RuntimeError(f"{name}: {sink2.duplicates} duplicate outputs")
    return fixed


async def measure(
    name: str,
    url: str,
    subject: str,
    out_subject: str,
    key: Callable[[Msg], str],
    start: Callable[[], Awaitable[list[tuple[str, asyncio.subprocess.Process]]]],
    n: int,
    fractions: list[float],
    server_pid: int,
    duplicates_ok: bool = False,
) -> list[Phase]:
    nc = await nats.connect(url, pending_size=512 * 1024 * 1024)
    js = nc.jetstream()
    # Saturation: the backlog is in the stream before the workers start.
    sink = Sink(key)
    sat_sub = await nc.subscribe(
        out_subject, cb=sink.on_msg, pending_msgs_limit=-1, pending_bytes_limit=-1
    )
    ids = [f"{name}-sat-{i}" for i in range(n)]
    await preload(js, subject, ids)
    procs = await start()
    await sink.wait_for(n, within=600)
    # Timed from the first output to the last: process start-up, imports and provisioning are
    # not throughput.
    assert sink.first_at is not None
    sat_seconds = sink.last_at - sink.first_at
    saturation = Phase(f"{name} saturation", n - 1, sat_seconds, (n - 1) / sat_seconds)
    await sat_sub.unsubscribe()
    phases = [saturation]
    for fraction in fractions:
        phases.append(
            await fixed_rate(
                name,
                js,
                nc,
                subject,
                out_subject,
                key,
                procs,
                server_pid,
                saturation.per_second,
                fraction,
                duplicates_ok,
            )
        )
    await stop_processes(procs)
    await nc.close()
    saturation.duplicates = sink.duplicates
    if sink.duplicates and not duplicates_ok:
        raise RuntimeError(f"{name}: {sink.duplicates} duplicate outputs")
    return phases


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    env = dict(os.environ)
    env["VIGIE_LOG_LEVEL"] = "warning"
    for assignment in args.env:
        key, _, value = assignment.partition("=")
        env[key] = value
    # The spine alone: deterministic tasks, no model tasks (they need the engine).
    tasks = await spine_tasks(env)
    services = pipeline_services(tasks, engine=False)
    per_report = consumed_per_report(len(tasks))
    logs = Path(args.out).parent / "logs"
    async with AsyncExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vigie-bench-")))
        server = await stack.enter_async_context(
            EmbeddedNats(tmp / "nats", sync_interval=args.sync_interval)
        )
        url = server.url
        nc = await nats.connect(url)
        js = nc.jetstream()
        for stream, subj in (("RELAY_IN", "relay.in"), ("RELAY_OUT", "relay.out")):
            await js.add_stream(StreamConfig(name=stream, subjects=[subj], duplicate_window=120))
        await js.add_consumer(
            "RELAY_IN", ConsumerConfig(durable_name="relay", ack_wait=10, max_ack_pending=1000)
        )
        await nc.close()
        # The pipeline's streams must exist before its backlog is published.
        await provision_topology(url, env)
        py = sys.executable
        relay = await measure(
            "relay",
            url,
            "relay.in",
            "relay.out",
            header_key,
            lambda: start_processes([[py, "-m", "loadtest.relay", url]], env, logs),
            args.reports,
            args.rate_fractions,
            server.pid or 0,
        )
        pipeline = await measure(
            "pipeline",
            url,
            "feeds.dr.report.bench",
            "enriched.>",
            enriched_key,
            lambda: start_processes(
                [[py, "-m", "services.cli.main", "run", s, "--nats", url] for s in services],
                env,
                logs,
            ),
            args.reports,
            args.rate_fractions,
            server.pid or 0,
        )
    ratio = pipeline[0].per_second * per_report / relay[0].per_second
    return {
        "benchmark": "spine",
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cpu",
        "python": platform.python_version(),
        "sync_interval": args.sync_interval,
        "tracing": "traceparent propagation only (no exporter)",
        "services": list(services),
        "consumed_per_report": per_report,
        "phases": [asdict(p) for p in relay + pipeline],
        "ratio_reports_x_consumed_vs_relay": round(ratio, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="loadtest.spine_bench", description=__doc__)
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument(
        "--rate-fractions",
        type=lambda v: [float(x) for x in v.split(",")],
        default=[0.5, 1.0],
        help="offered rates as fractions of the measured saturation throughput",
    )
    parser.add_argument("--sync-interval", default="always")
    parser.add_argument(
        "--env", action="append", default=[], metavar="VAR=VALUE", help="extra service setting"
    )
    parser.add_argument("--out", default="bench-results/spine.json")
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the embedded server and the workers are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    result = anyio.run(main_async, args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(msgspec.json.format(msgspec.json.encode(result), indent=2) + b"\n")
    for phase in result["phases"]:  # type: ignore[attr-defined]
        lat = (
            (
                f"  p50 {phase['p50_ms']:.1f} ms  p99 {phase['p99_ms']:.1f} ms  "
                f"(offered {phase['offered_per_second']:.0f}/s)"
            )
            if phase["p50_ms"]
            else ""
        )
        print(f"{phase['name']:<36} {phase['per_second']:8.1f}/s{lat}")
        if phase["cpu_ms_per_message"]:
            cpu = ", ".join(f"{k} {v:.2f}" for k, v in phase["cpu_ms_per_message"].items())
            print(f"{'':<36} CPU ms per message: {cpu}")
    print(
        f"ratio (pipeline reports/s × {result['consumed_per_report']}) / relay msgs/s = "
        f"{result['ratio_reports_x_consumed_vs_relay']}"
    )
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
