"""`vigie up`: embedded server + supervised service processes; Ctrl-C leaves no process behind."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import nats
import pytest_asyncio

from services.runtime import SERVICES
from tests.integration.procs import FAST_ENV
from tests.support import eventually

#: The embedded server and one process per service.
PROCESSES = 1 + len(SERVICES)


def children_of(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(x) for x in out.stdout.split()]


def cmdline(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


_started: list[asyncio.subprocess.Process] = []


@pytest_asyncio.fixture(autouse=True)
async def _reap() -> AsyncIterator[None]:
    """A failed assertion must not leave `vigie up` (and its engine) running."""
    yield
    while _started:
        proc = _started.pop()
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def start_up(tmp_path: Path) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")} | FAST_ENV
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli.main", "up", "--port", "0",
        "--data-dir", str(tmp_path / "data"),
        env=env, stdout=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    _started.append(proc)
    return proc


async def test_up_restarts_a_dead_service_and_stops_everything(tmp_path: Path) -> None:
    proc = await start_up(tmp_path)
    assert proc.stdout is not None
    with anyio.fail_after(60):
        line = (await proc.stdout.readline()).decode()
    match = re.search(r"NATS ready at (nats://\S+)", line)
    assert match, line
    url = match.group(1)
    await eventually(lambda: len(children_of(proc.pid)) >= PROCESSES, within=30)
    before = set(children_of(proc.pid))
    services = [p for p in before if b"run" in cmdline(p)]
    assert len(services) == len(SERVICES)
    victim = services[0]
    os.kill(victim, signal.SIGKILL)
    await eventually(
        lambda: not (victim in children_of(proc.pid) or len(children_of(proc.pid)) < PROCESSES),
        within=30,
    )
    # The restarted service does its job: a report still becomes an enriched event.
    nc = await nats.connect(url)
    js = nc.jetstream()
    sub = await js.subscribe("enriched.np.>", stream="ENRICHED_NP", ordered_consumer=True)
    await js.publish("feeds.np.report.up", b"Two trucks at 31U DQ 48251 11932.")
    # Three model tasks on the CPU engine: seconds on an idle machine, more on a busy one.
    msg = await sub.next_msg(timeout=180)
    assert b"31UDQ4825111932" in msg.data
    await nc.close()
    everything = set(children_of(proc.pid))
    proc.send_signal(signal.SIGINT)
    with anyio.fail_after(40):
        assert await proc.wait() == 0
    await anyio.sleep(0.5)
    assert [p for p in everything | before if alive(p)] == []


async def test_up_killed_outright_leaves_no_process(tmp_path: Path) -> None:
    proc = await start_up(tmp_path)
    assert proc.stdout is not None
    with anyio.fail_after(60):
        assert b"NATS ready" in await proc.stdout.readline()
    await eventually(lambda: len(children_of(proc.pid)) >= PROCESSES, within=30)
    children = children_of(proc.pid)
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    # The kernel's parent-death signal stops the server and every service.
    await eventually(lambda: not any(alive(p) for p in children), within=20)
