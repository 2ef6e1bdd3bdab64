"""A console on a real nats-server, and a plain client of its HTTP and event stream.

Events are built with the real pattern finders (``services.domain``), so entity offsets are the
ones the pipeline would publish; they are published on the enriched subjects as collate does.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import orjson
from anyio.streams.buffered import BufferedByteReceiveStream
from nats.aio.client import Client

from bus.topology import Topology, enriched_subject
from schemas.v1 import EnrichedEvent, Flag, TaskOutcome, json_encoder
from services.console.bus import ConsoleBus, Reader
from services.console.server import ConsoleServer, ConsoleSettings
from services.domain.patterns import find_pattern_entities

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def make_event(
    report_id: str,
    text: str,
    *,
    label: str = "np",
    precedence: str = "ROUTINE",
    revision: int = 1,
    partial: bool = False,
    translation: str | None = None,
    summary: str | None = None,
    flags: tuple[str, ...] = (),
    source: str = "patrol",
    outputs: dict[str, dict[str, Any]] | None = None,
) -> EnrichedEvent:
    return EnrichedEvent(
        report_id=report_id,
        revision=revision,
        partial=partial,
        label=label,  # type: ignore[arg-type]
        kind="report",
        source=source,
        precedence=precedence,  # type: ignore[arg-type]
        original_text=text,
        normalised_text=text,
        language="fr",
        language_confidence=0.99,
        entities=find_pattern_entities(text, T0),
        tasks=[TaskOutcome(task="wordcount", status="ok")],
        ingested_at=T0,
        published_at=dt.datetime.now(dt.UTC),
        trace_id=f"{abs(hash(report_id)):032x}"[:32],
        provenance=[],
        translation=translation,
        summary=summary,
        target_language="en" if translation else None,
        flags=[Flag(code=code, detail=f"{code} detail") for code in flags],
        outputs=outputs or {},
    )


async def publish(nc: Client, event: EnrichedEvent) -> None:
    subject = enriched_subject(event.label, event.kind, event.source)
    await nc.jetstream().publish(
        subject,
        json_encoder.encode(event),
        headers={"Nats-Msg-Id": f"{event.report_id}:{event.revision}"},
    )


@dataclass
class Running:
    server: ConsoleServer
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@asynccontextmanager
async def running_console(
    nc: Client,
    topology: Topology,
    identity: str | None,
    *,
    replay: int = 50,
    candidates: tuple[str, ...] | None = None,
    settings: ConsoleSettings | None = None,
) -> AsyncIterator[Running]:
    reader = Reader(identity)
    bus = ConsoleBus(nc, topology, reader, replay=replay)
    await bus.probe(candidates or reader.candidates(topology))
    s = settings or ConsoleSettings(port=0, replay=replay)
    server = ConsoleServer(s, bus)
    async with anyio.create_task_group() as tg:
        port = await tg.start(server.run)
        yield Running(server, port)
        tg.cancel_scope.cancel()


async def http(
    port: int,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    host: str | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One raw HTTP/1.1 request (so that Host and Origin are exactly what the test says)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host or f'127.0.0.1:{port}'}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        await stream.send(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        chunks = []
        with anyio.fail_after(10):
            try:
                while True:
                    chunks.append(await stream.receive())
            except anyio.EndOfStream:
                pass
    raw = b"".join(chunks)
    head, _, payload = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    return int(status_line.split(" ")[1]), parsed, payload


async def session_token(port: int) -> str:
    status, _, page = await http(port, "GET", "/")
    assert status == 200
    found = re.search(rb'name="vigie-token" content="([^"]+)"', page)
    assert found is not None
    return found.group(1).decode()


@dataclass
class EventStream:
    """The page's live stream, read as a browser would."""

    events: list[tuple[str, Any]] = field(default_factory=list)
    _new: anyio.Event = field(default_factory=anyio.Event)

    async def read(self, port: int, token: str, *, task_status: Any) -> None:
        async with await anyio.connect_tcp("127.0.0.1", port) as stream:
            await stream.send(
                f"GET /events?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
            )
            buffered = BufferedByteReceiveStream(stream)
            head = await buffered.receive_until(b"\r\n\r\n", 8192)
            assert head.startswith(b"HTTP/1.1 200"), head
            task_status.started()
            while True:
                block = await buffered.receive_until(b"\n\n", 16 * 1024 * 1024)
                if block.startswith(b":"):
                    continue
                kind, data = b"", b""
                for line in block.split(b"\n"):
                    if line.startswith(b"event: "):
                        kind = line[7:]
                    elif line.startswith(b"data: "):
                        data = line[6:]
                self.events.append((kind.decode(), orjson.loads(data)))
                self._new.set()
                self._new = anyio.Event()

    def items(self) -> list[tuple[str, dict[str, Any]]]:
        """(change, item) of every report event received, in order (snapshot first)."""
        out: list[tuple[str, dict[str, Any]]] = []
        for kind, doc in self.events:
            if kind == "snapshot":
                out += [("replayed", it) for it in reversed(doc["items"])]
            elif kind == "event":
                out.append((doc["change"], doc["item"]))
        return out

    async def wait_for(self, predicate: Any, within: float = 5.0) -> None:
        with anyio.fail_after(within):
            while not predicate(self):
                await self._new.wait()
