"""A local JetStream cluster of embedded nats-servers (``vigie up --cluster 3``, chaos runs).

Every node is an :class:`~bus.embedded.EmbeddedNats` on loopback with its own client, cluster
and store; each lists the routes of all (a server ignores its own). The streams on it are
created with ``bus.stream_replicas`` copies: with 3 replicas, a write is acknowledged once two
nodes stored it, so one node may die and come back without a loss.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Self

import anyio
import nats
from nats.errors import Error as NatsError

from bus.embedded import EmbeddedNats, EmbeddedServerError, free_port

log = logging.getLogger("vigie.cluster")

CLUSTER_NAME = "vigie"


def cluster_block(cluster_port: int, route_ports: list[int], host: str = "127.0.0.1") -> str:
    routes = "\n".join(f"    nats-route://{host}:{port}" for port in route_ports)
    return (
        f'cluster {{\n  name: {CLUSTER_NAME}\n  listen: "{host}:{cluster_port}"\n'
        f"  routes: [\n{routes}\n  ]\n}}\n"
    )


class EmbeddedCluster:
    """``async with EmbeddedCluster(data_dir, size=3) as cluster:`` — nodes under
    ``data_dir/node-<i>/``; ``cluster.url`` lists every node's client URL, comma-separated."""

    def __init__(
        self,
        data_dir: Path,
        size: int = 3,
        sync_interval: str = "always",
        *,
        host: str = "127.0.0.1",
        ready_timeout: float = 30.0,
    ) -> None:
        if size < 1:
            raise ValueError(f"a cluster needs at least one node, got {size}")
        self.data_dir = Path(data_dir).resolve()
        self.ready_timeout = ready_timeout
        route_ports = [free_port(host) for _ in range(size)]
        self.nodes: list[EmbeddedNats] = []
        for i, cluster_port in enumerate(route_ports, start=1):
            node = EmbeddedNats(self.data_dir / f"node-{i}", sync_interval=sync_interval, host=host)
            # Server names must be unique in a cluster: JetStream's Raft groups are keyed on them.
            node.config_text = node.config_text.replace(
                "server_name: vigie\n", f"server_name: vigie-{i}\n", 1
            ) + cluster_block(cluster_port, route_ports, host)
            self.nodes.append(node)

    @property
    def url(self) -> str:
        return ",".join(node.url for node in self.nodes)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        try:
            async with anyio.create_task_group() as tg:
                for node in self.nodes:
                    tg.start_soon(node.start)
            await self.wait_jetstream()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        with anyio.CancelScope(shield=True):
            for node in self.nodes:
                await node.stop()

    async def kill_node(self, index: int) -> None:
        """SIGKILL one node, as a crash would."""
        await self.nodes[index].kill()

    async def start_node(self, index: int) -> None:
        """Bring a node back on its ports and store; it catches up from the others."""
        await self.nodes[index].start()

    async def wait_jetstream(self, url: str | None = None) -> None:
        """Until the cluster has a JetStream meta leader and answers account requests."""
        target = url or self.url
        last = "no answer"
        with anyio.move_on_after(self.ready_timeout):
            while True:
                try:
                    nc = await nats.connect(
                        target.split(","), connect_timeout=2, allow_reconnect=False
                    )
                    try:
                        await nc.jetstream().account_info()
                        return
                    finally:
                        await nc.close()
                except (NatsError, OSError, TimeoutError) as exc:
                    last = str(exc) or type(exc).__name__
                await anyio.sleep(0.25)
        tails = tuple(line for node in self.nodes for line in node.log_tail()[-5:])
        raise EmbeddedServerError(
            f"cluster JetStream not ready after {self.ready_timeout:g} s ({last})", tails
        )

    async def wait_node_current(self, index: int) -> None:
        """Until the node answers JetStream requests itself (it rejoined the meta group)."""
        await self.wait_jetstream(self.nodes[index].url)
