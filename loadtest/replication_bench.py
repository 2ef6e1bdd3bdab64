"""JetStream throughput by durability setting and replication, same machine, same run.

For each server layout — one node (R1) or a local 3-node cluster (R3), each with
``sync_interval: always`` (the shipped setting) and with the server default (2 min) — publish
``--messages`` messages of ``--size`` bytes with 256 PubAcks in flight, then pull and ack them
in batches of 256. Usage::

    python -m loadtest.replication_bench [--messages 20000] [--size 512] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import anyio
import nats
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import ConsumerConfig, StreamConfig

from loadtest.chaos_fleet import Server

LAYOUTS = ((1, "always"), (1, "default"), (3, "always"), (3, "default"))


async def measure(nodes: int, sync: str, messages: int, size: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="vigie-repl-") as tmp:
        server = Server(Path(tmp), nodes, sync)
        await server.start()
        try:
            nc = await nats.connect(server.url.split(","))
            js = nc.jetstream()
            await js.add_stream(
                StreamConfig(name="BENCH", subjects=["bench.>"], num_replicas=nodes)
            )
            payload = os.urandom(size)
            sem = asyncio.Semaphore(256)

            async def one(i: int) -> None:
                async with sem:
                    await js.publish(
                        "bench.x", payload, headers={"Nats-Msg-Id": str(i)}, timeout=30
                    )

            started = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(messages)))
            publish_s = time.perf_counter() - started
            sub = await js.pull_subscribe(
                "bench.x", "reader", stream="BENCH", config=ConsumerConfig(max_ack_pending=4096)
            )
            got, started = 0, time.perf_counter()
            while got < messages:
                try:
                    batch = await sub.fetch(256, timeout=5)
                except NatsTimeoutError:
                    break
                await asyncio.gather(*(m.ack_sync() for m in batch))
                got += len(batch)
            consume_s = time.perf_counter() - started
            await nc.close()
        finally:
            await server.stop()
    return {
        "replicas": nodes,
        "sync_interval": sync,
        "messages": messages,
        "size": size,
        "publish_per_s": round(messages / publish_s),
        "pull_ack_per_s": round(got / consume_s),
    }


async def main_async(args: argparse.Namespace) -> list[dict[str, object]]:
    results = []
    for nodes, sync in LAYOUTS:
        result = await measure(nodes, sync, args.messages, args.size)
        print(
            f"R{nodes} sync_interval={sync:<8} publish {result['publish_per_s']:>7}/s  "
            f"pull+ack_sync {result['pull_ack_per_s']:>7}/s",
            flush=True,
        )
        results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="loadtest.replication_bench", description=__doc__)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--out", default="bench-results/replication.json")
    args = parser.parse_args(argv)
    results = anyio.run(main_async, args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    machine = f"{platform.node()} {platform.machine()} {os.cpu_count()} cpu"
    out.write_text(json.dumps({"machine": machine, "results": results}, indent=2) + "\n")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
