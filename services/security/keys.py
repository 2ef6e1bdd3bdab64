"""Generating what a secured deployment needs: nkey seeds, a CA with certificates, the
JetStream encryption key. Secrets are written owner-only (0600) and never overwritten."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import nkeys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from services.security.credentials import PUBLIC_SUFFIX, SEED_SUFFIX

CA_FILE, CA_KEY = "ca.pem", "ca-key.pem"
SERVER_CERT, SERVER_KEY = "server.pem", "server-key.pem"
CLIENT_CERT, CLIENT_KEY = "client.pem", "client-key.pem"
JS_KEY_FILE = "js-key.conf"


@dataclass
class KeyFileError(Exception):
    """A key file exists already or cannot be read; not recoverable without a decision."""

    path: str
    detail: str
    recoverable: bool = False

    def __str__(self) -> str:
        return f"{self.path}: {self.detail}"


def _write_secret(path: Path, data: bytes, *, force: bool = False) -> None:
    if path.exists() and not force:
        raise KeyFileError(str(path), "exists already; remove it first (or pass --force)")
    path.parent.mkdir(parents=True, exist_ok=True)
    if force:
        path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def new_user_seed() -> bytes:
    """A fresh nkey user seed (``SU…``)."""
    seed: bytes = nkeys.encode_seed(secrets.token_bytes(32), nkeys.PREFIX_BYTE_USER)
    return seed


def public_key(seed: bytes) -> str:
    key: bytes = nkeys.from_seed(bytearray(seed)).public_key
    return key.decode()


def write_nkeys(out: Path, identities: list[str], *, force: bool = False) -> dict[str, str]:
    """``<identity>.nk`` (seed, 0600, for the client) and ``<identity>.pub`` (public key, for
    the server config) per identity; returns identity → public key."""
    found: dict[str, str] = {}
    for identity in identities:
        seed = new_user_seed()
        _write_secret(out / f"{identity}{SEED_SUFFIX}", seed + b"\n", force=force)
        pub = public_key(seed)
        (out / f"{identity}{PUBLIC_SUFFIX}").write_text(pub + "\n", encoding="ascii")
        found[identity] = pub
    return found


def read_public_keys(directory: Path) -> dict[str, str]:
    """identity → public key, from the ``.pub`` files (or the seeds, where no ``.pub`` is)."""
    found: dict[str, str] = {}
    for path in sorted(directory.glob(f"*{SEED_SUFFIX}")):
        found[path.name.removesuffix(SEED_SUFFIX)] = public_key(path.read_bytes().strip())
    for path in sorted(directory.glob(f"*{PUBLIC_SUFFIX}")):
        found[path.name.removesuffix(PUBLIC_SUFFIX)] = path.read_text(encoding="ascii").strip()
    if not found:
        raise KeyFileError(str(directory), "no *.pub or *.nk files: run `vigie ops nkeys` first")
    return found


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Vigie"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _sans(hosts: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def write_certs(out: Path, hosts: list[str], *, days: int = 365, force: bool = False) -> list[Path]:
    """A CA, a server certificate for ``hosts`` and a client certificate (for mutual TLS)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Vigie CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    written = [out / CA_FILE, out / CA_KEY]
    _write_secret(out / CA_KEY, _pem_key(ca_key), force=force)
    _write_secret(out / CA_FILE, ca.public_bytes(serialization.Encoding.PEM), force=force)
    for cert_file, key_file, cn, usage, sans in (
        (SERVER_CERT, SERVER_KEY, hosts[0], ExtendedKeyUsageOID.SERVER_AUTH, _sans(hosts)),
        (CLIENT_CERT, CLIENT_KEY, "vigie-client", ExtendedKeyUsageOID.CLIENT_AUTH, []),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        _write_secret(out / key_file, _pem_key(key), force=force)
        _write_secret(out / cert_file, cert.public_bytes(serialization.Encoding.PEM), force=force)
        written += [out / cert_file, out / key_file]
    return written


def new_js_key() -> str:
    """A JetStream encryption key: 32 random bytes, hex."""
    return secrets.token_hex(32)


def write_js_key(path: Path, *, force: bool = False) -> str:
    """A config fragment ``key: "…"`` the server includes inside its jetstream block."""
    key = new_js_key()
    _write_secret(path, f'key: "{key}"\n'.encode(), force=force)
    return key
