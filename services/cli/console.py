"""`vigie console`: the analyst's screen in a browser, fed with the analyst's own credentials.

The server reads the bus as the identity of ``--creds`` (an analyst's nkey seed,
``analyst-<label>.nk``), so the page shows exactly what NATS lets that analyst read. Loopback by
default; any other ``--bind`` needs ``--tls-cert``/``--tls-key`` and ``--users`` (logins made
with ``vigie console --hash-password NAME``).
"""

from __future__ import annotations

import argparse
import getpass
import ssl
import sys
from pathlib import Path
from typing import Any

import anyio

from bus.connect import connect
from bus.security.client import ClientSecurity, SecurityError
from bus.topology import build_topology
from services.cli.common import _Muted, add_nats_option, fail, nats_url
from services.config.load import LoadedConfig
from services.config.schema import topology_settings
from services.console.access import ConsoleRefused, Users, check_bind, hash_password
from services.console.bus import ConsoleBus, Reader
from services.console.feedback import correction_sink
from services.console.server import LANGS, ConsoleServer, ConsoleSettings
from services.security.credentials import SEED_SUFFIX, client_security
from services.tasks.registry import task_registry
from services.telemetry.service import telemetry_dir


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "console",
        help="the analyst console: live feed, reports, map, trace, dead letters, audit "
        "(a web page; loopback by default)",
    )
    add_nats_option(p)
    p.add_argument(
        "--creds",
        metavar="FILE",
        help="the analyst's nkey seed (analyst-<label>.nk); default: nats.identity in "
        "nats.nkeys_dir, none on an open server",
    )
    p.add_argument("--bind", metavar="ADDR", help="default console.bind (127.0.0.1)")
    p.add_argument("--port", type=int, metavar="N", help="default console.port (8470)")
    p.add_argument(
        "--replay",
        type=int,
        metavar="N",
        help="events replayed per readable label at start (default console.replay, 50)",
    )
    p.add_argument("--lang", choices=LANGS, help="page language (default console.lang, fr)")
    p.add_argument("--tls-cert", metavar="FILE", help="certificate to serve HTTPS with")
    p.add_argument("--tls-key", metavar="FILE", help="its private key")
    p.add_argument("--users", metavar="FILE", help="analyst logins (required beyond loopback)")
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="another host name the page may be reached by (repeatable)",
    )
    p.add_argument("--telemetry-dir", metavar="DIR", help="span export for the trace view")
    p.add_argument(
        "--hash-password",
        metavar="NAME",
        help="print a users-file line for NAME (password read from stdin) and exit",
    )
    p.set_defaults(func=cmd_console)


def security_for(args: argparse.Namespace, loaded: LoadedConfig) -> ClientSecurity | None:
    nats = loaded.config.nats
    if args.creds:
        seed = Path(args.creds).expanduser()
        if not seed.is_file():
            raise SecurityError("nkey seed", str(seed), "no such file")
        identity = seed.name.removesuffix(SEED_SUFFIX)
        return ClientSecurity(
            identity=identity,
            nkey_seed_file=str(seed),
            tls_ca=nats.tls_ca,
            tls_cert=nats.tls_cert,
            tls_key=nats.tls_key,
        )
    security = client_security(nats)
    if (
        security is not None
        and security.nkey_seed_file
        and not (security.identity or "").startswith("analyst-")
    ):
        raise ConsoleRefused(
            "console: reads with an analyst's credentials: give --creds FILE "
            "(analyst-<label>.nk) or set nats.identity to analyst-<label>"
        )
    return security


def tls_context(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ConsoleRefused("console: --tls-cert and --tls-key go together")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConsoleRefused(f"console: cannot use {cert} / {key}: {exc}") from exc
    return ctx


async def cmd_console(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    if args.hash_password:
        password = (
            sys.stdin.readline().rstrip("\n")
            if not sys.stdin.isatty()
            else getpass.getpass(f"password for {args.hash_password}: ")
        )
        if not password:
            return fail("console: empty password", 2)
        print(f"{args.hash_password}:{hash_password(password)}")
        return 0
    try:
        settings = console_settings(args, loaded)
        security = security_for(args, loaded)
    except ConsoleRefused as exc:
        return fail(str(exc), 2)
    url = nats_url(args, loaded)
    with _Muted():
        nc = await connect(
            url,
            name="vigie-console",
            connect_timeout=loaded.config.nats.connect_timeout,
            security=security,
        )
    try:
        topology = build_topology(topology_settings(loaded.config))
        reader = Reader(security.identity if security else None)
        bus = ConsoleBus(nc, topology, reader, replay=settings.replay)
        labels = await bus.probe(reader.candidates(topology))
        if not labels:
            return fail(
                f"console: {reader.identity or 'this client'} may read no label on {url} "
                "(not provisioned, or not cleared for any)"
            )
        fills = dict(task_registry(loaded.config.tasks.extra_rows).fills())
        server = ConsoleServer(settings, bus, sink=correction_sink(topology, nc.jetstream(), fills))
        async with anyio.create_task_group() as tg:
            port = await tg.start(server.run)
            host = f"[{settings.bind}]" if ":" in settings.bind else settings.bind
            print(f"vigie: console on {server.scheme}://{host}:{port}/", flush=True)
    finally:
        with anyio.CancelScope(shield=True), _Muted():
            await nc.close()
    return 0


def console_settings(args: argparse.Namespace, loaded: LoadedConfig) -> ConsoleSettings:
    """The flags, else the ``console`` section of the configuration."""
    c = loaded.config.console

    def pick(flag: Any, setting: Any) -> Any:
        return setting if flag is None else flag

    replay = pick(args.replay, c.replay)
    if replay < 0:
        raise ConsoleRefused("console: --replay must be ≥ 0")
    tls = tls_context(pick(args.tls_cert, c.tls_cert), pick(args.tls_key, c.tls_key))
    users_file = pick(args.users, c.users)
    users = Users.load(Path(users_file).expanduser()) if users_file else None
    bind = pick(args.bind, c.bind)
    check_bind(bind, tls=tls is not None, logins=users is not None)
    directory = Path(args.telemetry_dir) if args.telemetry_dir else telemetry_dir(loaded.config)
    return ConsoleSettings(
        bind=bind,
        port=pick(args.port, c.port),
        replay=replay,
        lang=pick(args.lang, c.lang),
        tls=tls,
        users=users,
        extra_hosts=(*c.allow_hosts, *args.allow_host),
        telemetry_dir=directory,
        local_user=None if users is not None else _local_account(),
    )


def _local_account() -> str | None:
    try:
        return f"local:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid
        return None
