"""Vigie installed from the wheelhouse with no network, and the demo run on it.

Needs a built wheelhouse (`make wheelhouse`: minutes, llama.cpp is compiled), so it runs only
when asked: `make wheelhouse-check` builds the wheelhouse and runs this with
``VIGIE_WHEELHOUSE=dist/wheelhouse``. `make test` skips it, saying why. The steps are
ops/wheelhouse/check.sh: a fresh virtual environment in a network namespace with only loopback,
``pip install --no-index --find-links DIR --require-hashes -r DIR/requirements.lock``, the lock
check of what got installed, then ``vigie up --demo --once``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "ops" / "wheelhouse" / "check.sh"


def wheelhouse() -> Path:
    given = os.environ.get("VIGIE_WHEELHOUSE")
    if not given:
        pytest.skip(
            "set VIGIE_WHEELHOUSE=dist/wheelhouse to install from a built wheelhouse "
            "(`make wheelhouse-check` builds one and runs this)"
        )
    folder = Path(given) if Path(given).is_absolute() else ROOT / given
    if not (folder / "requirements.lock").is_file():
        pytest.skip(f"no wheelhouse at {folder} (requirements.lock absent): `make wheelhouse`")
    if not shutil.which("unshare") or not shutil.which("ip"):
        pytest.skip("unshare or ip (iproute2) not installed: no network namespace")
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"no unprivileged network namespace here: {probe.stderr.strip()[:200]}")
    return folder


@pytest.mark.timeout(1500)
def test_installs_and_runs_the_demo_with_no_network(tmp_path: Path) -> None:
    folder = wheelhouse()
    env = {**os.environ, "WHEELHOUSE_WORK": str(tmp_path / "work")}
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run(
        ["bash", str(CHECK), str(folder)],
        capture_output=True, text=True, timeout=1450, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("wheelhouse-check: "))
    result = json.loads(line.removeprefix("wheelhouse-check: "))
    assert result["interfaces"] == "lo"  # no network at all: loopback only
    assert "reports enriched" in result["demo"]
    assert "the environment is exactly" in done.stdout  # the lock check of the install
    print(line)
