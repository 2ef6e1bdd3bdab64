"""Between the bus and the pages: the stores, and one bounded live stream per open page.

A page that cannot keep up (its stream's buffer full) is dropped, not waited for: its
EventSource reconnects and gets a fresh snapshot, so one slow browser never slows the others or
the bus.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from nats.aio.msg import Msg

from services.console.bus import decode_audit, decode_dead_letter, decode_enriched
from services.console.feed import Feed, Log
from services.console.http import sse_event
from services.console.views import audit_view, dead_letter_view, feed_item

log = logging.getLogger("vigie.console")

#: Events queued for one page before it is dropped (and reconnects).
CLIENT_BUFFER = 4096
#: Reports a page receives when it opens (newest first); the page keeps as many.
PAGE_LIMIT = 300


@dataclass
class Hub:
    feed: Feed = field(default_factory=Feed)
    dead: Log = field(default_factory=Log)
    audit: Log = field(default_factory=Log)
    clients: set[MemoryObjectSendStream[bytes]] = field(default_factory=set)
    received: int = 0
    dropped_clients: int = 0

    def depths(self) -> dict[str, int]:
        return {
            "feed": len(self.feed),
            "feed_bytes": self.feed.bytes,
            "dead": len(self.dead),
            "audit": len(self.audit),
            "pages": len(self.clients),
            "dropped_pages": self.dropped_clients,
        }

    def attach(self) -> tuple[MemoryObjectSendStream[bytes], MemoryObjectReceiveStream[bytes]]:
        send, receive = anyio.create_memory_object_stream[bytes](CLIENT_BUFFER)
        self.clients.add(send)
        return send, receive

    def detach(
        self, send: MemoryObjectSendStream[bytes], receive: MemoryObjectReceiveStream[bytes]
    ) -> None:
        self.clients.discard(send)
        send.close()
        receive.close()

    def broadcast(self, kind: str, doc: Any) -> None:
        data = sse_event(kind, doc)
        for client in list(self.clients):
            try:
                client.send_nowait(data)
            except anyio.WouldBlock:
                self.clients.discard(client)
                client.close()
                self.dropped_clients += 1
                log.warning("console: a page fell %d events behind; it will reload", CLIENT_BUFFER)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                self.clients.discard(client)

    def snapshot(self, hello: dict[str, Any]) -> list[bytes]:
        items = [feed_item(e) for e in self.feed.newest_first()[:PAGE_LIMIT]]
        return [
            sse_event("hello", hello),
            sse_event("snapshot", {"items": items, "counts": self.feed.counts()}),
            sse_event("dead", {"items": self.dead.newest_first()}),
            sse_event("audit", {"items": self.audit.newest_first()}),
        ]

    # ------------------------------------------------------------ from the bus

    async def on_enriched(self, label: str, msg: Msg) -> None:
        self.received += 1
        event = decode_enriched(msg.data)
        if event is None:
            return
        change = self.feed.add(event, len(msg.data))
        if change == "stale":
            return
        self.broadcast(
            "event", {"item": feed_item(event), "change": change, "counts": self.feed.counts()}
        )

    async def on_dead(self, label: str, msg: Msg) -> None:
        letter = decode_dead_letter(msg.data)
        try:
            seq: int | None = msg.metadata.sequence.stream
        except Exception:  # not a JetStream delivery: no sequence to show
            seq = None
        if letter is None:
            return
        view = dead_letter_view(letter, seq)
        self.dead.add(view)
        self.broadcast("dead", {"items": [view], "live": True})

    async def on_audit(self, label: str, msg: Msg) -> None:
        record = decode_audit(msg.data)
        if record is None:
            return
        view = audit_view(record)
        self.audit.add(view)
        self.broadcast("audit", {"items": [view], "live": True})
