"""Overload: ``factor`` × the sustainable rate for ``duration`` seconds on the stand-in engine.

1. The sustainable rate is measured first (unless given): a backlog of reports drained by the
   services, reports enriched per second.
2. Then an open-loop publisher offers ``factor`` × that rate. Every 2 s the VmRSS of every
   service process is sampled, and the streams' message and byte counts against their limits.
3. Verdict: no service's RSS grows more than 10% after the warm-up (default: the first 20% of
   the run) — its largest sample after the warm-up against its last sample of the warm-up; no
   stream exceeds its limits (they discard new); a refused publish says the stream is full.

The streams' message cap is lowered (default: half of what the run offers to each label) so
that the feeds streams do fill and the refusals are seen.

The services are those of the deployment (ingest, each task of ``ingest.tasks`` as ``vigie
config --json`` reports it, inference, collate), one process each, and the topology is
provisioned by ``vigie ops provision``, both with the services' own configuration.
"""

from __future__ import annotations

import logging
import tempfile
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from nats.js import JetStreamContext
from nats.js.errors import APIError

from bus.connect import connect
from bus.publish import JetStreamPublisher, PublishError
from bus.topology import stream_name
from loadtest.chaos import LABELS, TEXTS, service_env
from loadtest.chaos import ChaosOptions as _Opts
from loadtest.chaos_fleet import Fleet, Server, fleet_environment
from loadtest.stack import deployment_tasks, pipeline_services, provision_topology
from schemas.headers import MSG_ID

log = logging.getLogger("vigie.overload")
SAMPLE_EVERY = 2.0
GROWTH_LIMIT = 0.10


@dataclass(frozen=True)
class OverloadOptions:
    duration: float = 600.0
    factor: float = 10.0
    sustainable: float | None = None
    warmup: float | None = None
    max_msgs: int | None = None
    calibration_reports: int = 300
    data_dir: Path | None = None


@dataclass
class OverloadResult:
    sustainable: float
    offered: float
    achieved: float
    published: int = 0
    refused: int = 0
    first_refusal: str = ""
    rss_warm_kib: dict[str, int] = field(default_factory=dict)
    rss_max_kib: dict[str, int] = field(default_factory=dict)
    rss_end_kib: dict[str, int] = field(default_factory=dict)
    stream_peak: dict[str, tuple[int, int]] = field(default_factory=dict)
    stream_limits: dict[str, tuple[int, int]] = field(default_factory=dict)
    samples: list[dict[str, int | None]] = field(default_factory=list)
    enriched: int = 0
    died: int = 0

    def growth(self) -> dict[str, float]:
        return {
            k: (self.rss_max_kib[k] - w) / w
            for k, w in self.rss_warm_kib.items()
            if w and k in self.rss_max_kib
        }

    @property
    def within_limits(self) -> bool:
        return all(
            (lm < 0 or m <= lm) and (lb < 0 or b <= lb)
            for name, (m, b) in self.stream_peak.items()
            for lm, lb in [self.stream_limits.get(name, (-1, -1))]
        )

    @property
    def ok(self) -> bool:
        clear = self.refused == 0 or "stream full" in self.first_refusal
        bounded = all(g < GROWTH_LIMIT for g in self.growth().values())
        return bounded and self.within_limits and clear and self.died == 0

    def summary(self) -> str:
        lines = [
            f"sustainable={self.sustainable:.1f}/s offered={self.offered:.1f}/s "
            f"achieved={self.achieved:.1f}/s published={self.published} refused={self.refused} "
            f"enriched={self.enriched} service_deaths={self.died} "
            f"streams_within_limits={self.within_limits} ok={self.ok}",
            f"first refusal: {self.first_refusal or '-'}",
            "service      RSS warm (MiB)  max after warm-up  end   growth",
        ]
        growth = self.growth()
        for key in sorted(self.rss_warm_kib):
            lines.append(
                f"{key:<12} {self.rss_warm_kib[key] / 1024:>13.1f}  "
                f"{self.rss_max_kib.get(key, 0) / 1024:>17.1f}  "
                f"{self.rss_end_kib.get(key, 0) / 1024:>5.1f}  {growth.get(key, 0):+.1%}"
            )
        for name, (msgs, size) in sorted(self.stream_peak.items()):
            lm, lb = self.stream_limits.get(name, (-1, -1))
            lines.append(f"{name}: peak {msgs} msgs / {size} B (limits {lm} msgs / {lb} B)")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        return {
            "sustainable_per_s": self.sustainable,
            "offered_per_s": self.offered,
            "achieved_per_s": self.achieved,
            "published": self.published,
            "refused": self.refused,
            "first_refusal": self.first_refusal,
            "enriched": self.enriched,
            "service_deaths": self.died,
            "rss_warm_kib": self.rss_warm_kib,
            "rss_max_after_warmup_kib": self.rss_max_kib,
            "rss_end_kib": self.rss_end_kib,
            "growth": self.growth(),
            "stream_peak": self.stream_peak,
            "stream_limits": self.stream_limits,
            "ok": self.ok,
        }


def _report(i: int, run: str) -> tuple[str, bytes, str]:
    label = LABELS[i % len(LABELS)]
    return (
        f"feeds.{label}.report.overload",
        TEXTS[i % len(TEXTS)].format(i=i).encode(),
        f"{run}-{i}",
    )


