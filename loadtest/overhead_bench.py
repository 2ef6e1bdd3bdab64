"""Bus overhead: the whole pipeline with the no-model stand-in engine, against a plain relay.

Same method as ``loadtest.spine_bench`` (whose phases it reuses), on one embedded server:

* **relay** — ``loadtest.relay``: consume → publish (await PubAck) → ack, nats-py alone;
* **pipeline** — every service as its own process (`vigie run NAME`: ingest, each task of the
  deployment — ``ingest.tasks`` as ``vigie config --json`` reports it —, inference, collate),
  the engine the stand-in (``inference.engine = "stand-in"``): ingest → the tasks, each asking
  the engine over the bus and reading its answer → inference → collate → the enriched event.

Saturation (a preloaded backlog drained; first output to last), then open-loop arrivals at half
that rate (latency from each scheduled send time). Messages consumed per report are *counted*:
the deliveries of every consumer of the feeds and work streams over the pipeline's run, divided
by the reports sent — so a task's retry, a parked record seen again or a redelivery is in
it. Bar: reports/s × consumed per report ≥ 0.8 × the relay's msg/s, and p99 < 50 ms at half
saturation. Usage::

    python -m loadtest.overhead_bench [--reports 1500] [--sync-interval always] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import asdict
from pathlib import Path
from typing import Any

import anyio
import nats
from nats.js.api import ConsumerConfig, StreamConfig

from bus.embedded import EmbeddedNats
from loadtest.results import machine
from loadtest.spine_bench import enriched_key, header_key, measure, start_processes
from loadtest.stack import effective_config, ingest_tasks, pipeline_services, provision_topology
from loadtest.stats import stage_of

LABEL = "dr"


def nominal(tasks: int) -> dict[str, int]:
    """The count by design, for one report whose ``tasks`` tasks succeed first time: ingest 1
    feed message; each task its work item + the engine's answer (2 per task); inference one
    request per task; collate the report record + one result per task. A retry adds a request
    and an answer."""
    return {"ingest": 1, "tasks": 2 * tasks, "inference": tasks, "collate": 1 + tasks}


async def consumed(url: str) -> tuple[int, dict[str, int]]:
    """Σ deliveries (redeliveries included) of every feeds/work consumer, and per stage."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        by_stage: Counter[str] = Counter()
        for stream in (f"FEEDS_{LABEL.upper()}", f"WORK_{LABEL.upper()}"):
            for info in await js.consumers_info(stream):
                n = (info.delivered.consumer_seq or 0) if info.delivered else 0
                by_stage[stage_of(info.name)] += n
        return sum(by_stage.values()), dict(by_stage)
    finally:
        await nc.close()


def telemetry_setting(settings: dict[str, Any]) -> dict[str, Any] | None:
    """The services' telemetry section of their settings (None: no section)."""
    found = {k.split(".", 1)[1]: v for k, v in settings.items() if k.startswith("telemetry.")}
    return found or None


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")}
    env.update(
        VIGIE_LOG_LEVEL="warning",
        VIGIE_BUS__LABELS=LABEL,
        VIGIE_INFERENCE__ENGINE="stand-in",
        VIGIE_NATS__SYNC_INTERVAL=args.sync_interval,
    )
    for assignment in args.env:
        key, _, value = assignment.partition("=")
        env[key] = value
    logs = Path(args.out).parent / "logs"
    fractions = [0.5]
    async with AsyncExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vigie-overhead-")))
        # What the services will run with: their tasks, their telemetry.
        settings = await effective_config(env)
        tasks = ingest_tasks(settings)
        services = pipeline_services(tasks)
        telemetry = telemetry_setting(settings)
        if telemetry is not None:  # keep the export out of the working directory
            env["VIGIE_TELEMETRY__DIR"] = str(tmp / "telemetry")
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
        await provision_topology(url, env)
        py = sys.executable
        relay = await measure(
            "relay", url, "relay.in", "relay.out", header_key,
            lambda: start_processes([[py, "-m", "loadtest.relay", url]], env, logs),
            args.relay_messages, fractions, server.pid or 0,
        )  # fmt: skip
        before, _ = await consumed(url)
        pipeline = await measure(
            "pipeline", url, f"feeds.{LABEL}.report.bench", "enriched.>", enriched_key,
            lambda: start_processes(
                [[py, "-m", "services.cli.main", "run", s, "--nats", url] for s in services],
                env, logs,
            ),
            args.reports, fractions, server.pid or 0, duplicates_ok=True,
        )  # fmt: skip
        after, by_stage = await consumed(url)
        # The relay again: the machine is shared, so the pipeline is compared with the mean of
        # the relay just before and just after it.
        relay_after = await measure(
            "relay-after", url, "relay.in", "relay.out", header_key,
            lambda: start_processes([[py, "-m", "loadtest.relay", url]], env, logs),
            args.relay_messages, [], server.pid or 0,
        )  # fmt: skip
    reports = args.reports + sum(p.messages for p in pipeline[1:])
    per_report = (after - before) / reports
    sat_reports = pipeline[0].per_second
    sat_relay = (relay[0].per_second + relay_after[0].per_second) / 2
    ratio = sat_reports * per_report / sat_relay
    half = pipeline[1]
    return {
        "benchmark": "bus overhead: pipeline with the stand-in engine vs a plain relay",
        "machine": machine(),
        "sync_interval": args.sync_interval,
        "telemetry": telemetry,
        "services": list(services),
        "tasks": list(tasks),
        "reports": reports,
        "consumed_per_report": round(per_report, 3),
        "consumed_per_report_by_stage": {k: round(v / reports, 3) for k, v in by_stage.items()},
        "consumed_per_report_nominal": nominal(len(tasks)),
        "phases": [asdict(p) for p in relay + pipeline + relay_after],
        "relay_msgs_per_s_mean": round(sat_relay, 1),
        "ratio_reports_x_consumed_vs_relay": round(ratio, 3),
        "bar_ratio_0_8_met": ratio >= 0.8,
        "p99_half_saturation_ms": half.p99_ms,
        "bar_p99_50ms_met": half.p99_ms is not None and half.p99_ms < 50,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="loadtest.overhead_bench", description=__doc__)
    parser.add_argument("--reports", type=int, default=1500)
    parser.add_argument("--relay-messages", type=int, default=4000)
    parser.add_argument("--sync-interval", default="always")
    parser.add_argument(
        "--env", action="append", default=[], metavar="VAR=VALUE", help="extra service setting"
    )
    parser.add_argument("--out", default="bench-results/overhead.json")
    args = parser.parse_args(argv)
    result = anyio.run(main_async, args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    for phase in result["phases"]:
        lat = (
            f"  p50 {phase['p50_ms']:.1f} ms  p99 {phase['p99_ms']:.1f} ms"
            if phase["p50_ms"]
            else ""
        )
        print(f"{phase['name']:<36} {phase['per_second']:8.1f}/s{lat}")
        if phase["cpu_ms_per_message"]:
            cpu = ", ".join(f"{k} {v:.2f}" for k, v in phase["cpu_ms_per_message"].items())
            print(f"{'':<36} CPU ms per message: {cpu}")
    print(
        f"consumed per report {result['consumed_per_report']} "
        f"({result['consumed_per_report_by_stage']}); ratio "
        f"{result['ratio_reports_x_consumed_vs_relay']} (bar 0.8); p99 at half saturation "
        f"{result['p99_half_saturation_ms']} ms (bar 50); written to {out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
