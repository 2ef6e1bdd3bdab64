"""At rest: JetStream encryption on the real server's files, purge by time, the shipped config."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import anyio
import anyio.to_thread
import nats
import pytest

from bus.embedded import EmbeddedNats, find_nats_server, free_port
from bus.purge import purge_before
from bus.security.serverconf import KEY_ENV, Encryption, render_encryption
from services.security import keys
from tests.integration.secured import connect_as, secured_server

MARK = b"PLAINTEXT-MARKER-c41f9e"
OPS = Path(__file__).resolve().parents[2] / "ops" / "nats"


def files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


@pytest.mark.parametrize("cipher", [None, "chachapoly", "aes"])
async def test_stream_files_hold_no_plaintext_when_encrypted(
    tmp_path: Path, cipher: str | None
) -> None:
    extra = "" if cipher is None else render_encryption(Encryption(cipher))  # type: ignore[arg-type]
    server = EmbeddedNats(
        tmp_path / "nats", jetstream_extra=extra, env={KEY_ENV: keys.new_js_key()}
    )
    async with server:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await js.add_stream(name="SECRET_S", subjects=["secret.>"])
        for i in range(5):
            await js.publish("secret.x", MARK + str(i).encode())
        await nc.close()
    found = files_containing(server.store_dir, MARK)
    if cipher is None:
        assert found, "the marker must be on disk in the clear without encryption"
    else:
        assert found == []


def test_encrypted_server_refuses_to_start_without_its_key(tmp_path: Path) -> None:
    server = EmbeddedNats(
        tmp_path / "nats", jetstream_extra=render_encryption(Encryption()), ready_timeout=5
    )
    env = {k: v for k, v in os.environ.items() if k != KEY_ENV}
    server.data_dir.mkdir(parents=True, exist_ok=True)
    server.config_path.write_text(server.config_text, encoding="utf-8")
    done = subprocess.run(
        [find_nats_server(), "-c", str(server.config_path), "-t"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode != 0
    assert KEY_ENV in done.stderr


async def test_purge_before_removes_older_messages_only(tmp_path: Path) -> None:
    async with secured_server(tmp_path) as secured:
        pub = await connect_as(secured, "publisher-dr")
        js = pub.nc.jetstream()
        for i in range(3):
            await js.publish("feeds.dr.report.a", f"old {i}".encode())
        await anyio.sleep(1.1)
        cut = dt.datetime.now(dt.UTC)
        for i in range(2):
            await js.publish("feeds.dr.report.a", f"new {i}".encode())
        admin = await connect_as(secured, "provisioner")
        dry = await purge_before(admin.nc, "FEEDS_DR", cut, dry_run=True)
        assert (dry.removed, dry.first_kept) == (3, 4)
        done = await purge_before(admin.nc, "FEEDS_DR", cut)
        assert (done.removed, done.first_kept) == (3, 4)
        info = await admin.nc.jetstream().stream_info("FEEDS_DR")
        assert (info.state.messages, info.state.first_seq) == (2, 4)
        # The CLI, as the provisioner named by configuration; a future cut empties the stream.
        env = {**os.environ, "VIGIE_NATS__NKEYS_DIR": str(secured.nkeys_dir)}
        argv = [sys.executable, "-m", "services.cli.main", "purge", "--label", "dr"]
        argv += ["--before", "2999-01-01T00:00:00+00:00", "--nats", secured.url]
        cli = await anyio.to_thread.run_sync(
            lambda: subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        )
        assert cli.returncode == 0, cli.stderr
        assert re.search(r"FEEDS_DR\s+2\s+-", cli.stdout), cli.stdout
        info = await admin.nc.jetstream().stream_info("FEEDS_DR")
        assert info.state.messages == 0
        # Any other identity is refused.
        await js.publish("feeds.dr.report.a", b"kept")
        denied = await connect_as(secured, "ingest")
        with pytest.raises(Exception, match="cannot purge"):
            await purge_before(denied.nc, "FEEDS_DR", cut)
        for w in (pub, admin, denied):
            await w.nc.close()


def test_shipped_secure_config_is_valid_with_encryption_on(tmp_path: Path) -> None:
    """ops/nats/secure.conf (for s/ts) with its paths moved here: valid, and encryption is on."""
    text = (OPS / "secure.conf").read_text(encoding="utf-8")
    assert re.search(r"^\s*cipher:\s*(chachapoly|aes)\s*$", text, re.M)
    assert f"key: ${KEY_ENV}" in text
    tls = tmp_path / "tls"
    keys.write_certs(tls, ["localhost"])
    nkey = keys.public_key(keys.new_user_seed())
    (tmp_path / "nats-auth.conf").write_text(
        f"authorization {{ users: [ {{ nkey: {nkey} }} ] }}\n", encoding="utf-8"
    )
    moved = text.replace("/etc/vigie/tls", str(tls))
    moved = re.sub(r'store_dir:\s*"[^"]*"', f'store_dir: "{tmp_path / "store"}"', moved)
    moved = re.sub(r"(?<=:)4222\b", str(free_port()), moved)
    conf = tmp_path / "secure.conf"
    conf.write_text(moved, encoding="utf-8")
    env = {**os.environ, KEY_ENV: keys.new_js_key()}
    done = subprocess.run(
        [find_nats_server(), "-c", str(conf), "-t"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
