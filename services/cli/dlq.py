"""`vigie dlq list|show|requeue`: read the dead-letter streams and send a letter back."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_args

import anyio
import msgspec
import orjson
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from bus.publish import JetStreamPublisher
from bus.telemetry import new_root
from bus.topology import LABELS, stream_name
from schemas import headers as H
from schemas.v1 import DeadLetter, DeadLetterReason, dead_letter_decoder
from services.cli.common import (
    JETSTREAM_ERRORS,
    add_nats_option,
    check_size,
    cli_connection,
    describe_error,
    fail,
    shorten,
    table,
)
from services.cli.publish import describe_receipt, read_payload
from services.config.load import LoadedConfig

#: Messages fetched concurrently while scanning a DLQ stream backwards.
SCAN_BATCH = 64
SHOW_BYTES = 512
#: The server's error code for a stream that does not exist (the 404 of a missing message
#: has another).
STREAM_NOT_FOUND = 10059
#: Headers a requeue must not carry over: the server would drop the message as a repeat of
#: the original id, and the trace of the failed attempt is over.
_DROPPED = {h.lower() for h in (H.MSG_ID, H.TRACEPARENT, H.TRACESTATE)}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("dlq", help="list, show and requeue dead letters")
    actions = p.add_subparsers(dest="dlq_command", required=True, metavar="ACTION")

    ls = actions.add_parser("list", help="dead letters, newest first")
    ls.add_argument(
        "--label",
        action="append",
        choices=LABELS,
        help="repeatable (default: every label of bus.labels)",
    )
    ls.add_argument("--stage", help="only this stage (ingest, extract, collate, …)")
    ls.add_argument(
        "--reason",
        choices=get_args(DeadLetterReason),
        metavar="REASON",
        help="only this reason: " + ", ".join(get_args(DeadLetterReason)),
    )
    ls.add_argument("--limit", type=int, default=50, metavar="N", help="at most N (default 50)")
    ls.add_argument("--json", action="store_true", help="one JSON object per line")
    add_nats_option(ls)
    ls.set_defaults(func=cmd_list)

    show = actions.add_parser("show", help="one dead letter in full, with its original bytes")
    show.add_argument("seq", type=int, metavar="SEQ", help="sequence in the DLQ stream")
    show.add_argument("--label", required=True, choices=LABELS)
    show.add_argument("--json", action="store_true", help="as JSON (data in base64)")
    add_nats_option(show)
    show.set_defaults(func=cmd_show)

    rq = actions.add_parser(
        "requeue",
        help="publish a dead letter's input (or a corrected one) back to its subject",
        description="Publish the original bytes, or --file, to the dead letter's original "
        "subject with its original headers. The report keeps its id (Vigie-Report-Id) unless "
        "--new-id; use --new-id after an id_conflict. Requeueing the same bytes twice within "
        "the duplicate window stores them once. The dead letter itself stays in the DLQ "
        "stream as an audit record.",
    )
    rq.add_argument("seq", type=int, metavar="SEQ", help="sequence in the DLQ stream")
    rq.add_argument("--label", required=True, choices=LABELS)
    rq.add_argument("--file", metavar="CORRECTED", help="publish this file instead ('-': stdin)")
    rq.add_argument(
        "--new-id",
        action="store_true",
        help="do not keep the original report id (an 'id' in a JSON body still counts)",
    )
    add_nats_option(rq)
    rq.set_defaults(func=cmd_requeue)


@dataclass(frozen=True)
class Stored:
    """A message of a DLQ stream; ``letter`` is None when it is not a dead letter."""

    stream: str
    seq: int
    subject: str
    time: dt.datetime | None
    headers: dict[str, str]
    letter: DeadLetter | None


async def fetch(js: JetStreamContext, stream: str, seq: int) -> Stored | None:
    """The message at ``seq``; None when there is none (expired, deleted or not yet written)."""
    try:
        raw = await js.get_msg(stream, seq)
    except NotFoundError as exc:
        if exc.err_code == STREAM_NOT_FOUND:
            raise
        return None
    data = raw.data or b""
    try:
        letter: DeadLetter | None = dead_letter_decoder.decode(data)
    except msgspec.DecodeError:
        letter = None
    return Stored(stream, seq, raw.subject or "", raw.time, dict(raw.headers or {}), letter)


async def newest(
    js: JetStreamContext, stream: str, want: Callable[[Stored], bool], limit: int
) -> list[Stored]:
    """Up to ``limit`` wanted messages of ``stream``, newest first ([] when it does not exist).

    Sequences are read backwards a batch at a time, so an unfiltered listing costs one batch
    and a filtered one stops as soon as it has enough.
    """
    try:
        state = (await js.stream_info(stream)).state
    except NotFoundError:
        return []
    found: list[Stored] = []
    hi = state.last_seq
    while state.messages and hi >= state.first_seq and len(found) < limit:
        lo = max(state.first_seq, hi - SCAN_BATCH + 1)
        batch: dict[int, Stored | None] = {}

        async def get(seq: int, into: dict[int, Stored | None] = batch) -> None:
            into[seq] = await fetch(js, stream, seq)

        async with anyio.create_task_group() as tg:
            for seq in range(lo, hi + 1):
                tg.start_soon(get, seq)
        found += [m for seq in range(hi, lo - 1, -1) if (m := batch[seq]) and want(m)]
        hi = lo - 1
    return found[:limit]


def _when(at: dt.datetime | None) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ") if at else "-"


def _label_of(stream: str) -> str:
    return stream.rsplit("_", 1)[1].lower()


def summary(m: Stored) -> dict[str, Any]:
    letter = m.letter
    base: dict[str, Any] = {"label": _label_of(m.stream), "stream": m.stream, "seq": m.seq}
    if letter is None:
        return base | {"subject": m.subject, "time": _when(m.time), "reason": None}
    return base | {
        "time": _when(letter.at),
        "stage": letter.stage,
        "reason": letter.reason,
        "recoverable": letter.recoverable,
        "subject": letter.subject,
        "size": len(letter.data),
        "msg_id": letter.headers.get(H.MSG_ID),
        "message": letter.message,
    }


async def cmd_list(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    labels = args.label or list(loaded.config.bus.labels)

    def want(m: Stored) -> bool:
        if m.letter is None:
            return not (args.stage or args.reason)
        return (not args.stage or m.letter.stage == args.stage) and (
            not args.reason or m.letter.reason == args.reason
        )

    found: list[Stored] = []
    async with cli_connection(args, loaded) as nc:
        js = nc.jetstream(timeout=5.0)
        try:
            for label in labels:
                found += await newest(js, stream_name("dlq", label), want, args.limit)
        except JETSTREAM_ERRORS as exc:
            return fail(f"dlq list: the server did not answer: {describe_error(exc)}")
    # Each label's newest ``limit`` holds every one of its letters in the overall newest.
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    found.sort(key=lambda m: m.letter.at if m.letter else (m.time or epoch), reverse=True)
    rows = [summary(m) for m in found[: args.limit]]
    if args.json:
        for row in rows:
            print(orjson.dumps(row).decode(), flush=True)
        return 0
    if not rows:
        print(f"no dead letters in {', '.join(stream_name('dlq', lb) for lb in labels)}")
        return 0
    head = ("LABEL", "SEQ", "TIME", "STAGE", "REASON", "SUBJECT", "SIZE", "MESSAGE")
    lines = [
        (
            r["label"],
            r["seq"],
            r["time"],
            r.get("stage", "-"),
            r["reason"] or "(not a letter)",
            r["subject"],
            r.get("size", "-"),
            shorten(r.get("message", ""), 60),
        )
        for r in rows
    ]
    print(table(head, lines, right=(6,)), flush=True)
    return 0


async def _one(args: argparse.Namespace, js: JetStreamContext) -> Stored | str:
    """The letter at ``args.seq`` of the label's DLQ stream, or why there is none."""
    stream = stream_name("dlq", args.label)
    try:
        found = await fetch(js, stream, args.seq)
    except NotFoundError:
        return f"{stream} does not exist — run `vigie up` or any service"
    if found is None:
        return f"{stream} has no message at seq {args.seq} (see `vigie dlq list`)"
    if found.letter is None:
        return f"{stream} seq {args.seq} is not a dead letter"
    return found


