"""Who may reach the console: the bind policy, Host and Origin checks, sessions and logins.

Pure (standard library only). On loopback a page load opens a session whose token the event
stream and the API require; the Host header must name the console (a DNS-rebinding page names
its own host) and an Origin, when a browser sends one, must be the console's own. Any other bind
address must serve TLS and ask for an analyst login: the console holds an analyst's NATS
credentials and must never hand that clearance to whoever reaches the port.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

#: Sessions kept at once (a page load opens one); the oldest goes first.
MAX_SESSIONS = 256
SESSION_TTL_S = 12 * 3600.0
#: scrypt cost of stored passwords (RFC 7914 interactive parameters).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


@dataclass
class ConsoleRefused(Exception):
    """The console will not start as asked; fix the options. Not recoverable by retrying."""

    reason: str
    recoverable: bool = False

    def __str__(self) -> str:
        return self.reason


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(bind: str, *, tls: bool, logins: bool) -> None:
    """Refuse a bind beyond loopback without both TLS and a users file."""
    if is_loopback(bind):
        return
    missing = [
        what
        for what, ok in (("TLS (--tls-cert/--tls-key)", tls), ("logins (--users)", logins))
        if not ok
    ]
    if missing:
        raise ConsoleRefused(
            f"console: binding {bind} (not loopback) needs {' and '.join(missing)}: the console "
            "reads with an analyst's credentials and must not hand them to whoever reaches the port"
        )


def allowed_hosts(bind: str, port: int, extra: tuple[str, ...] = ()) -> frozenset[str]:
    """The Host header values that name this console."""
    names = {bind, *extra}
    if is_loopback(bind):
        names |= {"localhost", "127.0.0.1", "[::1]"}
    hosts = set()
    for name in names:
        shown = f"[{name}]" if ":" in name and not name.startswith("[") else name
        hosts |= {f"{shown}:{port}".lower()}
    return frozenset(hosts)


def host_ok(host: str | None, allowed: frozenset[str]) -> bool:
    return host is not None and host.strip().lower() in allowed


def origin_ok(origin: str | None, allowed: frozenset[str], scheme: str) -> bool:
    """No Origin (a same-origin GET) is fine; a present one must be the console's own."""
    if origin is None:
        return True
    prefix = f"{scheme}://"
    return origin.startswith(prefix) and origin[len(prefix) :].lower() in allowed


@dataclass(frozen=True)
class Session:
    token: str
    user: str | None
    opened: float


@dataclass
class Sessions:
    """Bounded table of open sessions (depth exposed as ``len``)."""

    ttl: float = SESSION_TTL_S
    limit: int = MAX_SESSIONS
    _by_token: OrderedDict[str, Session] = field(default_factory=OrderedDict)

    def __len__(self) -> int:
        return len(self._by_token)

    def open(self, user: str | None, now: float | None = None) -> Session:
        session = Session(secrets.token_urlsafe(32), user, time.monotonic() if now is None else now)
        self._by_token[session.token] = session
        while len(self._by_token) > self.limit:
            self._by_token.popitem(last=False)
        return session

    def check(self, token: str | None, now: float | None = None) -> Session | None:
        """The session of ``token`` (compared in constant time), or None."""
        if not token:
            return None
        now = time.monotonic() if now is None else now
        found = None
        for known, session in self._by_token.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                found = session
        if found is None or now - found.opened > self.ttl:
            return None
        return found


# ---------------------------------------------------------------- logins


def hash_password(password: str, salt: bytes | None = None) -> str:
    """The stored form of a password: ``scrypt:N:r:p:<salt hex>:<hash hex>``."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return f"scrypt:{SCRYPT_N}:{SCRYPT_R}:{SCRYPT_P}:{salt.hex()}:{digest.hex()}"


def verify_password(stored: str, password: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split(":")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode(),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=2**26,
        )
    except ValueError:
        return False
    return hmac.compare_digest(got.hex(), digest)


@dataclass(frozen=True)
class Users:
    """Analyst logins: one ``name:scrypt:…`` line each (``vigie console --hash-password``)."""

    stored: dict[str, str]

    @classmethod
    def parse(cls, text: str, where: str = "users file") -> Users:
        stored: dict[str, str] = {}
        for number, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, sep, rest = line.partition(":")
            if not sep or not name or not rest.startswith("scrypt:"):
                raise ConsoleRefused(f"console: {where} line {number}: expected name:scrypt:…")
            stored[name] = rest
        if not stored:
            raise ConsoleRefused(f"console: {where} holds no login")
        return cls(stored)

    @classmethod
    def load(cls, path: Path) -> Users:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConsoleRefused(f"console: cannot read users file {path}: {exc}") from exc
        return cls.parse(text, str(path))

    def verify(self, name: str, password: str) -> bool:
        stored = self.stored.get(name)
        # A name that does not exist costs the same as a wrong password.
        return verify_password(stored or hash_password("", b"\0" * 16), password) and bool(stored)


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """``Authorization: Basic …`` → (name, password), or None."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    name, sep, password = decoded.partition(":")
    return (name, password) if sep and name else None
