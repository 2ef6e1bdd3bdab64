"""`vigie health` against real services (`vigie run` processes) on a real server: the NATS
service API lists every instance with its statistics, the HTTP probe answers, a killed instance
disappears (exit 1, naming it), and a SIGTERM still drains cleanly with the health task running."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from services.cli.main import build_parser
from services.config.load import load_config
from tests.integration.procs import start_service


async def health(url: str, *argv: str) -> int:
    """`vigie health` in this event loop."""
    args = build_parser().parse_args(["health", *argv])
    loaded = load_config(None, env={"VIGIE_NATS__URL": url})
    code: int = await args.func(args, loaded)
    return code


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def wait_health(
    url: str, capsys: pytest.CaptureFixture[str], want: int, *argv: str, within: float = 60.0
) -> tuple[dict[str, Any], str]:
    """Ask until `vigie health --json ARGV` exits ``want``; its document and stderr."""
    with anyio.fail_after(within):
        while True:
            code = await health(url, "--json", *argv)
            captured = capsys.readouterr()
            if code == want:
                return json.loads(captured.out), captured.err
            await anyio.sleep(0.5)


def http_get(port: int, path: str) -> tuple[int, dict[str, Any]]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.kill()
        await proc.wait()


async def test_health_lists_instances_and_a_killed_one_disappears(
    nats_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    env = {"VIGIE_NATS__DATA_DIR": str(tmp_path / "data")}
    collate = await start_service("collate", nats_url, **env)
    inference = await start_service(
        "inference",
        nats_url,
        VIGIE_INFERENCE__ENGINE="stand-in",
        VIGIE_HEALTH__HTTP_PORT=str(port),
        **env,
    )
    try:
        doc, _ = await wait_health(
            nats_url, capsys, 0, "--service", "collate", "--service", "inference"
        )
        assert doc["ok"] and doc["missing"] == [] and doc["unhealthy"] == []
        by_name = {i["name"]: i for i in doc["instances"]}
        assert sorted(by_name) == ["vigie-collate", "vigie-inference"]
        for instance in by_name.values():
            assert instance["id"] and instance["version"] and instance["started"]
            status = instance["status"]
            assert status["state"] == "serving" and status["ready"] and status["connected"]
            worker = status["worker"]
            for counter in ("handled", "acked", "retried", "dead_lettered", "in_flight"):
                assert worker[counter] >= 0
            assert worker["consumers"], "each instance names the consumers it pulls from"
        engine = by_name["vigie-inference"]["status"]["engine"]
        assert engine["ok"] and engine["engine"] == "stand-in" and engine["model"] == "stand-in"
        assert {"running", "paused", "waiting", "max_sequences", "mode"} <= engine.keys()
        assert by_name["vigie-collate"]["status"]["engine"] is None

        # The plain listing: one line per instance.
        assert await health(nats_url, "--service", "collate", "--service", "inference") == 0
        out = capsys.readouterr().out
        assert "vigie-collate" in out and "vigie-inference" in out and "serving" in out

        # Every expected service is required: the ones not running are named.
        doc, err = await wait_health(nats_url, capsys, 1)
        assert "vigie-ingest" in doc["missing"] and "vigie-collate" not in doc["missing"]
        assert "vigie-ingest" in err

        # The HTTP probe of the inference instance, as Kubernetes would call it.
        assert await anyio.to_thread.run_sync(http_get, port, "/livez") == (
            200,
            {"service": "inference", "live": True},
        )
        code, ready = await anyio.to_thread.run_sync(http_get, port, "/readyz")
        assert code == 200 and ready["ready"] and ready["engine"]["engine"] == "stand-in"
        assert (await anyio.to_thread.run_sync(http_get, port, "/nope"))[0] == 404
        assert await health(nats_url, "--local", "--port", str(port)) == 0
        assert await health(nats_url, "--local", "--live", "--port", str(port)) == 0
        assert capsys.readouterr().out.splitlines() == ["inference: ready", "inference: live"]

        inference.send_signal(signal.SIGKILL)
        await inference.wait()
        doc, err = await wait_health(
            nats_url, capsys, 1, "--service", "collate", "--service", "inference", within=20
        )
        assert doc["missing"] == ["vigie-inference"]
        assert [i["name"] for i in doc["instances"]] == ["vigie-collate"]
        assert "vigie-inference" in err
        assert await health(nats_url, "--local", "--port", str(port)) == 1
        capsys.readouterr()

        # The health task does not hold up the drain: SIGTERM still exits 0, promptly.
        collate.send_signal(signal.SIGTERM)
        with anyio.fail_after(20):
            assert await collate.wait() == 0
        await wait_health(nats_url, capsys, 1, "--service", "collate", within=20)
    finally:
        await stop(inference)
        await stop(collate)
