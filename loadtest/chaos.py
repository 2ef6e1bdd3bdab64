"""Chaos: SIGKILL services mid-batch and crash the server (or a cluster node) under a steady load,
then judge by id that every report ended as exactly one event per revision or one dead letter.

Everything runs here: an embedded server (``--cluster 3``: three nodes, streams with three
replicas), every service as ``vigie run`` processes, a publisher at ``rate`` reports/s with known
``Nats-Msg-Id`` (each publish retried until the server acknowledges it, as a publisher must), a
killer that SIGKILLs a random serving service every ``duration / kills`` seconds and starts it
again, and ``restarts`` server crashes (SIGKILL, down a moment, back on the same store). After
``duration`` it waits until the work streams are empty and the output stops changing, then reads
the ENRICHED and DLQ streams back (:mod:`loadtest.chaos_verdict`).
"""

from __future__ import annotations

import logging
import random
import tempfile
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from nats.aio.client import Client
from nats.js import JetStreamContext

from bus.connect import connect
from bus.topology import feed_subject, stream_name
from loadtest.chaos_fleet import Fleet, Server, fleet_environment
from loadtest.chaos_verdict import Verdict, judge
from loadtest.stack import StackError, deployment_tasks, pipeline_services, provision_topology
from schemas.headers import MSG_ID, PRECEDENCE

log = logging.getLogger("vigie.chaos")

LABELS = ("np", "dr")
TEXTS = (
    "SPOTREP {i}: two BTR-82A moving north at 31U DQ 48251 11932, 251430ZNOV26.",
    "Le {i}e rapport: trois camions vers 48.8582N 2.2945E, 251512ZNOV26.",
    "Колонна {i}: 6 Т-72Б3 замечена в 37U DQ 12345 67890 в 260600ZNOV26.",
    "Observation {i}: one radar site, 36U VA 55000 22000, 251800ZNOV26, no movement.",
)


@dataclass(frozen=True)
class ChaosOptions:
    kills: int = 10
    restarts: int = 2
    duration: float = 30.0
    rate: float = 5.0
    engine: str = "stand-in"
    cluster: int = 1
    #: Processes per service (inference stays at one on the real engine: one model in memory).
    replicas: int = 1
    settle_timeout: float = 180.0
    seed: int | None = None
    data_dir: Path | None = None
    sync_interval: str = "always"


@dataclass
class ChaosReport:
    verdict: Verdict
    kills: int
    kills_by_service: dict[str, int]
    server_restarts: int
    node_losses: int
    unexpected_exits: int
    published: int
    seconds: float
    settled: bool
    events: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.verdict.ok and self.settled

    def as_dict(self) -> dict[str, object]:
        v = self.verdict
        return {
            "lost": v.lost,
            "duplicated": v.duplicated,
            "published": self.published,
            "enriched_events": v.events,
            "dead_letters": v.dead_letters,
            "other_dead_letters": dict(v.other_dead_letters),
            "partial_only": v.partial_only,
            "revised": v.revised,
            "kills": self.kills,
            "kills_by_service": self.kills_by_service,
            "server_restarts": self.server_restarts,
            "node_losses": self.node_losses,
            "unexpected_exits": self.unexpected_exits,
            "settled": self.settled,
            "seconds": round(self.seconds, 1),
            "lost_ids": v.lost_ids[:20],
            "duplicated_ids": v.duplicated_ids[:20],
        }

    def summary(self) -> str:
        v = self.verdict
        by = " ".join(f"{k}:{n}" for k, n in sorted(self.kills_by_service.items()))
        other = ", ".join(f"{k}={n}" for k, n in sorted(v.other_dead_letters.items())) or "none"
        return (
            f"{v.line()} published={self.published} enriched_events={v.events} "
            f"ingest_dead_letters={v.dead_letters - sum(v.other_dead_letters.values())} "
            f"kills={self.kills} ({by}) server_restarts={self.server_restarts} "
            f"node_losses={self.node_losses} unexpected_exits={self.unexpected_exits} "
            f"revised={v.revised} partial_only={v.partial_only} settled={self.settled} "
            f"seconds={self.seconds:.0f}\nother dead letters: {other}"
        )


