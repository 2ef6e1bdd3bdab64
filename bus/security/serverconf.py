"""nats-server config text for a secured deployment: users, TLS, encryption at rest.

Pure text rendering (no I/O). The users and their permissions come from
``bus.security.permissions``; the node's own settings (listen, store, payload, sync) from
``bus.embedded.render_server_config``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bus.security.permissions import Permissions

Cipher = Literal["chachapoly", "aes"]
CIPHERS: tuple[Cipher, ...] = ("chachapoly", "aes")
#: Environment variable the rendered configs read the encryption key from.
KEY_ENV = "VIGIE_JS_KEY"
_NKEY_PUBLIC = re.compile(r"U[A-Z2-7]{55}")
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")


@dataclass(frozen=True)
class User:
    """One authorization entry: an nkey public key (``U…``) and what it may do."""

    nkey: str
    permissions: Permissions


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    ca: Path


@dataclass(frozen=True)
class Encryption:
    """JetStream encryption at rest; the key from the environment or a config fragment file
    (``key: "…"``, written by ``vigie ops js-key``; its path relative to the config file),
    never from the config itself."""

    cipher: Cipher = "chachapoly"
    key_env: str | None = KEY_ENV
    key_file: Path | None = None


def _q(text: str) -> str:
    # JSON strings are valid quoted strings in the server's config format, `$` kept literal.
    return json.dumps(text)


def _absolute(path: Path, what: str) -> str:
    if not path.is_absolute() or any(c in str(path) for c in '"\\\n'):
        raise ValueError(f"{what} must be an absolute path without quotes, got {str(path)!r}")
    return _q(str(path))


def render_permissions(p: Permissions, indent: str = "      ") -> str:
    pub = ", ".join(_q(s) for s in p.publish)
    sub = ", ".join(_q(s) for s in p.subscribe)
    lines = [
        f"{indent}publish: {{ allow: [{pub}] }}",
        f"{indent}subscribe: {{ allow: [{sub}] }}",
    ]
    if p.allow_responses:
        lines.append(f"{indent}allow_responses: true")
    return "\n".join(lines)


def render_authorization(users: Sequence[User]) -> str:
    """An ``authorization`` block: one user per nkey; each may do only what it is allowed."""
    if not users:
        raise ValueError("no users: generate identities first with `vigie ops nkeys --out DIR`")
    entries = []
    for user in users:
        if not _NKEY_PUBLIC.fullmatch(user.nkey):
            raise ValueError(
                f"{user.permissions.identity}: {user.nkey!r} is not an nkey user public key"
            )
        entries.append(
            f"    # {user.permissions.identity}\n"
            f"    {{\n      nkey: {user.nkey}\n      permissions: {{\n"
            f"{render_permissions(user.permissions, '        ')}\n      }}\n    }}"
        )
    return "authorization {\n  users: [\n" + ",\n".join(entries) + "\n  ]\n}\n"


def render_tls(files: TlsFiles, *, verify: bool) -> str:
    """The client port's TLS; ``verify`` = mutual TLS (clients need a certificate of the CA)."""
    return (
        "tls {\n"
        f"  cert_file: {_absolute(files.cert, 'tls cert')}\n"
        f"  key_file: {_absolute(files.key, 'tls key')}\n"
        f"  ca_file: {_absolute(files.ca, 'tls ca')}\n"
        f"  verify: {'true' if verify else 'false'}\n"
        "  timeout: 5\n"
        "}\n"
    )


def render_encryption(enc: Encryption) -> str:
    """Lines for inside the ``jetstream`` block."""
    if enc.cipher not in CIPHERS:
        raise ValueError(f"cipher must be one of {', '.join(CIPHERS)}, got {enc.cipher!r}")
    if enc.key_file is not None:
        # The server resolves an include against the including file's directory, ALWAYS (an
        # absolute path is joined to it too): the path must be relative to the config file.
        if enc.key_file.is_absolute() or any(c in str(enc.key_file) for c in '"\\\n'):
            raise ValueError(f"key file must be relative to the config file: {enc.key_file}")
        key = f"include {_q(str(enc.key_file))}"
    elif enc.key_env and _ENV_NAME.fullmatch(enc.key_env):
        # A variable reference: the server refuses to start when it is unset.
        key = f"key: ${enc.key_env}"
    else:
        raise ValueError(f"encryption needs a key file or an environment variable name: {enc}")
    return f"cipher: {enc.cipher}\n  {key}"
