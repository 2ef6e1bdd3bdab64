"""`vigie loadtest`: an open-loop, seeded, mixed feed against a running or embedded Vigie.

1. the stack: ``vigie up`` in a temporary directory (``--engine stand-in|llama.cpp``), or the
   server at ``--nats URL``; one warm-up report goes through first (nothing is timed before);
2. the plan: send times from the arrival process (``loadtest.arrivals``), items from the
   seeded generator (``loadtest.synth``): precedences, labels, languages, report forms and
   sensor readings in the configured mix;
3. the run (``loadtest.driver``): each item published at its scheduled time, latency from that
   time to the report's first enriched event, per precedence, in HDR histograms; goodput (complete
   events within the precedence's deadline), throughput, backlog, redeliveries and dead letters
   sampled every second; bounded by ``--duration`` and ``--max-reports``, then ``--drain``;
4. the report (``loadtest.report``): JSON, Markdown and PNG plots in ``--out``.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import nats

from loadtest.arrivals import Process, schedule
from loadtest.driver import Driver, Outcome
from loadtest.results import machine
from loadtest.stack import vigie_up, warm_up
from loadtest.stats import per_second
from loadtest.synth import LABELS, PRECEDENCES, Generator, Mix

#: collate's defaults (services/settings.py CollateConfig): ingest → partial event.
DEFAULT_DEADLINES = {"FLASH": 30.0, "IMMEDIATE": 60.0, "PRIORITY": 300.0, "ROUTINE": 900.0}


@dataclass
class Options:
    rate: float = 5.0
    duration: float = 30.0
    max_reports: int | None = None
    arrivals: Process = "poisson"
    burst_size: int = 20
    burst_spread: float = 0.05
    seed: int = 1
    mix: Mix = field(default_factory=Mix)
    nats_url: str | None = None
    engine: str = "stand-in"
    config: str | None = None
    deadlines: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_DEADLINES))
    drain: float = 30.0
    out: Path = Path(".")
    plots: bool = True
    progress: bool = True
    warmup: bool = True
    sync_interval: str | None = None


async def run_loadtest(opts: Options) -> dict[str, Any]:
    """Run one load test and write its report files; returns the JSON document."""
    opts.out.mkdir(parents=True, exist_ok=True)
    if opts.nats_url:
        result = await _against(opts.nats_url, opts, stack="external")
    else:
        with tempfile.TemporaryDirectory(prefix="vigie-loadtest-") as tmp:
            env = {"VIGIE_NATS__SYNC_INTERVAL": opts.sync_interval} if opts.sync_interval else {}
            async with vigie_up(
                Path(tmp),
                engine=opts.engine,
                config=opts.config,
                env=env,
                log_file=opts.out / "vigie-up.log",
            ) as url:
                result = await _against(url, opts, stack=f"embedded (vigie up, {opts.engine})")
    from loadtest.report import write_report

    write_report(result, opts.out, plots=opts.plots)
    return result


def plan(opts: Options, prefix: str) -> list[tuple[float, Any]]:
    offsets = schedule(
        opts.arrivals,
        opts.rate,
        opts.duration,
        max_count=opts.max_reports,
        seed=opts.seed,
        burst_size=opts.burst_size,
        burst_spread=opts.burst_spread,
    )
    gen = Generator(opts.seed, opts.mix, prefix=prefix)
    return [(t, gen.item(i)) for i, t in enumerate(offsets)]


async def _against(url: str, opts: Options, stack: str) -> dict[str, Any]:
    warm_s = await warm_up(url) if opts.warmup else None
    nc = await nats.connect(url, pending_size=256 * 1024 * 1024)
    try:
        labels = [k for k, w in opts.mix.label.items() if w > 0] or list(LABELS)
        driver = Driver(nc, labels, opts.deadlines, progress=opts.progress)
        items = plan(opts, prefix=f"lt{int(time.time())}")
        outcome = await driver.run(items, drain=opts.drain)
        deliveries_end = (await driver.deliveries_and_backlog())[0]
    finally:
        await nc.close()
    result = summarise(outcome, opts, deliveries_end)
    result["stack"] = {"kind": stack, "url": url, "warm_up_s": warm_s}
    return result


def summarise(o: Outcome, opts: Options, deliveries_end: int) -> dict[str, Any]:
    tracks = list(o.tracks.values())
    n = len(tracks)
    send_s = max(o.send_end - o.start, 1e-9)
    run_s = o.end - o.start
    completed = [t for t in tracks if t.complete_at is not None]
    per_prec: dict[str, Any] = {}
    for prec in PRECEDENCES:
        mine = [t for t in tracks if t.item.precedence == prec]
        if not mine:
            continue
        good = o.goodput(prec)
        entry: dict[str, Any] = {
            "offered": len(mine),
            "complete": sum(t.complete_at is not None for t in mine),
            "partial_events": sum(t.partial for t in mine),
            "dead_letters": sum(t.dead is not None for t in mine),
            "deadline_s": o.deadlines[prec],
            "goodput": good,
            "goodput_share": round(good / len(mine), 4),
            "goodput_per_s": round(good / send_s, 3),
        }
        if o.latency.count(prec):
            entry["latency"] = o.latency.summary(prec)
        per_prec[prec] = entry
    horizon = max(run_s, max((s.t for s in o.samples), default=0.0))
    done_times = [t.complete_at - o.start for t in completed if t.complete_at is not None]
    sent_times = [t.sent_at - o.start for t in tracks if t.sent_at is not None]
    good = o.goodput()
    last = o.samples[-1] if o.samples else None
    return {
        "tool": "vigie loadtest",
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "options": {
            "rate": opts.rate,
            "duration_s": opts.duration,
            "max_reports": opts.max_reports,
            "arrivals": opts.arrivals,
            "burst_size": opts.burst_size if opts.arrivals == "bursts" else None,
            "seed": opts.seed,
            "engine": None if opts.nats_url else opts.engine,
            "mix": {
                "precedence": dict(opts.mix.precedence),
                "label": dict(opts.mix.label),
                "language": dict(opts.mix.language),
                "sensor_share": opts.mix.sensor_share,
            },
            "drain_s": opts.drain,
            "sync_interval": opts.sync_interval or "config (default always)",
        },
        "totals": {
            "offered": n,
            "send_seconds": round(send_s, 3),
            "offered_per_s": round(n / send_s, 3),
            "published": sum(t.acked_at is not None for t in tracks),
            "publish_errors": sum(t.publish_error is not None for t in tracks),
            "complete": len(completed),
            "throughput_per_s": round(len(completed) / max(run_s, 1e-9), 3),
            "goodput": good,
            "goodput_share": round(good / n, 4) if n else None,
            "goodput_per_s": round(good / send_s, 3),
            "partial_events": sum(t.partial for t in tracks),
            "unfinished": sum(
                t.complete_at is None and t.dead is None and t.publish_error is None for t in tracks
            ),
            "dead_letters": sum(t.dead is not None for t in tracks),
            "dead_letter_reasons": dict(o.dead_reasons),
            "extra_events": o.extra_events,
            "duplicate_complete_events": o.duplicate_complete,
            "late_sends": o.late_sends,
            "max_send_lag_ms": o.max_send_lag_ms,
            "deliveries": deliveries_end - o.deliveries_start,
            "deliveries_per_report": round((deliveries_end - o.deliveries_start) / n, 2)
            if n
            else None,
            "redelivered_peak": max((s.redelivered for s in o.samples), default=0),
            "backlog_peak": max((s.backlog for s in o.samples), default=0),
            "backlog_end": last.backlog if last else None,
            "parked_peak": max((s.parked for s in o.samples), default=0),
        },
        "latency_all": o.latency.summary("ALL") if o.latency.count() else None,
        "per_precedence": per_prec,
        "mix_observed": {
            "kind": dict(Counter(t.item.kind for t in tracks)),
            "language": dict(Counter(t.item.language or "-" for t in tracks)),
            "label": dict(Counter(t.item.label for t in tracks)),
        },
        "series": {
            "offered_per_s": per_second(sent_times, horizon),
            "enriched_per_s": per_second(done_times, horizon),
            "samples": [asdict(s) for s in o.samples],
        },
        "latency_ms_raw": {k: [round(v, 3) for v in vs] for k, vs in o.latency.raw_ms.items()},
    }