def hex_dump(data: bytes) -> str:
    lines = []
    for offset in range(0, len(data), 16):
        chunk = data[offset : offset + 16]
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"  {offset:08x}  {chunk.hex(' '):<47}  {text}")
    return "\n".join(lines)


def format_letter(m: Stored) -> str:
    letter = m.letter
    assert letter is not None
    origin = f"{letter.stream or '-'} seq {letter.stream_seq or '-'}"
    if letter.deliveries is not None:
        origin += f", {letter.deliveries} deliveries"
    rows = [
        ("dead letter", f"{m.stream} seq {m.seq} on {m.subject}, stored {_when(m.time)}"),
        ("stage", letter.stage),
        ("reason", f"{letter.reason} ({'' if letter.recoverable else 'not '}recoverable)"),
        ("message", letter.message),
        ("at", _when(letter.at)),
        ("subject", letter.subject),
        ("from", origin),
        ("report id", letter.report_id or "-"),
        ("schema", letter.schema_version),
        *((f"field {k}", v) for k, v in sorted(letter.fields.items())),
    ]
    out = [f"{name:<12} {value}" for name, value in rows]
    out.append("original headers:")
    out += [f"  {k}: {v}" for k, v in letter.headers.items()] or ["  (none)"]
    out.append("dead letter headers:")
    out += [f"  {k}: {v}" for k, v in m.headers.items()] or ["  (none)"]
    try:
        text = letter.data.decode("utf-8")
        out += [f"data ({len(letter.data)} bytes, UTF-8):", text]
    except UnicodeDecodeError:
        shown = min(len(letter.data), SHOW_BYTES)
        out += [f"data ({len(letter.data)} bytes, not UTF-8; first {shown} shown):"]
        out.append(hex_dump(letter.data[:SHOW_BYTES]))
    return "\n".join(out)