class Publisher:
    """Open-loop publisher with known ids; a publish is retried until acknowledged."""

    def __init__(self, js: JetStreamContext, run: str, rng: random.Random) -> None:
        self.js, self.run, self.rng = js, run, rng
        self.attempted: set[str] = set()
        self.acked: set[str] = set()
        self.retries = 0

    def message(self, i: int) -> tuple[str, bytes, dict[str, str], str]:
        label = LABELS[i % len(LABELS)]
        ident = f"{self.run}-{i:06d}"
        precedence = "FLASH" if i % 10 == 0 else "ROUTINE"
        text = TEXTS[i % len(TEXTS)].format(i=i).encode()
        return feed_subject(label, "report", "chaos"), text, {PRECEDENCE: precedence}, ident

    async def publish_one(self, i: int) -> None:
        subject, data, headers, ident = self.message(i)
        self.attempted.add(ident)
        while True:
            try:
                await self.js.publish(subject, data, headers=headers | {MSG_ID: ident}, timeout=3)
                self.acked.add(ident)
                return
            except Exception as exc:  # server down, reconnecting, leader election: retry
                self.retries += 1
                log.debug("publish %s: %s; retrying", ident, exc)
                await anyio.sleep(0.2 + self.rng.random() * 0.3)

    async def steady(self, rate: float, duration: float) -> None:
        interval, started = 1.0 / rate, time.monotonic()
        limit = anyio.Semaphore(256)

        async def one(i: int) -> None:
            try:
                await self.publish_one(i)
            finally:
                limit.release()

        async with anyio.create_task_group() as tg:
            i = 0
            while (due := started + i * interval) < started + duration:
                await anyio.sleep(max(0.0, due - time.monotonic()))
                await limit.acquire()
                tg.start_soon(one, i)
                i += 1


async def _killer(fleet: Fleet, opts: ChaosOptions, rng: random.Random, events: list[str]) -> None:
    if opts.kills <= 0:
        return
    interval = opts.duration / opts.kills
    for n in range(opts.kills):
        await anyio.sleep(interval * (0.5 + rng.random()) if n else interval / 2)
        victim = fleet.pick_victim(rng, min_uptime=2.0)
        if victim is None:
            continue
        await fleet.kill(victim)
        events.append(f"{time.strftime('%H:%M:%S')} SIGKILL {victim.key}")
        await anyio.sleep(0.2 + rng.random() * 0.8)
        await fleet.start(victim)


async def _disrupter(
    server: Server, opts: ChaosOptions, rng: random.Random, events: list[str]
) -> None:
    if opts.restarts <= 0:
        return
    interval = opts.duration / opts.restarts
    for _ in range(opts.restarts):
        await anyio.sleep(interval * (0.3 + 0.4 * rng.random()))
        what = await server.disrupt(rng, down_for=1.0 + 2.0 * rng.random())
        events.append(f"{time.strftime('%H:%M:%S')} {what}")
        await anyio.sleep(interval * 0.3)


async def _quiescent(js: JetStreamContext, labels: tuple[str, ...], within: float) -> bool:
    """True once the work streams are empty, ingest has nothing pending and the output is
    unchanged for three seconds; False after ``within`` seconds."""
    stable, last = 0, -1
    with anyio.move_on_after(within):
        while True:
            await anyio.sleep(1.0)
            try:
                work = 0
                out = 0
                for label in labels:
                    work += (await js.stream_info(stream_name("work", label))).state.messages
                    ingest = await js.consumer_info(stream_name("feeds", label), f"ingest-{label}")
                    work += ingest.num_pending + ingest.num_ack_pending
                    for role in ("enriched", "dlq"):
                        out += (await js.stream_info(stream_name(role, label))).state.messages
            except Exception as exc:  # a cluster electing leaders after a node came back
                log.info("quiescence check: %s", exc)
                stable = 0
                continue
            stable = stable + 1 if work == 0 and out == last else 0
            last = out
            if stable >= 3:
                return True
    return False


