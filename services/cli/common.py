"""What the CLI commands share: the server they talk to, one connection, plain-text tables."""

from __future__ import annotations

import argparse
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import anyio
from nats.aio.client import Client
from nats.errors import MaxPayloadError, NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.errors import APIError, NoStreamResponseError

from bus.connect import BusUnreachable, connect
from bus.publish import PublishError, PublishReceipt
from services.config import LoadedConfig

CLIENT_NAME = "vigie-cli"


def add_nats_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--nats",
        metavar="URL",
        help="NATS server (default: nats.url, else nats://127.0.0.1:<nats.port>)",
    )


def nats_url(args: argparse.Namespace, loaded: LoadedConfig) -> str:
    given: str | None = getattr(args, "nats", None)
    if given:
        return given
    nats = loaded.config.nats
    return nats.url or f"nats://127.0.0.1:{nats.port}"


class _QuietFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


@asynccontextmanager
async def cli_connection(args: argparse.Namespace, loaded: LoadedConfig) -> AsyncIterator[Client]:
    """One connection for one command, closed at the end.

    The shared ``connect`` keeps retrying an unreachable first server forever (its client is
    built to reconnect without limit), which suits a service but not a command someone is
    waiting on: here the first connection gets ``nats.connect_timeout`` in all, and the client's
    per-attempt warnings are muted so the only output is BusUnreachable's one line.
    """
    url = nats_url(args, loaded)
    timeout = loaded.config.nats.connect_timeout
    bus_log = logging.getLogger("vigie.bus")
    quiet = _QuietFilter()
    bus_log.addFilter(quiet)
    try:
        with anyio.fail_after(timeout + 0.5):
            nc = await connect(url, name=CLIENT_NAME, connect_timeout=timeout)
    except TimeoutError:
        raise BusUnreachable(url, f"no answer within {timeout:g} s") from None
    finally:
        bus_log.removeFilter(quiet)
    try:
        yield nc
    finally:
        await nc.close()


async def publish_without_id(
    js: JetStreamContext,
    subject: str,
    payload: bytes,
    headers: dict[str, str],
    timeout: float = 5.0,
) -> PublishReceipt:
    """A JetStream publish with no ``Nats-Msg-Id`` (so no server-side de-duplication), its
    failures mapped to PublishError the way ``JetStreamPublisher`` maps them."""
    try:
        ack = await js.publish(subject, payload, timeout=timeout, headers=headers or None)
    except (NoStreamResponseError, NoRespondersError) as exc:
        raise PublishError(
            subject,
            "no stream captures this subject",
            recoverable=False,
            detail="check the label, kind and source tokens against the subject contract",
        ) from exc
    except MaxPayloadError as exc:
        raise PublishError(
            subject, "larger than the server's max payload", recoverable=False
        ) from exc
    except APIError as exc:
        description = str(getattr(exc, "description", "") or exc)
        full = "maximum" in description or "insufficient resources" in description
        raise PublishError(
            subject,
            "stream full" if full else "server refused the message",
            recoverable=full,
            detail=description,
        ) from exc
    except (NatsTimeoutError, TimeoutError) as exc:
        raise PublishError(subject, "no acknowledgement in time", recoverable=True) from exc
    return PublishReceipt(ack.stream, ack.seq, bool(ack.duplicate))


def table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], right: Sequence[int] = ()
) -> str:
    """Columns aligned on their widest cell; whole numbers (and the ``right`` columns) flush
    right so that magnitudes line up."""
    cells = [[str(c) for c in headers], *([_cell(c) for c in row] for row in rows)]
    numeric = [
        i in right or (bool(rows) and all(isinstance(row[i], int) for row in rows))
        for i in range(len(headers))
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(headers))]
    out = []
    for line in cells:
        parts = [
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(line, widths, numeric, strict=True)
        ]
        out.append("  ".join(parts).rstrip())
    return "\n".join(out)


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def shorten(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: max(limit - 1, 0)] + "…"