async def _enriched(js: JetStreamContext) -> int:
    total = 0
    for label in LABELS:
        total += (await js.stream_info(stream_name("enriched", label))).state.messages
    return total


async def stream_limits(js: JetStreamContext) -> dict[str, tuple[int, int]]:
    """Message and byte caps of the feeds and work streams, as provisioned on the server."""
    limits = {}
    for label in LABELS:
        for role in ("feeds", "work"):
            name = stream_name(role, label)
            config = (await js.stream_info(name)).config
            limits[name] = (config.max_msgs or -1, config.max_bytes or -1)
    return limits


async def measure_sustainable(js: JetStreamContext, n: int, run: str) -> float:
    """Reports/s the services sustain: a backlog of ``n`` published at once, then drained."""
    before = await _enriched(js)
    limit = anyio.Semaphore(128)

    async def one(i: int) -> None:
        async with limit:
            subject, data, ident = _report(i, run)
            await js.publish(subject, data, headers={MSG_ID: ident}, timeout=10)

    started = time.monotonic()
    async with anyio.create_task_group() as tg:
        for i in range(n):
            tg.start_soon(one, i)
    with anyio.fail_after(600):
        while True:
            if await _enriched(js) - before >= n:
                break
            await anyio.sleep(0.5)
    return n / (time.monotonic() - started)


async def run_overload(opts: OverloadOptions) -> OverloadResult:
    run = f"ovl{int(time.time())}"
    async with AsyncExitStack() as stack:
        if opts.data_dir is None:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vigie-ovl-")))
        else:
            data_dir = opts.data_dir
        server = Server(data_dir / "nats", 1)
        await server.start()
        stack.push_async_callback(server.stop)
        nc = await connect(server.url, name="vigie-overload")
        stack.push_async_callback(nc.close)
        js = nc.jetstream()
        env = service_env(_Opts(), 1)
        services = pipeline_services(await deployment_tasks(fleet_environment(env)))
        await provision_topology(server.url, fleet_environment(env))
        fleet = Fleet(server.url, data_dir / "logs", env, replicas=dict.fromkeys(services, 1))
        stack.push_async_callback(fleet.aclose)
        await fleet.start_all()
        if opts.sustainable is None:
            # A few reports first: the calibration must not include the services' start-up.
            await measure_sustainable(js, 20, f"{run}w")
        sustainable = opts.sustainable or await measure_sustainable(
            js, opts.calibration_reports, f"{run}c"
        )
        offered = sustainable * opts.factor
        # Half of what the run offers to each label's streams: the feeds streams fill mid-run.
        max_msgs = opts.max_msgs or max(1000, int(offered * opts.duration / 2 / len(LABELS)))
        # The services re-provision at start: they must ask for the same limits.
        env["VIGIE_BUS__STREAM_MAX_MSGS"] = str(max_msgs)
        await provision_topology(server.url, fleet_environment(env))
        result = OverloadResult(sustainable=sustainable, offered=offered, achieved=0.0)
        result.stream_limits = await stream_limits(js)
        pids = fleet.pids()
        warmup = opts.warmup if opts.warmup is not None else opts.duration * 0.2
        publisher = JetStreamPublisher(js, timeout=10)
        enriched_before = await _enriched(js)
        started = time.monotonic()

        async def one(i: int) -> None:
            subject, data, ident = _report(i, run)
            try:
                await publisher.publish(subject, data, msg_id=ident)
                result.published += 1
            except PublishError as exc:
                result.refused += 1
                result.first_refusal = result.first_refusal or str(exc)
            finally:
                limit.release()

        async def sample() -> None:
            while True:
                rss = {k: read for k, read in fleet.rss().items()}
                rss["t"] = int(time.monotonic() - started)
                result.samples.append(rss)
                elapsed = time.monotonic() - started
                for key, kib in rss.items():
                    if key == "t" or kib is None:
                        continue
                    if elapsed <= warmup:
                        result.rss_warm_kib[key] = kib  # the last sample of the warm-up
                    else:
                        result.rss_max_kib[key] = max(result.rss_max_kib.get(key, 0), kib)
                    result.rss_end_kib[key] = kib
                for name in result.stream_limits:
                    try:
                        state = (await js.stream_info(name)).state
                    except APIError:
                        continue
                    peak = result.stream_peak.get(name, (0, 0))
                    result.stream_peak[name] = (
                        max(peak[0], state.messages),
                        max(peak[1], state.bytes),
                    )
                await anyio.sleep(SAMPLE_EVERY)

        limit = anyio.Semaphore(512)
        async with anyio.create_task_group() as tg:
            tg.start_soon(sample)
            async with anyio.create_task_group() as pubs:
                i, interval = 0, 1.0 / offered
                while (due := started + i * interval) < started + opts.duration:
                    await anyio.sleep(max(0.0, due - time.monotonic()))
                    await limit.acquire()
                    pubs.start_soon(one, i)
                    i += 1
            tg.cancel_scope.cancel()
        result.achieved = (result.published + result.refused) / (time.monotonic() - started)
        result.enriched = await _enriched(js) - enriched_before
        result.died = sum(1 for key, pid in pids.items() if fleet.pids().get(key) != pid)
        return result
    raise AssertionError("unreachable")
