"""`vigie up` (embedded server + every service, supervised) and `vigie run SERVICE`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path

import anyio
from nats.aio.msg import Msg

from bus.cluster import EmbeddedCluster
from bus.connect import connected
from bus.embedded import EmbeddedNats, free_port
from bus.process import die_with_parent
from bus.topology import build_topology
from schemas.headers import MSG_ID
from schemas.v1 import EnrichedEvent, enriched_decoder
from services.cli.common import add_nats_option, fail, nats_url
from services.cli.demo_feed import DEMO_FEED
from services.config.load import LoadedConfig
from services.config.schema import topology_settings
from services.runtime import SERVICES, provision_with_retry, run_service, service_names

log = logging.getLogger("vigie.up")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    up = sub.add_parser("up", help="start NATS (embedded unless --nats) and every service")
    up.add_argument(
        "--port",
        type=int,
        help="client port of the embedded server (default nats.port; 0 picks a free one)",
    )
    up.add_argument("--data-dir", help="store of the embedded server (default nats.data_dir)")
    up.add_argument("--nats", metavar="URL", help="use this server instead of starting one")
    up.add_argument(
        "--cluster",
        type=int,
        choices=(3, 5),
        metavar="N",
        help="embedded JetStream cluster of N nodes (3 or 5), streams with N replicas",
    )
    up.add_argument("--demo", action="store_true", help="publish a demo feed, print its events")
    up.add_argument("--once", action="store_true", help="with --demo: stop after the events")
    up.set_defaults(func=cmd_up)
    run = sub.add_parser("run", help="run one service against a running server")
    run.add_argument(
        "service",
        metavar="SERVICE",
        help=f"one of {', '.join(SERVICES)}, or a task of tasks.extra_rows",
    )
    add_nats_option(run)
    run.set_defaults(func=cmd_run)


async def cmd_run(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    names = service_names(loaded.config)
    if args.service not in names:
        return fail(f"unknown service {args.service!r}: choose one of {', '.join(names)}")
    await run_service(args.service, nats_url(args, loaded), loaded.config)
    return 0


@dataclass
class Supervisor:
    """Runs each service as its own process and restarts the ones that die."""

    url: str
    config_path: Path | None
    stop_timeout: float
    stopping: anyio.Event = field(default_factory=anyio.Event)
    children: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)
    #: The services' environment (None: ours).
    env: dict[str, str] | None = None

    def argv(self, name: str) -> list[str]:
        argv = [sys.executable, "-m", "services.cli.main"]
        if self.config_path:
            argv += ["--config", str(self.config_path)]
        return [*argv, "run", name, "--nats", self.url]

    async def supervise(self, name: str) -> None:
        backoff = 0.5
        while not self.stopping.is_set():
            started = time.monotonic()
            proc = await asyncio.create_subprocess_exec(
                *self.argv(name),
                stdin=asyncio.subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,  # Ctrl-C reaches us; we hand SIGTERM on, once
                preexec_fn=die_with_parent,
            )
            self.children[name] = proc
            if self.stopping.is_set():  # stop() ran while this child was being started
                proc.send_signal(signal.SIGTERM)
            code = await proc.wait()
            if self.stopping.is_set():
                return
            self.restarts[name] = self.restarts.get(name, 0) + 1
            # A service that ran for a while gets a quick restart; a crash loop backs off.
            backoff = 0.5 if time.monotonic() - started > 30 else min(backoff * 2, 15.0)
            log.warning(
                "%s exited with code %s; restart %d in %.1fs",
                name,
                code,
                self.restarts[name],
                backoff,
            )
            await anyio.sleep(backoff)

    async def stop(self) -> None:
        self.stopping.set()
        for proc in self.children.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        with anyio.move_on_after(self.stop_timeout):
            for proc in self.children.values():
                await proc.wait()
        for name, proc in self.children.items():
            if proc.returncode is None:
                log.warning("%s did not stop in %.0fs; killing", name, self.stop_timeout)
                proc.kill()
                await proc.wait()


async def cmd_up(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    cfg = loaded.config
    settings, env = topology_settings(cfg), None
    async with AsyncExitStack() as stack:
        url = args.nats or cfg.nats.url
        if args.cluster and not args.nats:
            cluster = await stack.enter_async_context(
                EmbeddedCluster(
                    Path(args.data_dir or cfg.nats.data_dir),
                    size=args.cluster,
                    sync_interval=cfg.nats.sync_interval,
                    host=cfg.nats.host,
                )
            )
            url = cluster.url
            # The services provision too: they must ask for the same number of replicas.
            settings = replace(settings, stream_replicas=args.cluster)
            env = os.environ | {"VIGIE_BUS__STREAM_REPLICAS": str(args.cluster)}
        elif url is None:
            port = cfg.nats.port if args.port is None else args.port
            server = await stack.enter_async_context(
                EmbeddedNats(
                    Path(args.data_dir or cfg.nats.data_dir),
                    port=port or free_port(cfg.nats.host),
                    sync_interval=cfg.nats.sync_interval,
                    host=cfg.nats.host,
                )
            )
            url = server.url
        async with connected(url, name="vigie-up") as nc:
            report = await provision_with_retry(nc.jetstream(), build_topology(settings))
        log.info(
            "topology: %d created, %d updated, %d unchanged",
            len(report.created),
            len(report.updated),
            len(report.unchanged),
        )
        if args.data_dir and cfg.telemetry.dir is None:
            # The services' file export goes under the data dir given here, not the config's.
            telemetry = Path(args.data_dir) / "telemetry"  # children share our cwd
            env = (env or dict(os.environ)) | {"VIGIE_TELEMETRY__DIR": str(telemetry)}
        supervisor = Supervisor(url, loaded.path, cfg.bus.drain_timeout + 5.0, env=env)
        async with anyio.create_task_group() as tg:
            names = service_names(cfg)
            for name in names:
                tg.start_soon(supervisor.supervise, name)
            print(
                f"vigie: NATS ready at {url} — services: {', '.join(names)} "
                "(Ctrl-C stops everything)",
                flush=True,
            )
            done = anyio.Event()
            if args.demo:
                tg.start_soon(_demo, url, done, args.once)
            tg.start_soon(_wait_for_signal, done)
            await done.wait()
            await supervisor.stop()
            tg.cancel_scope.cancel()
    print("vigie: stopped", flush=True)
    return 0


async def _wait_for_signal(done: anyio.Event) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            done.set()
            return


#: Every demo report runs through three model tasks on the CPU engine: minutes on two cores.
DEMO_WAIT = 600.0


async def _demo(url: str, done: anyio.Event, once: bool) -> None:
    from services.cli.inspect import format_enriched

    events: list[EnrichedEvent] = []
    complete: set[str] = set()
    all_seen = anyio.Event()

    async def on_event(msg: Msg) -> None:
        event = enriched_decoder.decode(msg.data)
        events.append(event)
        print(format_enriched(msg.subject, event), flush=True)
        if not event.partial:
            complete.add(event.report_id)
        if len(complete) >= len(DEMO_FEED):
            all_seen.set()

    async with connected(url, name="vigie-demo") as nc:
        await nc.subscribe("enriched.>", cb=on_event)
        js = nc.jetstream()
        # Ids unique to this run, so a second demo on the same store is not dropped as repeats.
        run = f"{int(time.time())}"
        for subject, payload, headers in DEMO_FEED:
            hdrs = {k: f"{v}-{run}" if k == MSG_ID else v for k, v in headers.items()}
            ack = await js.publish(subject, payload, headers=hdrs)
            print(
                f"published {subject} → {ack.stream} seq {ack.seq}"
                f"{' (duplicate)' if ack.duplicate else ''}",
                flush=True,
            )
        with anyio.move_on_after(DEMO_WAIT):
            await all_seen.wait()
    if len(complete) < len(DEMO_FEED):
        print(
            f"vigie: demo: {len(complete)} of {len(DEMO_FEED)} reports complete within "
            f"{DEMO_WAIT:.0f} s ({len(events)} events; a partial event is published at a "
            "report's deadline, the rest follows as a revision)",
            flush=True,
        )
    else:
        print(f"vigie: demo: {len(complete)} reports enriched ({len(events)} events)", flush=True)
    if once:
        done.set()
