"""`vigie loadtest` end to end: embedded stack, stand-in engine, a short open-loop run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.timeout(90)
def test_loadtest_writes_json_markdown_and_plots(tmp_path: Path) -> None:
    out = tmp_path / "report"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")}
    env["VIGIE_NATS__DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "loadtest", "--duration", "5", "--rate",
         "5", "--engine", "stand-in", "--out", str(out), "--drain", "10", "--quiet"],
        env=env, capture_output=True, text=True, timeout=80, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((out / "loadtest.json").read_text())
    totals = result["totals"]
    assert totals["offered"] > 10
    assert totals["complete"] == totals["offered"]
    assert totals["dead_letters"] == 0 and totals["publish_errors"] == 0
    assert totals["duplicate_complete_events"] == 0
    assert totals["goodput"] == totals["offered"]
    assert result["latency_all"]["count"] == totals["offered"]
    assert result["latency_all"]["p99_ms"] < 5000
    assert set(result["per_precedence"]) <= {"FLASH", "IMMEDIATE", "PRIORITY", "ROUTINE"}
    assert result["series"]["samples"], "the backlog was sampled"
    md = (out / "loadtest.md").read_text()
    assert "goodput within deadline" in md and "latency-cdf.png" in md
    for png in ("latency-cdf.png", "throughput-backlog.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
