"""The baseline relay: pull from RELAY_IN, publish to RELAY_OUT (await PubAck), ack.

Plain nats-py with the same batching as Vigie's worker loop, and nothing else: the floor that
any JetStream service consuming and producing durably pays on the same server.
Run: ``python -m loadtest.relay URL`` (SIGTERM stops it).
"""

from __future__ import annotations

import asyncio
import signal
import sys

import nats
from nats.aio.msg import Msg


async def relay(url: str, batch: int = 64) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    sub = await js.pull_subscribe_bind(durable="relay", stream="RELAY_IN")
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)

    async def one(msg: Msg) -> None:
        headers = dict(msg.headers or {})
        await js.publish("relay.out", msg.data, headers=headers)
        await msg.ack()

    while not stop.is_set():
        try:
            msgs = await sub.fetch(batch, timeout=1.0)
        except TimeoutError:
            continue
        await asyncio.gather(*(one(m) for m in msgs))
    await nc.drain()


if __name__ == "__main__":
    asyncio.run(relay(sys.argv[1]))
    sys.exit(0)
