"""``vigie ops …`` (identities, certificates, server config, provisioning, and what an air-gapped
install needs: SBOM, licences, vulnerability audit, the signed model registry) and
``vigie purge``."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
from pathlib import Path

from bus.embedded import render_server_config
from bus.provision import provision
from bus.purge import PurgeError, purge_before
from bus.security.permissions import UnknownIdentity, identities, permissions_for
from bus.security.serverconf import (
    CIPHERS,
    KEY_ENV,
    Encryption,
    TlsFiles,
    User,
    render_authorization,
    render_encryption,
    render_tls,
)
from bus.topology import LABELS, build_topology
from services.cli import lockcheck
from services.cli.common import add_nats_option, cli_connection, fail, table
from services.cli.supply import register_supply_chain
from services.config.load import LoadedConfig
from services.config.schema import topology_settings
from services.security import keys

_AGO = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: Labels whose servers encrypt at rest unless told otherwise.
SECRET_LABELS = ("s", "ts")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ops = sub.add_parser("ops", help="secure a deployment: identities, certificates, server")
    ops_sub = ops.add_subparsers(dest="ops_command", required=True, metavar="OPS_COMMAND")

    p = ops_sub.add_parser("nkeys", help="an nkey seed (.nk) and public key (.pub) per identity")
    p.add_argument("--out", required=True, type=Path, metavar="DIR")
    p.add_argument(
        "--per-label",
        action="store_true",
        help="one identity per service and label (ingest-s…) instead of one per service",
    )
    p.add_argument("--force", action="store_true", help="replace existing files")
    p.set_defaults(func=cmd_nkeys)

    p = ops_sub.add_parser("certs", help="a CA, a server and a client certificate (PEM)")
    p.add_argument("--out", required=True, type=Path, metavar="DIR")
    p.add_argument(
        "--hosts",
        default="localhost,127.0.0.1,::1",
        help="names and addresses the server certificate is valid for (comma-separated)",
    )
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--force", action="store_true", help="replace existing files")
    p.set_defaults(func=cmd_certs)

    p = ops_sub.add_parser("js-key", help="a JetStream encryption key, as a config fragment")
    p.add_argument("--out", required=True, type=Path, metavar="FILE")
    p.add_argument("--force", action="store_true", help="replace an existing file")
    p.set_defaults(func=cmd_js_key)

    p = ops_sub.add_parser(
        "lock-check", help="exit 1 unless the installed packages are exactly a lock of ops/lock/"
    )
    p.add_argument("lock", type=Path, metavar="LOCK", help="e.g. ops/lock/runtime.txt")
    p.set_defaults(func=cmd_lock_check)

    p = ops_sub.add_parser("server-config", help="nats-server config: users, TLS, encryption")
    p.add_argument("--auth", required=True, type=Path, metavar="DIR", help="from `ops nkeys`")
    p.add_argument("--tls", type=Path, metavar="DIR", help="from `ops certs`: TLS on")
    p.add_argument("--mtls", action="store_true", help="clients must present a certificate")
    p.add_argument(
        "--encrypt",
        choices=("auto", "on", "off"),
        default="auto",
        help=f"encryption at rest; auto = on when bus.labels holds {' or '.join(SECRET_LABELS)}",
    )
    p.add_argument("--cipher", choices=CIPHERS, default="chachapoly")
    p.add_argument(
        "--key-file",
        type=Path,
        metavar="FILE",
        help=f"from `ops js-key` (included); default: the ${KEY_ENV} environment variable",
    )
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--port", type=int, default=4222)
    p.add_argument("--store-dir", type=Path, default=Path("/var/lib/vigie/nats"))
    p.add_argument("--out", required=True, type=Path, metavar="FILE")
    p.set_defaults(func=cmd_server_config)

    p = ops_sub.add_parser("provision", help="create or update the topology (provisioner)")
    add_nats_option(p)
    p.set_defaults(func=cmd_provision)

    register_supply_chain(ops_sub)

    p = sub.add_parser("purge", help="remove a label's messages stored before a time")
    p.add_argument("--label", required=True, choices=LABELS)
    p.add_argument(
        "--before",
        required=True,
        metavar="T",
        help="ISO-8601 time with offset (2026-11-01T00:00:00+00:00), or an age: 30d, 12h, 90m",
    )
    p.add_argument("--dry-run", action="store_true", help="count, remove nothing")
    add_nats_option(p)
    p.set_defaults(func=cmd_purge)


async def cmd_nkeys(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    topology = build_topology(topology_settings(loaded.config))
    names = identities(topology, per_label=args.per_label)
    try:
        written = keys.write_nkeys(args.out, names, force=args.force)
    except keys.KeyFileError as exc:
        return fail(str(exc))
    print(table(["identity", "public key"], sorted(written.items())))
    print(f"seeds (secret, 0600) in {args.out}/<identity>.nk; give each process only its own")
    return 0


async def cmd_certs(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    hosts = [h.strip() for h in args.hosts.split(",") if h.strip()]
    if not hosts or args.days < 1:
        return fail("--hosts needs at least one name and --days at least 1")
    try:
        written = keys.write_certs(args.out, hosts, days=args.days, force=args.force)
    except keys.KeyFileError as exc:
        return fail(str(exc))
    print("\n".join(str(p) for p in written))
    return 0


async def cmd_js_key(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    try:
        keys.write_js_key(args.out, force=args.force)
    except keys.KeyFileError as exc:
        return fail(str(exc))
    print(f"{args.out}: pass it to `vigie ops server-config --key-file {args.out}`")
    return 0


async def cmd_lock_check(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    return lockcheck.main([str(args.lock)])


def server_config_text(args: argparse.Namespace, loaded: LoadedConfig) -> str:
    """The whole nats-server config; raises ValueError, UnknownIdentity or KeyFileError."""
    topology = build_topology(topology_settings(loaded.config))
    users = [
        User(pub, permissions_for(topology, identity))
        for identity, pub in keys.read_public_keys(args.auth).items()
    ]
    extra = render_authorization(users)
    if args.tls is not None:
        tls = args.tls.absolute()
        files = TlsFiles(tls / keys.SERVER_CERT, tls / keys.SERVER_KEY, tls / keys.CA_FILE)
        extra += render_tls(files, verify=args.mtls)
    encrypt = args.encrypt == "on" or (
        args.encrypt == "auto" and any(lb in SECRET_LABELS for lb in loaded.config.bus.labels)
    )
    jetstream = ""
    if encrypt:
        key_file = (
            Path(os.path.relpath(args.key_file.absolute(), args.out.absolute().parent))
            if args.key_file
            else None
        )
        jetstream = render_encryption(Encryption(args.cipher, KEY_ENV, key_file))
    return render_server_config(
        host=args.host,
        port=args.port,
        store_dir=args.store_dir.absolute(),
        sync_interval=loaded.config.nats.sync_interval,
        jetstream_extra=jetstream,
        extra=extra,
    ).replace("Written by bus/embedded.py; edits are overwritten at the next start.", _HEADER)


_HEADER = "Written by `vigie ops server-config`; regenerate it rather than editing it."


async def cmd_server_config(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    try:
        text = server_config_text(args, loaded)
    except (ValueError, UnknownIdentity, keys.KeyFileError) as exc:
        return fail(str(exc), 2)
    args.out.write_text(text, encoding="utf-8")
    print(f"{args.out}: check it with `nats-server -c {args.out} -t`")
    return 0


async def cmd_provision(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    topology = build_topology(topology_settings(loaded.config))
    async with cli_connection(args, loaded) as nc:
        report = await provision(nc.jetstream(), topology)
    print(
        f"created {len(report.created)}, updated {len(report.updated)}, "
        f"unchanged {len(report.unchanged)}"
    )
    return 0


def parse_before(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """An ISO-8601 time with an offset, or an age (``30d``) counted back from now."""
    now = now or dt.datetime.now(dt.UTC)
    if m := _AGO.match(text.strip()):
        return now - dt.timedelta(seconds=float(m[1]) * _UNIT[m[2]])
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--before {text!r}: not an ISO-8601 time nor an age like 30d") from None
    if when.tzinfo is None:
        raise ValueError(f"--before {text!r}: give an offset (+00:00 or Z)")
    return when


async def cmd_purge(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    try:
        before = parse_before(args.before)
    except ValueError as exc:
        return fail(str(exc), 2)
    topology = build_topology(topology_settings(loaded.config))
    streams = [s.name for s in topology.streams if s.label == args.label]
    if not streams:
        return fail(f"label {args.label} has no streams here (bus.labels)", 2)
    rows = []
    async with cli_connection(args, loaded) as nc:
        for name in streams:
            try:
                done = await purge_before(nc, name, before, dry_run=args.dry_run)
            except PurgeError as exc:
                return fail(str(exc))
            rows.append((name, done.removed, "-" if done.first_kept is None else done.first_kept))
    verb = "would remove" if args.dry_run else "removed"
    print(table(["stream", verb, "first kept"], rows))
    return 0
