"""Start and stop a whole Vigie (`vigie up`) as a child process, for the load tester.

The load tester is a client: it starts the stack exactly as an operator would — ``vigie up``
with a fresh store in a temporary directory, on a free port — reads the URL it prints, and
stops it with SIGTERM (``vigie up`` stops its services and server on that signal, and dies with
this process if it is killed).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import nats

from bus.process import die_with_parent
from schemas import headers as H
from schemas.v1 import TextReport, json_encoder

_READY = re.compile(r"NATS ready at (\S+)")


class StackError(RuntimeError):
    pass


@asynccontextmanager
async def vigie_up(
    data_dir: Path,
    *,
    engine: str | None = None,
    config: str | None = None,
    env: Mapping[str, str] | None = None,
    log_file: Path | None = None,
    ready_timeout: float = 120.0,
) -> AsyncIterator[str]:
    """Yields the URL of a running stack; ``engine`` sets ``VIGIE_INFERENCE__ENGINE``."""
    child_env = {**os.environ, "VIGIE_LOG_LEVEL": "warning", **(env or {})}
    if engine:
        child_env["VIGIE_INFERENCE__ENGINE"] = engine
    argv = [sys.executable, "-m", "services.cli.main"]
    if config:
        argv += ["--config", config]
    argv += ["up", "--port", "0", "--data-dir", str(data_dir)]
    log = (log_file or data_dir / "vigie-up.log").open("ab")
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=log,
        env=child_env,
        preexec_fn=die_with_parent,
    )
    try:
        url = await _read_url(proc, ready_timeout, log_file or data_dir / "vigie-up.log")
        yield url
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 60)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        log.close()


async def _read_url(proc: asyncio.subprocess.Process, within: float, log: Path) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), deadline - time.monotonic())
        except TimeoutError:
            break
        if not line:
            break
        found = _READY.search(line.decode(errors="replace"))
        if found:
            return found.group(1)
    raise StackError(f"`vigie up` did not report a ready server; see {log}")


async def warm_up(url: str, label: str = "np", within: float = 300.0) -> float:
    """One FLASH report through the pipeline (every service up, the model loaded): seconds."""
    nc = await nats.connect(url)
    try:
        done = asyncio.Event()
        ident = f"warmup-{time.time_ns()}"

        async def on_event(msg: Any) -> None:
            if msgspec.json.decode(msg.data).get("publisher_id") == ident:
                done.set()

        await nc.subscribe(f"enriched.{label}.>", cb=on_event)
        started = time.perf_counter()
        report = TextReport(text="SPOTREP 251430ZNOV26: 2 BTR-82A at 31U DQ 48251 11932.")
        await nc.jetstream().publish(
            f"feeds.{label}.report.warmup",
            json_encoder.encode(report),
            headers={H.MSG_ID: ident, H.PRECEDENCE: "FLASH"},
        )
        try:
            await asyncio.wait_for(done.wait(), within)
        except TimeoutError:
            raise StackError(
                f"no enriched event for the warm-up report in {within:.0f} s"
            ) from None
        return time.perf_counter() - started
    finally:
        await nc.close()
