"""What the CLI commands share: the server they talk to, one connection, plain-text tables."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

import anyio
from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import APIError

from bus.connect import BusUnreachable, connect
from bus.publish import PublishError
from services.config.load import LoadedConfig
from services.security.credentials import client_security

CLIENT_NAME = "vigie-cli"
#: What a JetStream API call raises when the server cannot or will not answer it.
JETSTREAM_ERRORS = (APIError, NatsTimeoutError, NoRespondersError, TimeoutError)


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


class _Muted(logging.Filter):
    """Swallows the bus logger's warnings (``with _Muted() as muted``), keeping the last cause.

    A command's own connect and close are not news: the client's per-attempt errors and the
    "disconnected" that every close logs would only bury the one line that matters.
    """

    last: str | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        self.last = str(record.args[0]) if isinstance(record.args, tuple) else None
        return False

    def __enter__(self) -> _Muted:
        logging.getLogger("vigie.bus").addFilter(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        logging.getLogger("vigie.bus").removeFilter(self)


class cli_connection:
    """One connection for one command, closed at the end.

    The shared ``connect`` keeps retrying an unreachable first server forever (its client is
    built to reconnect without limit), which suits a service but not a command someone is
    waiting on: here the first connection gets ``nats.connect_timeout`` in all, and the client's
    per-attempt warnings are muted so that the only output is BusUnreachable's one line.

    A class rather than ``@asynccontextmanager``: that one assigns ``__traceback__`` to the
    exception leaving the block, which the frozen PublishError and BusUnreachable refuse.
    """

    def __init__(self, args: argparse.Namespace, loaded: LoadedConfig) -> None:
        self.url = nats_url(args, loaded)
        self.timeout = loaded.config.nats.connect_timeout
        self.nats = loaded.config.nats
        self._nc: Client | None = None

    async def __aenter__(self) -> Client:
        with _Muted() as muted:
            try:
                with anyio.fail_after(self.timeout + 0.5):
                    self._nc = await connect(
                        self.url,
                        name=CLIENT_NAME,
                        connect_timeout=self.timeout,
                        security=client_security(self.nats),
                    )
            except TimeoutError:
                cause = f"{muted.last or 'no answer'}; gave up after {self.timeout:g} s"
                raise BusUnreachable(self.url, cause) from None
        return self._nc

    async def __aexit__(self, *exc_info: object) -> None:
        if self._nc is not None:
            with _Muted():
                await self._nc.close()


def check_size(nc: Client, subject: str, payload: bytes) -> None:
    """Refuse what the client would refuse anyway, but as a PublishError (one line)."""
    if len(payload) > nc.max_payload:
        raise PublishError(
            subject,
            "too large for the server",
            recoverable=False,
            detail=f"{len(payload)} bytes, max_payload {nc.max_payload}",
        )


def fail(message: str, code: int = 1) -> int:
    """One line on stderr, as main.py prints the errors it knows; returns the exit status."""
    print(f"vigie: {message}", file=sys.stderr, flush=True)
    return code


def describe_error(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


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
