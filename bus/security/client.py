"""How a client proves who it is to a secured server: an nkey seed, TLS, its own inbox prefix."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bus.security.permissions import inbox_prefix


@dataclass
class SecurityError(Exception):
    """A credential file is missing or unusable: fix the configuration; not recoverable."""

    what: str
    path: str
    detail: str
    recoverable: bool = False

    def __str__(self) -> str:
        return (
            f"cannot use {self.what} {self.path}: {self.detail} — generate it with "
            "`vigie ops nkeys --out DIR` / `vigie ops certs --out DIR`, or fix the nats.* "
            "setting that names it"
        )


@dataclass(frozen=True)
class ClientSecurity:
    """Credentials of one connection; every field optional (none = an open server)."""

    #: The identity the seed belongs to: replies come on ``_INBOX_<identity>``, the only inbox
    #: its permissions allow.
    identity: str | None = None
    nkey_seed_file: str | None = None
    #: CA that signed the server's certificate; with cert and key, mutual TLS.
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None

    @property
    def enabled(self) -> bool:
        return any((self.nkey_seed_file, self.tls_ca, self.tls_cert))

    def connect_options(self) -> dict[str, Any]:
        """Keyword arguments for ``nats.connect``."""
        opts: dict[str, Any] = {}
        if self.identity:
            opts["inbox_prefix"] = inbox_prefix(self.identity)
        if self.nkey_seed_file:
            seed = _readable(self.nkey_seed_file, "nkey seed")
            if not seed.read_text(encoding="ascii", errors="replace").strip().startswith("SU"):
                raise SecurityError("nkey seed", str(seed), "not a user seed (SU…)")
            opts["nkeys_seed"] = str(seed)
        if self.tls_ca or self.tls_cert or self.tls_key:
            opts["tls"] = self.ssl_context()
        return opts

    def ssl_context(self) -> ssl.SSLContext:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise SecurityError(
                "tls client certificate",
                str(self.tls_cert or self.tls_key),
                "needs both nats.tls_cert and nats.tls_key",
            )
        ca = _readable(self.tls_ca, "tls ca") if self.tls_ca else None
        try:
            ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
            if self.tls_cert and self.tls_key:
                ctx.load_cert_chain(
                    _readable(self.tls_cert, "tls cert"), _readable(self.tls_key, "tls key")
                )
        except ssl.SSLError as exc:
            raise SecurityError("tls files", str(ca), str(exc)) from exc
        return ctx


def _readable(path: str | None, what: str) -> Path:
    p = Path(path or "")
    if not p.is_file():
        raise SecurityError(what, str(p), "no such file")
    return p
