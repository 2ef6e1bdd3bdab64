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


#: What tests/integration/pipeline.py's fast_config sets: the spine without an engine.
SPINE_ENV = {"VIGIE_INGEST__TASKS": "extract", "VIGIE_TASKS__EXTRACT_WITH_MODEL": "false"}
#: Services started without a data dir would write their telemetry into the working copy.
QUIET_ENV = {"VIGIE_TELEMETRY__FILE_EXPORT": "false"}


async def start_service(name: str, url: str, **env: str) -> asyncio.subprocess.Process:
    full = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")}
    full.update(FAST_ENV)
    full.update(SPINE_ENV)
    full.update(QUIET_ENV)
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
