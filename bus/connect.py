"""Connecting to NATS the way a long-running service must: reconnect forever, never give up."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
import nats
from nats.aio.client import Client

from bus.security.client import ClientSecurity

log = logging.getLogger("vigie.bus")


@dataclass
class BusUnreachable(Exception):
    """The server did not answer at start. Not recoverable by waiting inside the process."""

    url: str
    cause: str
    recoverable: bool = False

    def __str__(self) -> str:
        return (
            f"cannot reach NATS at {self.url} ({self.cause}) — start a server there, "
            "pass --nats URL of a running one, or run `vigie up` to start the embedded one"
        )


async def connect(
    url: str,
    *,
    name: str,
    connect_timeout: float = 5.0,
    reconnect_wait_max: float = 2.0,
    security: ClientSecurity | None = None,
) -> Client:
    """Connect once (failing fast with one clear error), then reconnect forever in the client.

    ``security``: nkey seed, TLS and inbox prefix of a secured server (``bus.security.client``)."""

    client: list[Client] = []

    async def on_disconnect() -> None:
        if client and (client[0].is_closed or client[0].is_draining):
            return  # our own drain or close, not an outage
        log.warning("disconnected from %s; reconnecting", url)

    async def on_reconnect() -> None:
        log.info("reconnected to %s", url)

    async def on_error(exc: Exception) -> None:
        log.warning("nats client error: %s", exc)

    try:
        # The client would retry the first connection forever too: bound it ourselves.
        with anyio.fail_after(connect_timeout + 1.0):
            nc = await nats.connect(
                # "nats://a:4222,nats://b:4222": the nodes of a cluster, any one will do.
                url.split(",") if "," in url else url,
                name=name,
                connect_timeout=connect_timeout,
                # Once connected, the client keeps reconnecting for as long as the service lives.
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=reconnect_wait_max,
                ping_interval=10,
                max_outstanding_pings=3,
                disconnected_cb=on_disconnect,
                reconnected_cb=on_reconnect,
                error_cb=on_error,
                **(security.connect_options() if security else {}),
            )
    except (OSError, TimeoutError, nats.errors.NoServersError) as exc:
        raise BusUnreachable(url, type(exc).__name__ if not str(exc) else str(exc)) from exc
    client.append(nc)
    return nc


@asynccontextmanager
async def connected(
    url: str, *, name: str, security: ClientSecurity | None = None, **kwargs: float
) -> AsyncIterator[Client]:
    """``async with connected(url, name=...) as nc``: drained on exit."""
    nc = await connect(url, name=name, security=security, **kwargs)
    try:
        yield nc
    finally:
        await close(nc)


async def close(nc: Client) -> None:
    """Drain (flush what is pending, then close); if the connection is already gone, close."""
    if nc.is_closed:
        return
    try:
        await nc.drain()
    except Exception:  # the connection may already be gone; closing is all that is left
        await nc.close()
