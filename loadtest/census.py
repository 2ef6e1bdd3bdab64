"""What the bus carries per report: every message the server routes, by kind, while a backlog of
reports goes through the whole pipeline (stand-in engine, one process per service: ingest, each
task of the deployment's ``ingest.tasks``, inference, collate).

A core subscription on ``>`` sees every publish (outputs, state writes, settlements, fetch and
API requests, PubAcks and replies) and, through the fetchers' inboxes, every message a pull
consumer delivers (told apart by its ``$JS.ACK`` reply subject). The tally explains the bus
overhead benchmark: how many server operations one report costs, and which. Usage::

    python -m loadtest.census [--reports 300] [--env VAR=VALUE ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import anyio
import nats
from nats.aio.msg import Msg

from bus.embedded import EmbeddedNats
from loadtest.overhead_bench import LABEL
from loadtest.spine_bench import preload, start_processes
from loadtest.stack import deployment_tasks, pipeline_services, provision_topology


def kind_of(subject: str, data: bytes, reply: str = "") -> str:
    """The kind of server operation a message on ``subject`` is."""
    if reply.startswith("$JS.ACK."):
        return "delivery to a fetcher"
    if subject.startswith("$JS.ACK."):
        return "settle " + (data[:5].decode(errors="replace").strip() or "+ACK")
    if subject.startswith("$JS.API.CONSUMER.MSG.NEXT."):
        return "fetch request"
    if subject.startswith(("$JS.API.DIRECT.GET", "$JS.API.STREAM.MSG.GET")):
        return "state read"
    if subject.startswith("$KV."):
        return "state write " + subject.split(".")[1]
    if subject.startswith("$JS.API."):
        return "API " + ".".join(subject.split(".")[2:4])
    if subject.startswith("$JS.EVENT"):
        return "advisory"
    if subject.startswith("_INBOX"):
        return "reply (PubAck, state read answer)"
    tokens = subject.split(".")
    return "publish " + ".".join(tokens[:1] + tokens[2:3])


async def census(reports: int, extra_env: dict[str, str]) -> tuple[Counter[str], int, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")}
    env.update(
        VIGIE_LOG_LEVEL="warning", VIGIE_BUS__LABELS=LABEL, VIGIE_INFERENCE__ENGINE="stand-in"
    )
    env.update(extra_env)
    counts: Counter[str] = Counter()
    first_revisions: set[str] = set()
    all_in = anyio.Event()
    services = pipeline_services(await deployment_tasks(env))
    with tempfile.TemporaryDirectory(prefix="vigie-census-") as tmp:
        env.setdefault("VIGIE_TELEMETRY__DIR", str(Path(tmp) / "telemetry"))
        async with EmbeddedNats(Path(tmp) / "nats") as server:
            await provision_topology(server.url, env)
            nc = await nats.connect(server.url, pending_size=512 * 1024 * 1024)
            js = nc.jetstream()

            async def tally(msg: Msg) -> None:
                counts[kind_of(msg.subject, msg.data, msg.reply)] += 1
                msg_id = (msg.headers or {}).get("Nats-Msg-Id", "")
                if msg.subject.startswith("enriched.") and msg_id.endswith(":r1"):
                    first_revisions.add(msg_id)
                    if len(first_revisions) >= reports:
                        all_in.set()

            argv = [sys.executable, "-m", "services.cli.main", "run"]
            procs = await start_processes(
                [[*argv, s, "--nats", server.url] for s in services], env, Path(tmp) / "logs"
            )
            await nc.subscribe(">", cb=tally, pending_msgs_limit=-1, pending_bytes_limit=-1)
            await anyio.sleep(5)  # the services start; their start-up is not counted
            counts.clear()
            start = time.monotonic()
            await preload(js, f"feeds.{LABEL}.report.census", [f"c-{i}" for i in range(reports)])
            # A timeout is reported below: fewer enriched than sent.
            with anyio.move_on_after(600):
                await all_in.wait()
            seconds = time.monotonic() - start
            await anyio.sleep(2)
            for _name, proc in procs:
                proc.terminate()
            for _name, proc in procs:
                await proc.wait()
            await nc.close()
    return counts, len(first_revisions), seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="loadtest.census", description=__doc__)
    parser.add_argument("--reports", type=int, default=300)
    parser.add_argument("--env", action="append", default=[], metavar="VAR=VALUE")
    args = parser.parse_args(argv)
    extra = dict(a.partition("=")[::2] for a in args.env)
    counts, done, seconds = anyio.run(census, args.reports, extra)
    print(f"{done}/{args.reports} reports enriched in {seconds:.1f} s; per report:")
    for name, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        print(f"{n / args.reports:8.2f}  {name}")
    print(f"{sum(counts.values()) / args.reports:8.2f}  in all")
    return 0 if done == args.reports else 1


if __name__ == "__main__":
    raise SystemExit(main())
