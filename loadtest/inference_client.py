"""A client of the engine over the bus, as the task services are: publish an InferenceRequest
on ``work.<label>.infer.<prec>``, receive its InferenceResult on the client's own subject.

Used by the benchmarks and tests; it speaks only the bus and the wire schemas.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from nats.js import JetStreamContext

from bus.provision import consumer_config
from bus.publish import JetStreamPublisher
from bus.topology import TopologySettings, infer_subject, inferred_consumers
from schemas.v1 import (
    InferenceRequest,
    InferenceResult,
    inference_result_decoder,
    json_encoder,
)

log = logging.getLogger("vigie.loadtest.client")


class InferenceClient:
    """``async with InferenceClient(js, "bench") as client: await client.ask(request)``."""

    def __init__(
        self,
        js: JetStreamContext,
        client: str,
        *,
        labels: Sequence[str] = ("np",),
        settings: TopologySettings | None = None,
    ) -> None:
        self._js = js
        self.client = client
        self._publisher = JetStreamPublisher(js)
        self._consumers = [
            c
            for c in inferred_consumers(client, settings or TopologySettings(labels=tuple(labels)))
            if c.stream.rsplit("_", 1)[1].lower() in labels
        ]
        self._waiting: dict[str, asyncio.Future[InferenceResult]] = {}
        #: Every answer received, in arrival order (a redelivered duplicate shows up twice).
        self.received: list[InferenceResult] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> InferenceClient:
        subs = []
        for spec in self._consumers:
            await self._js.add_consumer(spec.stream, consumer_config(spec))
            subs.append(
                await self._js.pull_subscribe_bind(durable=spec.durable, stream=spec.stream)
            )
        self._tasks = [asyncio.create_task(self._pull(sub)) for sub in subs]
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for fut in self._waiting.values():
            fut.cancel()

    async def submit(self, request: InferenceRequest) -> asyncio.Future[InferenceResult]:
        """Publish (durably, deduplicated by request id); the future resolves with the answer."""
        fut = asyncio.get_running_loop().create_future()
        self._waiting[request.request_id] = fut
        try:
            await self._publisher.publish(
                infer_subject(request.label, request.precedence),
                json_encoder.encode(request),
                msg_id=f"infer:{request.request_id}",
            )
        except BaseException:
            del self._waiting[request.request_id]
            raise
        return fut

    async def ask(self, request: InferenceRequest) -> InferenceResult:
        return await (await self.submit(request))

    async def _pull(self, sub: Any) -> None:
        # Idle: long-poll for one (a long-poll for many holds the first back until the batch
        # fills). Busy: take what is there at once.
        want = 1
        while True:
            try:
                msgs = await sub.fetch(want, timeout=1.0 if want == 1 else 0.005)
            except TimeoutError:
                want = 1
                continue
            except Exception:
                log.debug("fetch failed", exc_info=True)
                await asyncio.sleep(0.1)
                continue
            want = 64 if msgs else 1
            for msg in msgs:
                try:
                    result = inference_result_decoder.decode(msg.data)
                except Exception:
                    log.warning("not an InferenceResult on %s; dropped", msg.subject)
                    await msg.term()
                    continue
                self.received.append(result)
                fut = self._waiting.pop(result.request_id, None)
                if fut is not None and not fut.done():
                    fut.set_result(result)
                await msg.ack()
