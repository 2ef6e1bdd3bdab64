"""The operator's signature over the model registry: an Ed25519 key pair and a detached signature.

``vigie ops models-key`` writes the pair (the private key owner-only, 0600, never overwritten);
``vigie ops sign-models`` signs the registry file's bytes into ``<registry>.sig``; the engine and
``vigie models`` check it against the public key the configuration names
(``inference.models_signing_key``; :func:`services.catalogue.verify_registry_signature`). The
registry pins the sha256 of every model it lists, so its signature vouches for the weights too.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)

from services.catalogue import (
    key_fingerprint,
    render_signature,
    signature_path,
    signed_message,
)
from services.security.keys import KeyFileError, _write_secret

PRIVATE_KEY_FILE = "models-signing.key"
PUBLIC_KEY_FILE = "models-signing.pub"


def write_signing_key(out: Path, *, force: bool = False) -> tuple[Path, Path, str]:
    """A fresh key pair in ``out``: (private key file, public key file, fingerprint)."""
    key = Ed25519PrivateKey.generate()
    private, public = out / PRIVATE_KEY_FILE, out / PUBLIC_KEY_FILE
    if public.exists() and not force:
        raise KeyFileError(str(public), "exists already; remove it first (or pass --force)")
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    _write_secret(private, pem, force=force)
    pub = key.public_key()
    public.write_bytes(pub.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    return private, public, key_fingerprint(pub.public_bytes(Encoding.Raw, PublicFormat.Raw))


def read_private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in ``path`` (PEM); raises KeyFileError."""
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as e:
        raise KeyFileError(str(path), f"cannot read a private key: {e}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(str(path), "not an Ed25519 private key (`vigie ops models-key`)")
    return key


def sign_registry(registry: Path, private_key: Path) -> tuple[Path, str]:
    """Sign ``registry``'s bytes with the key in ``private_key``; writes ``<registry>.sig``
    (replacing an older one: re-sign after every reviewed edit) and returns (signature file,
    key fingerprint)."""
    key = read_private_key(private_key)
    try:
        data = registry.read_bytes()
    except OSError as e:
        raise KeyFileError(str(registry), f"cannot read the registry: {e}") from None
    pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    fingerprint = key_fingerprint(pub)
    target = signature_path(registry)
    staged = target.with_name(f".{target.name}.new")
    staged.write_text(render_signature(key.sign(signed_message(data)), fingerprint), "ascii")
    staged.replace(target)  # whole or not at all: a reader never sees half a signature
    return target, fingerprint
