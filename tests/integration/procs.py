"""Services as real processes (`vigie run`), for kill and drain tests."""

from __future__ import annotations

import asyncio
import os
import sys

FAST_ENV = {
    "VIGIE_BUS__ACK_WAIT": "2",
    "VIGIE_BUS__NAK_BACKOFF": "0.2,0.5",
    "VIGIE_BUS__DRAIN_TIMEOUT": "5",
    "VIGIE_BUS__STREAM_MAX_BYTES": str(32 * 1024 * 1024),
    "VIGIE_COLLATE__RECHECK_INTERVAL": "0.5",
    "VIGIE_LOG_LEVEL": "warning",
}


async def start_service(name: str, url: str, **env: str) -> asyncio.subprocess.Process:
    full = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")}
    full.update(FAST_ENV)
    full.update(env)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli.main",
        "run",
        name,
        "--nats",
        url,
        env=full,
        stdin=asyncio.subprocess.DEVNULL,
    )
