"""`vigie up --cluster 3`: three embedded nodes, streams with three replicas, services on them;
Ctrl-C leaves no process behind."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import nats
import pytest
import pytest_asyncio

from tests.integration.procs import FAST_ENV
from tests.integration.test_up import alive, children_of

_started: list[asyncio.subprocess.Process] = []


@pytest_asyncio.fixture(autouse=True)
async def _reap() -> AsyncIterator[None]:
    """A failed assertion must not leave `vigie up` (its servers and services) running."""
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


@pytest.mark.timeout(150)
async def test_up_cluster_replicates_and_survives_a_node(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")} | FAST_ENV
    env |= {"VIGIE_INFERENCE__ENGINE": "stand-in", "VIGIE_BUS__LABELS": "np"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli.main", "up", "--cluster", "3",
        "--data-dir", str(tmp_path / "data"),
        env=env, stdout=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    _started.append(proc)
    assert proc.stdout is not None
    with anyio.fail_after(90):
        line = (await proc.stdout.readline()).decode()
    match = re.search(r"NATS ready at (\S+)", line)
    assert match, line
    urls = match.group(1).split(",")
    assert len(urls) == 3
    nc = await nats.connect(urls)
    try:
        js = nc.jetstream()
        info = await js.stream_info("FEEDS_NP")
        assert info.config.num_replicas == 3
        assert info.cluster is not None and len(info.cluster.replicas or []) == 2
        sub = await js.subscribe("enriched.np.>", stream="ENRICHED_NP", ordered_consumer=True)
        await js.publish("feeds.np.report.cl", b"Two trucks at 31U DQ 48251 11932.",
                         headers={"Nats-Msg-Id": "cl-1"})  # fmt: skip
        msg = await sub.next_msg(timeout=60)
        assert b"31UDQ4825111932" in msg.data
    finally:
        await nc.close()
    everything = children_of(proc.pid)
    assert len(everything) >= 3 + 6
    proc.send_signal(signal.SIGINT)
    with anyio.fail_after(60):
        assert await proc.wait() == 0
    await anyio.sleep(0.5)
    assert [p for p in everything if alive(p)] == []