def service_env(opts: ChaosOptions, replicas: int) -> dict[str, str]:
    env = {
        "VIGIE_INFERENCE__ENGINE": opts.engine,
        "VIGIE_BUS__LABELS": ",".join(LABELS),
        "VIGIE_BUS__STREAM_REPLICAS": str(replicas),
        "VIGIE_BUS__STREAM_MAX_BYTES": str(256 * 1024 * 1024),
        # A service killed a few times in a row must not turn its message into a dead letter.
        "VIGIE_BUS__MAX_DELIVERIES": "20",
        "VIGIE_COLLATE__DEADLINE_FLASH": "60",
        "VIGIE_COLLATE__DEADLINE_ROUTINE": "120",
    }
    if opts.engine != "stand-in":
        # Generations take seconds on a CPU: the worker keeps them alive with in-progress acks.
        env["VIGIE_BUS__ACK_WAIT"] = "10"
    return env


async def wait_topology(url: str, env: dict[str, str]) -> None:
    """The deployment's topology provisioned as an operator does it (``vigie ops provision``),
    retried while a new cluster elects its leaders."""
    with anyio.fail_after(90.0):
        while True:
            try:
                await provision_topology(url, env)
                return
            except StackError as exc:
                log.info("provisioning: %s; retrying", exc)
                await anyio.sleep(0.5)


async def run_chaos(opts: ChaosOptions) -> ChaosReport:
    rng = random.Random(opts.seed)
    run = f"chaos{int(time.time())}"
    events: list[str] = []
    started = time.monotonic()
    async with AsyncExitStack() as stack:
        if opts.data_dir is None:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="vigie-chaos-"))
            data_dir = Path(tmp)
        else:
            data_dir = opts.data_dir
        server = Server(data_dir / "nats", opts.cluster, opts.sync_interval)
        await server.start()
        stack.push_async_callback(server.stop)
        # Services first stop (they drain through the server), then the server.
        nc: Client = await connect(server.url, name="vigie-chaos")
        stack.push_async_callback(nc.close)
        js = nc.jetstream()
        env = service_env(opts, server.replicas)
        await wait_topology(server.url, fleet_environment(env))
        # Every service of the pipeline; inference stays at one on a real engine (one model).
        tasks = await deployment_tasks(fleet_environment(env))
        replicas = dict.fromkeys(pipeline_services(tasks), opts.replicas)
        if opts.engine != "stand-in":
            replicas["inference"] = 1
        fleet = Fleet(server.url, data_dir / "logs", env, replicas)
        stack.push_async_callback(fleet.aclose)
        await fleet.start_all()
        publisher = Publisher(js, run, rng)
        async with anyio.create_task_group() as tg:
            tg.start_soon(fleet.watch)
            async with anyio.create_task_group() as chaos:
                chaos.start_soon(publisher.steady, opts.rate, opts.duration)
                chaos.start_soon(_killer, fleet, opts, rng, events)
                chaos.start_soon(_disrupter, server, opts, rng, events)
            settled = await _quiescent(js, LABELS, opts.settle_timeout)
            tg.cancel_scope.cancel()
        verdict = await judge(js, publisher.attempted, LABELS)
        single = server.cluster is None
        return ChaosReport(
            verdict=verdict,
            kills=fleet.kills,
            kills_by_service=dict(fleet.killed),
            server_restarts=server.disruptions if single else 0,
            node_losses=0 if single else server.disruptions,
            unexpected_exits=fleet.unexpected_exits,
            published=len(publisher.acked),
            seconds=time.monotonic() - started,
            settled=settled,
            events=events,
        )
    raise AssertionError("unreachable")
