"""The server configs shipped in ops/nats/: valid, consistent with the code, and they work."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import nats
import pytest

from bus.embedded import find_nats_server, free_port
from bus.topology import SERVER_MAX_PAYLOAD, MiB

OPS = Path(__file__).resolve().parents[2] / "ops" / "nats"
SINGLE = OPS / "single.conf"
NODES = sorted((OPS / "cluster").glob("node-*.conf"))
SHIPPED = [SINGLE, *NODES]
# Every port the shipped files use; a test run moves them to free ones.
SHIPPED_PORTS = [base + i for base in (4222, 6222, 8222) for i in range(3)]


def test_every_config_is_shipped() -> None:
    assert [p.name for p in NODES] == ["node-1.conf", "node-2.conf", "node-3.conf"]


@pytest.mark.parametrize("conf", SHIPPED, ids=lambda p: str(p.relative_to(OPS)))
def test_config_passes_server_check(conf: Path) -> None:
    # `-t` parses and validates without touching store_dir, so the absolute
    # /var/lib/vigie paths need not exist here.
    done = subprocess.run(
        [find_nats_server(), "-c", str(conf), "-t"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert "is valid" in done.stderr


@pytest.mark.parametrize("conf", SHIPPED, ids=lambda p: str(p.relative_to(OPS)))
def test_config_is_durable_and_sized(conf: Path) -> None:
    text = conf.read_text(encoding="utf-8")
    assert re.search(r"^\s*sync_interval:\s*always\s*$", text, re.M)
    assert re.search(r"^max_payload:\s*8MB\s*$", text, re.M)


def _relocate(text: str, store: Path, ports: dict[int, int]) -> str:
    text = re.sub(r'store_dir:\s*"[^"]*"', f'store_dir: "{store}"', text)
    return re.sub(r"(?<=:)(\d{4})\b", lambda m: str(ports.get(int(m[1]), m[1])), text)


@contextmanager
def _servers(confs: list[Path], tmp_path: Path) -> Iterator[dict[int, int]]:
    """Run shipped configs with their ports and stores moved into this test's sandbox."""
    ports = {port: free_port() for port in SHIPPED_PORTS}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for i, conf in enumerate(confs):
            moved = tmp_path / f"{i}.conf"
            moved.write_text(
                _relocate(conf.read_text(encoding="utf-8"), tmp_path / f"store-{i}", ports),
                encoding="utf-8",
            )
            with (tmp_path / f"{i}.log").open("wb") as log:
                procs.append(subprocess.Popen([find_nats_server(), "-c", str(moved)], stderr=log))
        yield ports
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait(timeout=10)


def _get_json(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return json.load(response)
    except (urllib.error.URLError, ConnectionError):
        return None


async def _monitor(port: int, path: str, until: str = "ok") -> Any:
    """Poll a monitoring endpoint until it answers (and /healthz says ok)."""
    with anyio.fail_after(30):
        while True:
            body = await anyio.to_thread.run_sync(_get_json, f"http://127.0.0.1:{port}{path}")
            if body is not None and (path != "/healthz" or body.get("status") == until):
                return body
            await anyio.sleep(0.1)


async def test_single_node_runs_with_its_limits(tmp_path: Path) -> None:
    with _servers([SINGLE], tmp_path) as ports:
        # /varz shows JetStream's settings only once JetStream is up, which /healthz reports.
        await _monitor(ports[8222], "/healthz")
        varz = await _monitor(ports[8222], "/varz")
    assert varz["max_payload"] == SERVER_MAX_PAYLOAD
    assert varz["max_pending"] >= 8 * SERVER_MAX_PAYLOAD
    assert varz["jetstream"]["config"]["sync_always"] is True


async def test_cluster_forms_and_replicates(tmp_path: Path) -> None:
    with _servers(NODES, tmp_path) as ports:
        for monitor in (8222, 8223, 8224):
            await _monitor(ports[monitor], "/healthz")
        nc = await nats.connect(f"nats://127.0.0.1:{ports[4223]}")
        try:
            js = nc.jetstream()
            info = await js.add_stream(name="R3", subjects=["r3"], num_replicas=3)
            ack = await js.publish("r3", b"x" * (6 * MiB), timeout=10)
        finally:
            await nc.close()
    assert ack.seq == 1
    assert info.cluster is not None and info.cluster.name == "vigie"
    assert len(info.cluster.replicas or []) == 2
