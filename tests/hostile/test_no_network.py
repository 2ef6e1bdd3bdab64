"""No outbound network: the whole stack opens no connection but to its NATS server (loopback).

Two checks: every socket of every process of `vigie up` (the embedded nats-server and each
service) is audited while reports flow, on the stand-in engine and on the real CPU engine (which
loads the model from local files); and, where unprivileged network namespaces exist, the stack
runs inside one with only loopback and must still do its whole job. No OTLP endpoint is
configured (the default), so NATS is the one endpoint allowed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.hostile.offline_stack import STAND_IN, Audit, Conn, exercise, poll


async def _audited(tmp_path: Path, env: dict[str, str], reports: int, within: float) -> None:
    audit = Audit()
    url, got = await exercise(tmp_path / "data", env, reports, within, audit)
    nats_port = urlparse(url).port
    assert nats_port is not None
    assert got == reports, f"{got} of {reports} reports enriched"
    assert audit.polls >= 3 and len(audit.pids) >= 7  # vigie up, nats-server, six services
    assert any(c.remote[1] == nats_port for c in audit.seen.values())  # the audit sees them
    assert audit.violations({nats_port}) == []


@pytest.mark.timeout(300)
async def test_the_stack_on_the_stand_in_engine_talks_only_to_nats(tmp_path: Path) -> None:
    await _audited(tmp_path, STAND_IN, reports=5, within=90)


@pytest.mark.timeout(400)
async def test_the_stack_on_the_cpu_engine_talks_only_to_nats(tmp_path: Path) -> None:
    # The model is read from local files; three model tasks take seconds on an idle machine.
    await _audited(tmp_path, {}, reports=1, within=240)


def _netns_available() -> str | None:
    if not shutil.which("unshare") or not shutil.which("ip"):
        return "unshare or ip (iproute2) not installed"
    probe = subprocess.run(
        ["unshare", "-rn", "ip", "link", "set", "lo", "up"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        return f"no unprivileged network namespace here: {probe.stderr.strip()[:200]}"
    return None


@pytest.mark.timeout(300)
def test_the_stack_works_in_a_network_namespace_with_only_loopback(tmp_path: Path) -> None:
    why = _netns_available()
    if why:
        pytest.skip(why)
    done = subprocess.run(
        ["unshare", "-rn", sys.executable, "-m", "tests.hostile.offline_stack",
         "--loopback-up", "--stand-in", "--reports", "3", "--within", "90",
         "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=280, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "interfaces=lo enriched=3/3" in done.stdout


def test_the_audit_sees_a_remote_peer_and_a_dns_socket() -> None:
    """The audit itself: a UDP socket connected to a remote DNS server (a UDP connect sends no
    packet) is found among this process's sockets; remote TCP peers and loopback connections
    to other ports are reported."""
    dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        dns.connect(("192.0.2.53", 53))
        audit = Audit()
        poll(os.getpid(), audit)
    finally:
        dns.close()
    found = "\n".join(audit.violations(set()))
    assert "DNS" in found and "192.0.2.53" in found
    synthetic = Audit()
    for remote in (("192.0.2.80", 443), ("127.0.0.1", 8080), ("127.0.0.1", 4222)):
        conn = Conn("tcp", ("10.0.0.1", 40000), remote, "01", 1, "x")
        synthetic.seen[(conn.proto, conn.local, conn.remote)] = conn
    found = "\n".join(synthetic.violations({4222}))
    assert "remote address" in found and "192.0.2.80" in found
    assert "unexpected port" in found and "8080" in found
    assert "4222" not in found
