"""The model tasks through the whole pipeline on the default model: throughput, latency, quality.

An embedded nats-server, provisioned by ``vigie ops provision``, and every service as its own
process (`vigie run …`: ingest, each task of the deployment's ``ingest.tasks`` as ``vigie config
--json`` reports it, inference on the real CPU engine, collate); this process publishes the
fixture reports (``loadtest.fixtures``) keeping N reports in flight (closed loop: a report is
published when one completes), for N in ``--inflight``, and reads the enriched events. Per
level: reports/s, and p50/p99 latency of each task (ingest to the task's answer, from the
event's provenance) and of the whole report (publish to its complete event). Over all events:
glossary adherence (source glossary terms whose required French term appears), protected tokens
kept, and the grounded-entity rate (model entities located in the text / proposed); statuses
and flags per task; the tokens each report cost (its event's ``usage``: prompt tokens computed
and reused, generated, discarded). Then ``--flash`` FLASH reports alone, one at a time:
publish → complete event, p50/p99.

Each ``--variant NAME:VIGIE_KEY=VALUE,…`` runs all of it on a stack of its own with those
settings over the shipped ones (``NAME:`` alone: the shipped defaults), one variant after the
other in the same run, and the result gives each variant's reports/s over the first's at each
level — e.g. today's behaviour as the baseline against the new defaults. Usage::

    python -m loadtest.tasks_throughput_bench [--inflight 1 4 16] [--reports 20] [--flash 20] \
        [--variant baseline:VIGIE_INFERENCE__BATCH_INVARIANT=true --variant shipped:] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nats
from nats.aio.msg import Msg

from bus.embedded import EmbeddedNats
from loadtest.fixtures import FIXTURES
from loadtest.results import machine, write_result
from loadtest.stack import bench_env, deployment_tasks, pipeline_services, provision_topology
from loadtest.stats import percentile as nearest_rank
from schemas import headers as H
from schemas.v1 import EnrichedEvent, TokenUsage, enriched_decoder

#: The per-report token counts of an event's ``usage``.
USAGE_FIELDS = tuple(TokenUsage.__struct_fields__)


def percentile(values: list[float], q: float) -> float | None:
    return nearest_rank(values, q) if values else None


def task_latencies(event: EnrichedEvent) -> dict[str, float]:
    """Seconds from the end of ingest to the answer of each task of the event."""
    by_stage = {p.stage: p for p in event.provenance}
    ingest = by_stage.get("ingest")
    if ingest is None:
        return {}
    return {
        o.task: (by_stage[o.task].finished_at - ingest.finished_at).total_seconds()
        for o in event.tasks
        if o.task in by_stage
    }


class Run:
    def __init__(self) -> None:
        self.published: dict[str, float] = {}
        self.complete: dict[str, tuple[float, EnrichedEvent]] = {}
        self.changed = asyncio.Event()

    async def on_event(self, msg: Msg) -> None:
        event = enriched_decoder.decode(msg.data)
        if event.partial:
            return
        msg_id = event.publisher_id or ""
        if msg_id in self.published and msg_id not in self.complete:
            self.complete[msg_id] = (time.monotonic(), event)
            self.changed.set()


def ms(v: float | None) -> float | None:
    return None if v is None else round(v * 1000, 1)


def token_counts(events: list[EnrichedEvent]) -> dict[str, Any]:
    """Per report: the mean and the median of each count of the events' ``usage``, the share
    of prompt tokens reused, and per task the mean of each count per report (``by_task``:
    which task the generated and the discarded tokens come from)."""
    usages = [e.usage or TokenUsage() for e in events]
    counts: dict[str, Any] = {}
    for name in USAGE_FIELDS:
        values = [float(getattr(u, name)) for u in usages]
        mean = sum(values) / len(values) if values else None
        counts[name] = {
            "mean": None if mean is None else round(mean, 1),
            "p50": percentile(values, 0.5),
        }
    reused = sum(u.prompt_tokens_reused for u in usages)
    prompt = reused + sum(u.prompt_tokens_computed for u in usages)
    counts["prompt_reused_share"] = round(reused / prompt, 3) if prompt else None
    counts["reports_without_usage"] = sum(e.usage is None for e in events)
    by_task: dict[str, TokenUsage] = {}
    for event in events:
        for p in event.provenance:
            if p.usage is not None:
                by_task[p.stage] = by_task.get(p.stage, TokenUsage()) + p.usage
    n = len(events) or 1
    counts["by_task"] = {
        task: {name: round(getattr(total, name) / n, 1) for name in USAGE_FIELDS}
        for task, total in sorted(by_task.items())
    }
    return counts


async def one_level(
    js: Any,
    run: Run,
    inflight: int,
    reports: int,
    tag: str,
    tasks: tuple[str, ...] = (),
    precedence: str | None = None,
) -> dict[str, Any]:
    """``reports`` reports, ``inflight`` at a time; latency per task for ``tasks`` and for every
    other task the events name."""
    ids = [f"{tag}-{i}" for i in range(reports)]
    pending = list(enumerate(ids))
    in_flight: set[str] = set()
    started = time.monotonic()
    while pending or in_flight:
        while pending and len(in_flight) < inflight:
            i, msg_id = pending.pop(0)
            fixture = FIXTURES[i % len(FIXTURES)]
            headers = {H.MSG_ID: msg_id}
            if precedence is not None:
                headers[H.PRECEDENCE] = precedence
            run.published[msg_id] = time.monotonic()
            await js.publish(
                f"feeds.np.report.bench-{fixture.language}", fixture.text.encode(), headers=headers
            )
            in_flight.add(msg_id)
        run.changed.clear()
        in_flight -= set(run.complete)
        if in_flight and not run.changed.is_set():
            await asyncio.wait_for(run.changed.wait(), timeout=900)
        in_flight -= set(run.complete)
    seconds = time.monotonic() - started
    events = [run.complete[i][1] for i in ids]
    e2e = [run.complete[i][0] - run.published[i] for i in ids]
    per_task: dict[str, list[float]] = {t: [] for t in tasks}
    for event in events:
        for task, s in task_latencies(event).items():
            per_task.setdefault(task, []).append(s)
    return {
        "inflight": inflight,
        "reports": reports,
        "seconds": round(seconds, 2),
        "reports_per_s": round(reports / seconds, 3),
        "report_ms": {"p50": ms(percentile(e2e, 0.5)), "p99": ms(percentile(e2e, 0.99))},
        "task_ms": {
            t: {"p50": ms(percentile(v, 0.5)), "p99": ms(percentile(v, 0.99))}
            for t, v in per_task.items()
        },
        "tokens_per_report": token_counts(events),
        "events": events,
    }


def quality(events: list[EnrichedEvent], tasks: tuple[str, ...] = ()) -> dict[str, Any]:
    """Quality rates over ``events``; statuses per task for ``tasks`` and every task the events
    name."""
    totals = dict.fromkeys(
        (
            "glossary_terms",
            "glossary_followed",
            "protected_tokens",
            "protected_kept",
            "entities_proposed",
            "entities_grounded",
            "facts_checked",
            "facts_unsupported",
        ),
        0,
    )
    statuses: dict[str, dict[str, int]] = {t: {} for t in tasks}
    flags: dict[str, int] = {}
    for event in events:
        for outcome in event.tasks:
            counts = statuses.setdefault(outcome.task, {})
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
            if outcome.quality is not None:
                for key in totals:
                    totals[key] += getattr(outcome.quality, key)
        for flag in event.flags:
            flags[flag.code] = flags.get(flag.code, 0) + 1

    def rate(a: str, b: str) -> float | None:
        return round(totals[a] / totals[b], 3) if totals[b] else None

    return {
        "glossary_adherence": rate("glossary_followed", "glossary_terms"),
        "protected_kept_rate": rate("protected_kept", "protected_tokens"),
        "grounded_entity_rate": rate("entities_grounded", "entities_proposed"),
        "summary_facts_supported_rate": None
        if not totals["facts_checked"]
        else round(1 - totals["facts_unsupported"] / totals["facts_checked"], 3),
        "totals": totals,
        "statuses": statuses,
        "flags": flags,
    }


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    """``NAME:VIGIE_KEY=VALUE,…`` → (name, settings); ``NAME:`` or ``NAME``: no settings."""
    name, _, rest = text.partition(":")
    settings: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.startswith("VIGIE_") or "__" not in key:
            raise argparse.ArgumentTypeError(
                f"{item!r}: a setting is VIGIE_SECTION__KEY=VALUE (see `vigie config`)"
            )
        settings[key] = value
    if not name:
        raise argparse.ArgumentTypeError(f"{text!r}: a variant needs a name (NAME:SETTINGS)")
    return name, settings


async def run_variant(
    name: str, settings: dict[str, str], args: argparse.Namespace
) -> dict[str, Any]:
    """Every level and the FLASH phase on a fresh stack with ``settings`` over the defaults."""
    with tempfile.TemporaryDirectory(prefix="vigie-tasks-") as tmp:
        async with EmbeddedNats(data_dir=Path(tmp) / "nats", sync_interval="always") as server:
            env = bench_env(data_dir=args.data_dir, threads=args.threads)
            env.update(settings)
            tasks = await deployment_tasks(env)
            await provision_topology(server.url, env)
            nc = await nats.connect(server.url)
            js = nc.jetstream()
            procs = [
                await asyncio.create_subprocess_exec(
                    *(sys.executable, "-m", "services.cli.main", "run", name),
                    *("--nats", server.url),
                    env=env,
                    stdin=asyncio.subprocess.DEVNULL,
                )
                for name in pipeline_services(tasks)
            ]
            run = Run()
            await nc.subscribe("enriched.np.>", cb=run.on_event)
            try:
                # One report first: models loaded, caches warm, before anything is timed.
                await one_level(js, run, 1, 1, f"warm-{time.time_ns()}")
                levels = []
                for n in args.inflight:
                    tag = f"n{n}-{time.time_ns()}"
                    level = await one_level(js, run, n, args.reports, tag, tasks)
                    levels.append(level)
                    print(
                        f"{name} inflight {n}: {level['reports_per_s']} reports/s, "
                        f"report p50 {level['report_ms']['p50']} ms",
                        file=sys.stderr,
                        flush=True,
                    )
                flash = None
                if args.flash:
                    tag = f"flash-{time.time_ns()}"
                    flash = await one_level(js, run, 1, args.flash, tag, tasks, "FLASH")
                    print(f"{name} FLASH alone: {flash['report_ms']}", file=sys.stderr, flush=True)
            finally:
                for proc in procs:
                    proc.send_signal(signal.SIGTERM)
                for proc in procs:
                    await proc.wait()
                await nc.close()
    events = [e for level in levels for e in level.pop("events")]
    result: dict[str, Any] = {
        "variant": name,
        "settings": settings,
        "tasks": list(tasks),
        "levels": levels,
        "quality": quality(events, tasks),
    }
    if flash is not None:
        flash_events = flash.pop("events")
        result["flash_alone"] = {
            "reports": flash["reports"],
            "report_ms": flash["report_ms"],
            "task_ms": flash["task_ms"],
            "tokens_per_report": flash["tokens_per_report"],
            "statuses": quality(flash_events, tasks)["statuses"],
        }
    return result


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    variants = [await run_variant(name, settings, args) for name, settings in args.variant]
    first = variants[0]
    ratios = {
        v["variant"]: {
            str(level["inflight"]): round(level["reports_per_s"] / base["reports_per_s"], 3)
            for level, base in zip(v["levels"], first["levels"], strict=True)
        }
        for v in variants[1:]
    }
    return {
        "benchmark": "the model tasks through the pipeline, default model",
        "variants": variants,
        "reports_per_s_over_" + first["variant"]: ratios,
        "fixtures": len(FIXTURES),
        "reports_per_level": args.reports,
        "machine": machine(),
        "threads": args.threads,
        "sync_interval": "always",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="loadtest.tasks_throughput_bench", description=__doc__)
    parser.add_argument(
        "--inflight", type=int, nargs="*", default=[1, 4, 16], help="levels; none: FLASH only"
    )
    parser.add_argument("--reports", type=int, default=len(FIXTURES))
    parser.add_argument(
        "--flash", type=int, default=0, help="FLASH reports alone, one at a time, at the end"
    )
    parser.add_argument(
        "--variant",
        type=parse_variant,
        action="append",
        metavar="NAME:VIGIE_KEY=VALUE,…",
        help="settings over the shipped ones; repeat to compare (default: shipped:)",
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--data-dir", default=".vigie")
    parser.add_argument("--out", default="bench-results/tasks.json")
    args = parser.parse_args(argv)
    args.variant = args.variant or [("shipped", {})]
    result = asyncio.run(main_async(args))
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
