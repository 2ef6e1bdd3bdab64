"""Overload, short version: memory bounded, backlog kept in JetStream under its limits, and a
publisher refused by a full stream told so (the 10-minute run is a command: docs/BENCHMARKS.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nats
import pytest

from bus.provision import provision
from bus.topology import TopologySettings, build_topology
from loadtest.overload import OverloadOptions, run_overload


@pytest.mark.timeout(150)
async def test_ten_times_the_sustainable_rate_stays_bounded(tmp_path: Path) -> None:
    result = await run_overload(
        OverloadOptions(duration=45.0, warmup=15.0, calibration_reports=150, data_dir=tmp_path)
    )
    print(result.summary())
    assert result.died == 0, result.summary()
    assert result.within_limits, result.summary()
    assert all(g < 0.10 for g in result.growth().values()), result.summary()
    assert result.refused > 0 and "stream full" in result.first_refusal, result.summary()


def _publish(url: str, ident: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")}
    return subprocess.run(
        [sys.executable, "-m", "services.cli.main", "publish", "--subject",
         "feeds.np.report.full", "--id", ident, "--nats", url, "-"],
        input=f"report {ident} at 31U DQ 48251 11932", capture_output=True, text=True,
        env=env, timeout=60,
    )  # fmt: skip


async def test_publisher_refused_by_a_full_stream_gets_one_clear_line(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        await provision(
            nc.jetstream(), build_topology(TopologySettings(labels=("np",), stream_max_msgs=3))
        )
    finally:
        await nc.close()
    for i in range(3):
        assert _publish(nats_url, f"full-{i}").returncode == 0
    refused = _publish(nats_url, "full-3")
    assert refused.returncode != 0
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1, refused.stderr
    assert "stream full" in lines[0] and "feeds.np.report.full" in lines[0], lines[0]
