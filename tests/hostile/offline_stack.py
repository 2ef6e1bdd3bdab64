"""The whole stack (`vigie up`) as processes, with every socket of every process audited.

Used by ``test_no_network.py`` directly (socket audit) and, as ``python -m
tests.hostile.offline_stack``, inside a network namespace that has only loopback (``unshare
-rn``): there the stack must do its whole job with no network at all.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nats

FAST_ENV = {
    "VIGIE_BUS__ACK_WAIT": "2",
    "VIGIE_BUS__NAK_BACKOFF": "0.2,0.5",
    "VIGIE_BUS__DRAIN_TIMEOUT": "5",
    "VIGIE_BUS__STREAM_MAX_BYTES": str(32 * 1024 * 1024),
    "VIGIE_COLLATE__RECHECK_INTERVAL": "0.5",
    "VIGIE_LOG_LEVEL": "warning",
}
STAND_IN = {"VIGIE_INFERENCE__ENGINE": "stand-in"}
REPORTS = (
    "SPOTREP. 251430ZNOV26. Patrol observed 3 BTR-82A moving north at 31U DQ 48251 11932.",
    "Observation: deux VBCI au 251430ZNOV26 en 31U DQ 48251 11932.",
    "Колонна из 5 БТР-82А движется на север у Купянска.",
)
_SOCKET = re.compile(r"socket:\[(\d+)\]")
_LISTEN = "0A"
_TCP_CLOSED = {"07"}  # CLOSE: nothing is (or was) connected


@dataclass(frozen=True)
class Conn:
    proto: str
    local: tuple[str, int]
    remote: tuple[str, int]
    state: str
    pid: int
    cmd: str


@dataclass
class Audit:
    """Every socket seen, by (proto, local, remote), over the polls."""

    seen: dict[tuple[str, tuple[str, int], tuple[str, int]], Conn] = field(default_factory=dict)
    polls: int = 0
    pids: set[int] = field(default_factory=set)

    def violations(self, allowed_ports: set[int]) -> list[str]:
        out = []
        for conn in self.seen.values():
            host, port = conn.remote
            what = f"{conn.proto} {conn.local} → {conn.remote} (pid {conn.pid} {conn.cmd})"
            if conn.proto.startswith("udp"):
                if port == 53 or conn.local[1] == 53:
                    out.append(f"DNS: {what}")
                elif port and not ipaddress.ip_address(host).is_loopback:
                    out.append(f"UDP to a remote address: {what}")
                continue
            if conn.state == _LISTEN or (port == 0 and conn.state in _TCP_CLOSED):
                continue
            if not ipaddress.ip_address(host).is_loopback:
                out.append(f"connection to a remote address: {what}")
            elif port not in allowed_ports and conn.local[1] not in allowed_ports:
                out.append(f"loopback connection to an unexpected port: {what}")
        return out


def _hex_addr(text: str) -> tuple[str, int]:
    addr, port = text.split(":")
    raw = bytes.fromhex(addr)
    if len(raw) == 4:
        host = socket.inet_ntop(socket.AF_INET, raw[::-1])
    else:  # four little-endian 32-bit words
        words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
        host = str(ipaddress.ip_address(words))
        mapped = ipaddress.ip_address(words)
        if isinstance(mapped, ipaddress.IPv6Address) and mapped.ipv4_mapped:
            host = str(mapped.ipv4_mapped)
    return host, int(port, 16)


def tree(root: int) -> list[int]:
    """``root`` and all its descendants."""
    out = [root]
    i = 0
    while i < len(out):
        try:
            kids = Path(f"/proc/{out[i]}/task/{out[i]}/children").read_text().split()
        except OSError:
            kids = []
        out += [int(k) for k in kids]
        i += 1
    return out


def poll(root: int, audit: Audit) -> None:
    """One look at the sockets of every process under ``root``."""
    audit.polls += 1
    for pid in tree(root):
        audit.pids.add(pid)
        try:
            inodes = set()
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    m = _SOCKET.match(os.readlink(f"/proc/{pid}/fd/{fd}"))
                except OSError:
                    continue
                if m:
                    inodes.add(m.group(1))
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[-60:]
        except OSError:
            continue
        if not inodes:
            continue
        for proto in ("tcp", "tcp6", "udp", "udp6"):
            try:
                lines = Path(f"/proc/{pid}/net/{proto}").read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                cols = line.split()
                if cols[9] not in inodes:
                    continue
                conn = Conn(proto, _hex_addr(cols[1]), _hex_addr(cols[2]), cols[3], pid, cmd)
                audit.seen.setdefault((proto, conn.local, conn.remote), conn)


def up_command(data_dir: Path) -> list[str]:
    return [sys.executable, "-m", "services.cli.main", "up", "--port", "0",
            "--data-dir", str(data_dir)]  # fmt: skip


def stack_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")}
    return env | FAST_ENV | extra


async def exercise(
    data_dir: Path, extra_env: dict[str, str], reports: int, within: float, audit: Audit | None
) -> tuple[str, int]:
    """Start the stack, put ``reports`` reports through it (auditing sockets meanwhile), stop
    it. Returns the NATS URL and how many enriched events came back."""
    proc = await asyncio.create_subprocess_exec(
        *up_command(data_dir),
        env=stack_env(extra_env),
        stdout=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    got = 0
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 120)).decode()
        match = re.search(r"NATS ready at (nats://\S+)", line)
        if not match:
            raise RuntimeError(f"vigie up did not start: {line!r}")
        url = match.group(1)
        nc = await nats.connect(url)
        js = nc.jetstream()
        sub = await js.subscribe("enriched.np.>", stream="ENRICHED_NP", ordered_consumer=True)
        for i in range(reports):
            await js.publish(f"feeds.np.report.net{i}", REPORTS[i % len(REPORTS)].encode())
        deadline = time.monotonic() + within
        while got < reports and time.monotonic() < deadline:
            if audit is not None:
                poll(proc.pid, audit)
            try:
                await sub.next_msg(timeout=0.2)
                got += 1
            except nats.errors.TimeoutError:
                pass
        if audit is not None:
            poll(proc.pid, audit)
        await nc.close()
    finally:
        if proc.returncode is None:
            proc.send_signal(2)  # SIGINT: vigie up stops everything
            try:
                await asyncio.wait_for(proc.wait(), 40)
            except TimeoutError:
                proc.kill()
                await proc.wait()
    return url, got


def loopback_up() -> None:
    """In a fresh network namespace the loopback interface is down."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--reports", type=int, default=3)
    p.add_argument("--within", type=float, default=120.0)
    p.add_argument("--stand-in", action="store_true")
    p.add_argument("--loopback-up", action="store_true")
    args = p.parse_args(argv)
    if args.loopback_up:
        loopback_up()
    interfaces = [name for _, name in socket.if_nameindex()]
    env = STAND_IN if args.stand_in else {}
    _, got = asyncio.run(exercise(args.data_dir, env, args.reports, args.within, None))
    print(f"interfaces={','.join(interfaces)} enriched={got}/{args.reports}", flush=True)
    return 0 if got == args.reports else 1


if __name__ == "__main__":
    sys.exit(main())
