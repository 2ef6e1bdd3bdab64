"""The credentials a process connects with, from ``nats.*`` settings (see
``bus.security.client``)."""

from __future__ import annotations

from pathlib import Path

from bus.security.client import ClientSecurity
from bus.security.permissions import PROVISIONER
from services.config.schema import NatsConfig

SEED_SUFFIX = ".nk"
PUBLIC_SUFFIX = ".pub"


def identity_for(nats: NatsConfig, service: str | None = None) -> str:
    """A service connects as itself (or as ``nats.identity`` when that names the service for
    one label, e.g. ``ingest-s``); other commands as ``nats.identity``, else the provisioner."""
    if service is not None:
        chosen = nats.identity or ""
        return chosen if chosen.startswith(f"{service}-") else service
    return nats.identity or PROVISIONER


def client_security(nats: NatsConfig, service: str | None = None) -> ClientSecurity | None:
    """None for an open server (no nkeys dir, no TLS)."""
    if nats.nkeys_dir is None and nats.tls_ca is None and nats.tls_cert is None:
        return None
    identity = identity_for(nats, service)
    seed = (
        str(Path(nats.nkeys_dir).expanduser() / f"{identity}{SEED_SUFFIX}")
        if nats.nkeys_dir
        else None
    )
    return ClientSecurity(
        identity=identity if seed else None,
        nkey_seed_file=seed,
        tls_ca=nats.tls_ca,
        tls_cert=nats.tls_cert,
        tls_key=nats.tls_key,
    )


def least_privilege(nats: NatsConfig) -> bool:
    """Whether services run under their own identity (then they verify, never create)."""
    return nats.nkeys_dir is not None
