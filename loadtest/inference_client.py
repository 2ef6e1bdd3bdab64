"""A client of the engine over the bus, as the task services are: publish an InferenceRequest
on ``work.<label>.infer.<prec>``, receive its InferenceResult on the client's own subject.

Used by the benchmarks and tests; it speaks only the bus and the wire schemas. Its pullers run
in an anyio task group that lives as long as the client (``async with``).
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Sequence
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any

import anyio
from anyio.abc import TaskGroup
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


class ClientClosed(RuntimeError):
    """The client was closed before the answer came."""


class Answer:
    """The answer to one submitted request: ``await answer`` (once or more) gives it."""

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self._ready = anyio.Event()
        self._result: InferenceResult | None = None
        self._closed = False

    def done(self) -> bool:
        return self._ready.is_set()

    def set_result(self, result: InferenceResult) -> None:
        if not self._ready.is_set():
            self._result = result
            self._ready.set()

    def close(self) -> None:
        if not self._ready.is_set():
            self._closed = True
            self._ready.set()

    async def wait(self) -> InferenceResult:
        await self._ready.wait()
        if self._result is None:
            raise ClientClosed(f"request {self.request_id}: the client closed before its answer")
        return self._result

    def __await__(self) -> Generator[Any, None, InferenceResult]:
        return self.wait().__await__()


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
        self._waiting: dict[str, Answer] = {}
        #: Every answer received, in arrival order (a redelivered duplicate shows up twice).
        self.received: list[InferenceResult] = []
        self._stack: AsyncExitStack | None = None
        self._pullers: TaskGroup | None = None

    async def __aenter__(self) -> InferenceClient:
        subs = []
        for spec in self._consumers:
            await self._js.add_consumer(spec.stream, consumer_config(spec))
            subs.append(
                await self._js.pull_subscribe_bind(durable=spec.durable, stream=spec.stream)
            )
        async with AsyncExitStack() as stack:
            self._pullers = await stack.enter_async_context(anyio.create_task_group())
            for sub in subs:
                self._pullers.start_soon(self._pull, sub)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> bool:
        suppress = False
        try:
            if self._pullers is not None and self._stack is not None:
                self._pullers.cancel_scope.cancel()
                suppress = bool(await self._stack.__aexit__(et, e, tb))
        finally:
            self._pullers = self._stack = None
            for answer in self._waiting.values():
                answer.close()
        return suppress

    async def submit(self, request: InferenceRequest) -> Answer:
        """Publish (durably, deduplicated by request id); awaiting the result gives the answer."""
        fut = Answer(request.request_id)
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
                await anyio.sleep(0.1)
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
