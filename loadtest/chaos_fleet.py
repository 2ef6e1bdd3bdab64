"""The processes a chaos or overload run owns: the server (one node or a cluster) and every service.

Services run as ``vigie run NAME`` processes, as ``vigie up`` runs them; they die with this
process (parent-death signal) and :meth:`Fleet.aclose` reaps every one of them. Which services,
and how many processes of each, is the caller's to say (``Fleet.replicas``; the callers learn the
deployment's services from ``vigie config``, see ``loadtest.stack``). Like every load test, the
fleet is a client of ``vigie``: it knows services by the names ``vigie run`` takes, not by
importing them; a name ``vigie run`` refuses makes that process exit, which the fleet reports as
an unexpected exit.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import sys
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from bus.cluster import EmbeddedCluster
from bus.embedded import EmbeddedNats
from bus.process import die_with_parent

log = logging.getLogger("vigie.chaos")

#: Quick redelivery after a kill; the rest is the shipped configuration.
CHAOS_ENV = {
    "VIGIE_BUS__ACK_WAIT": "2",
    "VIGIE_BUS__NAK_BACKOFF": "0.2,0.5,1",
    "VIGIE_BUS__DRAIN_TIMEOUT": "5",
    "VIGIE_COLLATE__RECHECK_INTERVAL": "0.5",
    "VIGIE_LOG_LEVEL": "warning",
}


def fleet_environment(env: dict[str, str]) -> dict[str, str]:
    """What every process of a fleet runs with: this process's environment without its own
    ``VIGIE_*`` settings, the chaos settings, then ``env``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")}
    return base | CHAOS_ENV | env


def read_rss_kib(pid: int) -> int | None:
    """VmRSS of a live process in KiB (None once it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


@dataclass
class Slot:
    name: str
    index: int
    proc: asyncio.subprocess.Process | None = None
    started_at: float = 0.0
    #: Set while the chaos loop has killed it and not yet started it again.
    down: bool = False

    @property
    def key(self) -> str:
        return f"{self.name}-{self.index}"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None


@dataclass
class Fleet:
    """``replicas[name]`` processes of each service ``name``, in that order, against ``url``."""

    url: str
    log_dir: Path
    env: dict[str, str]
    #: Service → processes, in the order they start.
    replicas: dict[str, int]
    slots: list[Slot] = field(default_factory=list)
    kills: int = 0
    killed: dict[str, int] = field(default_factory=dict)
    unexpected_exits: int = 0

    def __post_init__(self) -> None:
        for name, count in self.replicas.items():
            self.slots += [Slot(name, i) for i in range(count)]

    def _environment(self) -> dict[str, str]:
        return fleet_environment(self.env)

    async def start(self, slot: Slot) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / f"{slot.key}.log").open("ab") as logf:
            slot.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "services.cli.main",
                "run",
                slot.name,
                "--nats",
                self.url,
                env=self._environment(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=logf,
                stderr=logf,
                preexec_fn=die_with_parent,
            )
        slot.started_at = time.monotonic()
        slot.down = False

    async def start_all(self) -> None:
        for slot in self.slots:
            await self.start(slot)

    def pids(self) -> dict[str, int]:
        return {s.key: s.proc.pid for s in self.slots if s.proc and s.proc.returncode is None}

    def rss(self) -> dict[str, int | None]:
        return {key: read_rss_kib(pid) for key, pid in self.pids().items()}

    def pick_victim(self, rng: random.Random, min_uptime: float) -> Slot | None:
        """A random service that has been serving for a while (so the kill lands mid-work)."""
        now = time.monotonic()
        up = [s for s in self.slots if s.alive and not s.down]
        serving = [s for s in up if now - s.started_at >= min_uptime]
        pool = serving or up
        if not pool:
            return None
        # Random, but every service gets its share: among those killed least so far.
        fewest = min(self.killed.get(s.name, 0) for s in pool)
        return rng.choice([s for s in pool if self.killed.get(s.name, 0) == fewest])

    async def kill(self, slot: Slot) -> None:
        assert slot.proc is not None
        slot.down = True
        with suppress(ProcessLookupError):
            slot.proc.send_signal(signal.SIGKILL)
        await slot.proc.wait()
        self.kills += 1
        self.killed[slot.name] = self.killed.get(slot.name, 0) + 1
        log.info("killed %s (pid %d)", slot.key, slot.proc.pid)

    async def watch(self) -> None:
        """Restart a service that died on its own (counted: the chaos loop did not kill it)."""
        while True:
            for slot in self.slots:
                if not slot.down and slot.proc is not None and slot.proc.returncode is not None:
                    self.unexpected_exits += 1
                    log.warning(
                        "%s exited on its own (%s); restarting", slot.key, slot.proc.returncode
                    )
                    await self.start(slot)
            await anyio.sleep(0.5)

    async def aclose(self) -> None:
        """SIGTERM every service (they drain), SIGKILL the ones still there after 15 s."""
        with anyio.CancelScope(shield=True):
            live = [s.proc for s in self.slots if s.proc and s.proc.returncode is None]
            for proc in live:
                with suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
            with anyio.move_on_after(15):
                for proc in live:
                    await proc.wait()
            for proc in live:
                if proc.returncode is None:
                    with suppress(ProcessLookupError):
                        proc.kill()
                    await proc.wait()


class Server:
    """One embedded node, or a local cluster; :meth:`disrupt` restarts it or loses a node."""

    def __init__(self, data_dir: Path, cluster: int, sync_interval: str = "always") -> None:
        self.cluster: EmbeddedCluster | None = None
        self.single: EmbeddedNats | None = None
        if cluster > 1:
            self.cluster = EmbeddedCluster(data_dir, size=cluster, sync_interval=sync_interval)
        else:
            self.single = EmbeddedNats(data_dir, sync_interval=sync_interval)
        self.disruptions = 0

    @property
    def url(self) -> str:
        if self.cluster is not None:
            return self.cluster.url
        assert self.single is not None
        return self.single.url

    @property
    def replicas(self) -> int:
        return len(self.cluster.nodes) if self.cluster is not None else 1

    def server_pids(self) -> list[int]:
        nodes = self.cluster.nodes if self.cluster is not None else [self.single]
        return [n.pid for n in nodes if n is not None and n.pid is not None]

    async def start(self) -> None:
        if self.cluster is not None:
            await self.cluster.start()
        else:
            assert self.single is not None
            await self.single.start()

    async def stop(self) -> None:
        if self.cluster is not None:
            await self.cluster.stop()
        elif self.single is not None:
            await self.single.stop()

    async def disrupt(self, rng: random.Random, down_for: float) -> str:
        """SIGKILL the server (or one cluster node), leave it down a while, bring it back."""
        self.disruptions += 1
        if self.cluster is not None:
            index = rng.randrange(len(self.cluster.nodes))
            await self.cluster.kill_node(index)
            await anyio.sleep(down_for)
            await self.cluster.start_node(index)
            await self.cluster.wait_node_current(index)
            return f"node vigie-{index + 1} killed, back after {down_for:.1f} s"
        assert self.single is not None
        await self.single.kill()
        await anyio.sleep(down_for)
        await self.single.start()
        return f"nats-server killed, back after {down_for:.1f} s"