async def cmd_show(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    async with cli_connection(args, loaded) as nc:
        try:
            found = await _one(args, nc.jetstream(timeout=5.0))
        except JETSTREAM_ERRORS as exc:
            return fail(f"dlq show: the server did not answer: {describe_error(exc)}")
    if isinstance(found, str):
        return fail(found)
    assert found.letter is not None
    if args.json:
        doc = {"dlq_stream": found.stream, "dlq_seq": found.seq, "dlq_headers": found.headers}
        doc |= msgspec.to_builtins(found.letter)
        with contextlib.suppress(UnicodeDecodeError):
            doc["data_text"] = found.letter.data.decode("utf-8")
        print(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode(), flush=True)
    else:
        print(format_letter(found), flush=True)
    return 0


def requeue_headers(letter: DeadLetter, *, new_id: bool) -> dict[str, str]:
    """The original headers, minus those that belong to the failed attempt, keeping (unless
    ``new_id``) the report's identity in Vigie-Report-Id: ingest prefers it to Nats-Msg-Id."""
    original_id = H.lookup(letter.headers, H.REPORT_ID) or H.lookup(letter.headers, H.MSG_ID)
    headers = {
        k: v
        for k, v in letter.headers.items()
        if k.lower() not in _DROPPED and k.lower() != H.REPORT_ID.lower()
    }
    if original_id and not new_id:
        headers[H.REPORT_ID] = original_id
    if letter.stream is not None and letter.stream_seq is not None:
        headers[H.REQUEUE_OF] = f"{letter.stream}:{letter.stream_seq}"
    return headers


def requeue_msg_id(stream: str, seq: int, payload: bytes) -> str:
    # The same bytes requeued twice are one message for the server; a new correction is not.
    return f"requeue:{stream}:{seq}:{hashlib.sha256(payload).hexdigest()[:12]}"


async def cmd_requeue(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    corrected: bytes | None = None
    if args.file is not None:
        try:
            corrected = await read_payload(args.file)
        except OSError as exc:
            return fail(f"cannot read {args.file}: {exc.strerror or exc}", code=2)
    async with cli_connection(args, loaded) as nc:
        js = nc.jetstream(timeout=5.0)
        try:
            found = await _one(args, js)
        except JETSTREAM_ERRORS as exc:
            return fail(f"dlq requeue: the server did not answer: {describe_error(exc)}")
        if isinstance(found, str):
            return fail(found)
        letter = found.letter
        assert letter is not None
        payload = letter.data if corrected is None else corrected
        headers = requeue_headers(letter, new_id=args.new_id)
        trace = new_root()
        headers[H.TRACEPARENT] = trace.traceparent
        check_size(nc, letter.subject, payload)
        receipt = await JetStreamPublisher(js).publish(
            letter.subject,
            payload,
            msg_id=requeue_msg_id(found.stream, found.seq, payload),
            headers=headers,
        )
    what = "corrected" if corrected is not None else "original"
    print(
        f"requeued {found.stream} seq {found.seq} ({what} bytes) to {letter.subject}: "
        f"{describe_receipt(receipt, trace.trace_id)}; the dead letter stays for audit",
        flush=True,
    )
    return 0
