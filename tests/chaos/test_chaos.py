"""A short, bounded chaos run: services SIGKILLed mid-batch and the server crashed under load,
then the verdict by id (the full runs are `vigie chaos` commands, see docs/BENCHMARKS.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtest.chaos import ChaosOptions, run_chaos
from loadtest.chaos_fleet import read_rss_kib


@pytest.mark.timeout(150)
async def test_kills_and_server_restarts_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    # run_chaos owns every process it starts and reaps them all on its way out, failed or not.
    report = await run_chaos(
        ChaosOptions(
            kills=10,
            restarts=2,
            duration=30.0,
            rate=4.0,
            seed=7,
            settle_timeout=60.0,
            data_dir=tmp_path,
        )
    )
    print(report.summary())
    assert report.settled, report.summary()
    assert (report.verdict.lost, report.verdict.duplicated) == (0, 0), report.summary()
    assert report.kills == 10 and report.server_restarts == 2
    assert report.published >= 100
    assert report.verdict.unknown == 0


def test_rss_of_a_live_and_of_a_gone_process() -> None:
    import os

    assert (read_rss_kib(os.getpid()) or 0) > 1000
    assert read_rss_kib(2**22 + 12345) is None
