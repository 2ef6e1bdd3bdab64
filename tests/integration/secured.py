"""A real nats-server with the GENERATED users and permissions (and optionally TLS, encryption).

Nothing here restates a permission: the server config comes from ``bus.security.permissions`` and
``bus.security.serverconf``, the seeds from ``services.security.keys`` — the code under test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import nats
from nats.aio.client import Client

from bus.embedded import EmbeddedNats
from bus.provision import provision
from bus.security.client import ClientSecurity
from bus.security.permissions import identities, permissions_for
from bus.security.serverconf import TlsFiles, User, render_authorization, render_tls
from bus.topology import Topology, build_topology
from services.config.schema import Config, NatsConfig, topology_settings
from services.security import keys
from services.security.credentials import SEED_SUFFIX


@dataclass
class Secured:
    server: EmbeddedNats
    nkeys_dir: Path
    topology: Topology
    tls_dir: Path | None = None

    @property
    def url(self) -> str:
        return self.server.url

    def security(self, identity: str) -> ClientSecurity:
        tls = self.tls_dir
        return ClientSecurity(
            identity=identity,
            nkey_seed_file=str(self.nkeys_dir / f"{identity}{SEED_SUFFIX}"),
            tls_ca=str(tls / keys.CA_FILE) if tls else None,
            tls_cert=str(tls / keys.CLIENT_CERT) if tls else None,
            tls_key=str(tls / keys.CLIENT_KEY) if tls else None,
        )

    def nats_config(self, **fields: object) -> NatsConfig:
        tls = self.tls_dir
        return NatsConfig(
            url=self.url,
            nkeys_dir=str(self.nkeys_dir),
            tls_ca=str(tls / keys.CA_FILE) if tls else None,
            tls_cert=str(tls / keys.CLIENT_CERT) if tls else None,
            tls_key=str(tls / keys.CLIENT_KEY) if tls else None,
            **fields,  # type: ignore[arg-type]
        )


@dataclass
class Watched:
    """A connection as one identity that records the server's permission violations."""

    nc: Client
    errors: list[str] = field(default_factory=list)

    async def violations(self) -> list[str]:
        await self.nc.flush()
        await anyio.sleep(0.1)  # the -ERR follows the server's processing of the command
        return list(self.errors)


async def connect_as(secured: Secured, identity: str) -> Watched:
    watched: list[Watched] = []

    async def on_error(exc: Exception) -> None:
        watched[0].errors.append(str(exc))

    nc = await nats.connect(
        secured.url,
        error_cb=on_error,
        max_reconnect_attempts=0,
        **secured.security(identity).connect_options(),
    )
    watched.append(Watched(nc))
    return watched[0]


@asynccontextmanager
async def secured_server(
    tmp_path: Path,
    cfg: Config | None = None,
    *,
    tls: bool = False,
    mtls: bool = False,
    per_label: bool = False,
) -> AsyncIterator[Secured]:
    """Server with one user per generated identity, the topology provisioned as provisioner."""
    topology = build_topology(topology_settings(cfg or Config()))
    nkeys_dir = tmp_path / "nkeys"
    keys.write_nkeys(nkeys_dir, identities(topology, per_label=per_label))
    users = [
        User(pub, permissions_for(topology, name))
        for name, pub in keys.read_public_keys(nkeys_dir).items()
    ]
    extra = render_authorization(users)
    tls_dir = None
    if tls:
        tls_dir = tmp_path / "tls"
        keys.write_certs(tls_dir, ["127.0.0.1", "localhost"])
        files = TlsFiles(
            tls_dir / keys.SERVER_CERT, tls_dir / keys.SERVER_KEY, tls_dir / keys.CA_FILE
        )
        extra += render_tls(files, verify=mtls)
    server = EmbeddedNats(data_dir=tmp_path / "nats", extra_config=extra)
    async with server:
        secured = Secured(server, nkeys_dir, topology, tls_dir)
        admin = await connect_as(secured, "provisioner")
        await provision(admin.nc.jetstream(), topology)
        await admin.nc.close()
        yield secured
