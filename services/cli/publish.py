"""`vigie publish`: put one report on a feed subject, durably, the way a publisher would."""

from __future__ import annotations

import argparse
import sys

import anyio
import anyio.to_thread

from bus.publish import JetStreamPublisher, PublishReceipt
from bus.telemetry import new_root, parse_traceparent
from bus.topology import KINDS, LABELS, SOURCE_RE, parse_feed_subject
from schemas import headers as H
from schemas.v1 import PRECEDENCES
from services.cli.common import (
    add_nats_option,
    check_size,
    cli_connection,
    fail,
)
from services.config.load import LoadedConfig

CONTENT_TYPES = {"json": "application/json", "text": "text/plain; charset=utf-8"}
FEED_RULE = (
    f"feeds.<label>.<kind>.<source> with label {'|'.join(LABELS)}, kind {'|'.join(KINDS)}, "
    f"source {SOURCE_RE.pattern.strip('^$')}"
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "publish",
        help="publish one report to a feed subject and wait for the server to store it",
        description="Publish FILE (or stdin) to a feeds.<label>.<kind>.<source> subject. "
        "Prints the stream and sequence it was stored at, or that the server dropped it as a "
        "repeat of an earlier --id.",
    )
    p.add_argument("--subject", required=True, help=f"feed subject: {FEED_RULE}")
    p.add_argument("file", nargs="?", default="-", metavar="FILE", help="payload ('-': stdin)")
    p.add_argument(
        "--precedence",
        type=_precedence,
        help="FLASH|IMMEDIATE|PRIORITY|ROUTINE (or Z, O, P, R); sets the Vigie-Precedence header",
    )
    p.add_argument("--id", help="publisher's report id (Nats-Msg-Id): a repeat is dropped")
    p.add_argument("--language", help="ISO 639-1 code of the text (skips detection)")
    p.add_argument("--originator", help="unit, callsign or operator who wrote it")
    p.add_argument("--observed-at", metavar="TIME", help="ISO-8601 with offset, or a DTG")
    p.add_argument(
        "--content-type",
        choices=sorted(CONTENT_TYPES),
        help="default: the server side sniffs ('{' first means JSON)",
    )
    p.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="K=V",
        type=_header,
        help="extra header (repeatable); wins over the options above",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="publish even when the subject breaks the feeds contract",
    )
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the ack")
    add_nats_option(p)
    p.set_defaults(func=cmd_publish)


def _precedence(value: str) -> str:
    word = H.PRECEDENCE_LETTERS.get(value.upper(), value.upper())
    if word not in PRECEDENCES:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not one of {', '.join(PRECEDENCES)} (or Z, O, P, R)"
        )
    return word


def _header(value: str) -> tuple[str, str]:
    name, sep, text = value.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"{value!r} is not NAME=VALUE")
    return name.strip(), text


def feed_subject_problem(subject: str, labels: tuple[str, ...]) -> str | None:
    """Why ``subject`` will not be ingested under this configuration, or None."""
    feed = parse_feed_subject(subject)
    if feed is None:
        return f"subject {subject!r} breaks the feeds contract: {FEED_RULE}"
    if feed.label not in labels:
        return (
            f"label {feed.label!r} has no streams in this configuration "
            f"(bus.labels = {', '.join(labels)})"
        )
    return None


def build_headers(args: argparse.Namespace) -> dict[str, str]:
    headers: dict[str, str] = {}
    options = (
        (H.MSG_ID, args.id),
        (H.PRECEDENCE, args.precedence),
        (H.LANGUAGE, args.language),
        (H.ORIGINATOR, args.originator),
        (H.OBSERVED_AT, args.observed_at),
        (H.CONTENT_TYPE, CONTENT_TYPES.get(args.content_type or "")),
    )
    headers.update((name, value) for name, value in options if value)
    headers.update(args.header)
    return headers


async def read_payload(path: str) -> bytes:
    if path == "-":
        if sys.stdin.isatty():
            print("reading the report from stdin (Ctrl-D ends it)", file=sys.stderr, flush=True)
        return await anyio.to_thread.run_sync(sys.stdin.buffer.read)
    return await anyio.Path(path).read_bytes()


def describe_receipt(receipt: PublishReceipt, trace_id: str | None) -> str:
    where = f"{receipt.stream} seq {receipt.seq}"
    if receipt.duplicate:
        return f"duplicate of an earlier publish ({where})"
    # A traceparent given with --header that does not parse: ingest will start a new trace.
    return f"stored in {where} (trace {trace_id or 'started by ingest'})"


async def cmd_publish(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    problem = feed_subject_problem(args.subject, tuple(loaded.config.bus.labels))
    if problem and not args.force:
        return fail(f"{problem} (--force publishes anyway)", code=2)
    try:
        payload = await read_payload(args.file)
    except OSError as exc:
        return fail(f"cannot read {args.file}: {exc.strerror or exc}", code=2)
    headers = build_headers(args)
    headers.setdefault(H.TRACEPARENT, new_root().traceparent)
    trace = parse_traceparent(headers[H.TRACEPARENT])
    msg_id = headers.pop(H.MSG_ID, None)
    async with cli_connection(args, loaded) as nc:
        check_size(nc, args.subject, payload)
        js = nc.jetstream()
        receipt = await JetStreamPublisher(js, timeout=args.timeout).publish(
            args.subject, payload, msg_id=msg_id or None, headers=headers
        )
    print(describe_receipt(receipt, trace.trace_id if trace else None), flush=True)
    return 0
