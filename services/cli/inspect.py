"""`vigie tail`, `vigie status` and `vigie config`: look at the bus without changing it."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import anyio
import msgspec
import orjson
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from bus.topology import Topology, build_topology
from schemas import headers as H
from schemas.v1 import (
    DeadLetter,
    EnrichedEvent,
    Entity,
    Flag,
    TaskOutcome,
    TokenUsage,
    dead_letter_decoder,
    enriched_decoder,
)
from services.cli.common import (
    JETSTREAM_ERRORS,
    add_nats_option,
    cli_connection,
    describe_error,
    fail,
    human_bytes,
    shorten,
    table,
)
from services.config.load import LoadedConfig, render_config, render_config_json
from services.config.schema import topology_settings

NOT_PROVISIONED = "not provisioned — run `vigie up` or any service"
#: Stream and consumer info requests in flight at once: enough to hide the round trips, few
#: enough not to queue behind each other at the server's JetStream API.
INFO_CONCURRENCY = 16


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tail = sub.add_parser("tail", help="print messages on a subject pattern as they pass")
    tail.add_argument(
        "pattern",
        nargs="?",
        default="enriched.>",
        metavar="PATTERN",
        help="subject pattern (default: enriched.>)",
    )
    tail.add_argument("--json", action="store_true", help="one JSON object per line")
    tail.add_argument("--count", type=int, metavar="N", help="exit after N messages")
    tail.add_argument("--timeout", type=float, metavar="S", help="exit after S seconds")
    add_nats_option(tail)
    tail.set_defaults(func=cmd_tail)

    status = sub.add_parser("status", help="messages, consumer backlog and dead letters")
    status.add_argument("--json", action="store_true", help="one JSON document")
    add_nats_option(status)
    status.set_defaults(func=cmd_status)

    config = sub.add_parser(
        "config", help="the effective configuration and where each value came from"
    )
    config.add_argument("--json", action="store_true", help="as JSON")
    config.set_defaults(func=cmd_config)


# ---------------------------------------------------------------- tail


def format_entity(e: Entity) -> str:
    parts: list[str] = [e.type]
    if e.form:
        parts.append(e.form)
    parts.append(repr(e.text))
    if e.value is not None:
        parts.append(f"→ {e.value}")
    if e.lat is not None and e.lon is not None:
        parts.append(f"({e.lat:.5f},{e.lon:.5f})")
    return " ".join(parts)


def format_enriched(subject: str, event: EnrichedEvent) -> str:
    revision = f"rev {event.revision}" + (" partial" if event.partial else "")
    language = event.language or "language ?"
    if event.language and event.language_confidence is not None:
        language += f" ({event.language_confidence:.2f})"
    lines = [
        f"{subject}  report {event.report_id[:12]}  {revision}  {event.label}  "
        f"{event.precedence}  {language}",
        "  tasks   " + ", ".join(_format_outcome(t) for t in event.tasks),
    ]
    lines += [f"  flag    {_format_flag(f)}" for f in event.flags]
    lines += [f"  entity  {format_entity(e)}" for e in event.entities]
    lines.append(f"  text    {shorten(event.normalised_text, 200)}")
    target = event.target_language or "?"
    if event.translation is not None:
        lines.append(f"  {target:<7} {shorten(event.translation, 300)}")
    if event.summary is not None:
        lines.append(f"  summary {shorten(event.summary, 300)}")
    # A task's own typed output (open: whatever task the registry holds), as compact JSON.
    for task, output in sorted(event.outputs.items()):
        lines.append(f"  {task:<7} {shorten(json.dumps(output, ensure_ascii=False), 300)}")
    models = sorted({f"{p.model} ({p.engine})" for p in event.provenance if p.model})
    if models:
        lines.append("  model   " + ", ".join(models))
    if event.usage is not None:
        lines.append(f"  tokens  {format_usage(event.usage)}")
    return "\n".join(lines)


def format_usage(usage: TokenUsage) -> str:
    """What a report's model work cost: prompt tokens computed and reused, generated, and of
    those discarded (attempts refused, outputs not kept)."""
    return (
        f"prompt {usage.prompt_tokens_computed} computed + {usage.prompt_tokens_reused} reused, "
        f"generated {usage.generated_tokens} ({usage.discarded_tokens} discarded)"
    )


def _format_outcome(outcome: TaskOutcome) -> str:
    text = f"{outcome.task} {outcome.status}"
    q = outcome.quality
    if q is None:
        return text
    checks = []
    if q.glossary_terms:
        checks.append(f"glossary {q.glossary_followed}/{q.glossary_terms}")
    if q.protected_tokens:
        checks.append(f"protected {q.protected_kept}/{q.protected_tokens}")
    if q.facts_checked:
        checks.append(f"facts {q.facts_checked - q.facts_unsupported}/{q.facts_checked}")
    if q.entities_proposed:
        checks.append(f"grounded {q.entities_grounded}/{q.entities_proposed}")
    return text + (f" ({', '.join(checks)})" if checks else "")


def _format_flag(flag: Flag) -> str:
    where = f"{flag.task}: " if flag.task else ""
    items = f" [{', '.join(flag.items[:6])}]" if flag.items else ""
    return f"{flag.code}  {where}{shorten(flag.detail, 120)}{shorten(items, 160)}"


def format_dead_letter(subject: str, letter: DeadLetter) -> str:
    msg_id = letter.headers.get(H.MSG_ID, "-")
    return "\n".join(
        [
            f"{subject}  {letter.reason} at {letter.stage}",
            f"  message   {shorten(letter.message, 200)}",
            f"  original  {letter.subject}  {len(letter.data)} bytes  {H.MSG_ID} {msg_id}",
        ]
    )


def decode_known(subject: str, data: bytes) -> EnrichedEvent | DeadLetter | None:
    try:
        if subject.startswith("enriched."):
            return enriched_decoder.decode(data)
        if subject.startswith("dlq."):
            return dead_letter_decoder.decode(data)
    except msgspec.DecodeError:
        pass
    return None


def render_message(subject: str, data: bytes, as_json: bool) -> str:
    known = decode_known(subject, data)
    if as_json:
        doc: Any
        if known is not None:
            doc = msgspec.to_builtins(known)
        else:
            try:
                doc = orjson.loads(data)
            except orjson.JSONDecodeError:
                doc = {"subject": subject, "data": data.decode("utf-8", "replace")}
        return orjson.dumps(doc).decode()
    if isinstance(known, EnrichedEvent):
        return format_enriched(subject, known)
    if isinstance(known, DeadLetter):
        return format_dead_letter(subject, known)
    return f"{subject}  {shorten(data.decode('utf-8', 'replace'), 200)}"


async def cmd_tail(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    seen = 0
    async with cli_connection(args, loaded) as nc:
        sub = await nc.subscribe(args.pattern)
        # Once the server has the subscription nothing published from here on is missed.
        await nc.flush()
        print(f"tail: listening on {args.pattern} (Ctrl-C stops)", file=sys.stderr, flush=True)
        with anyio.move_on_after(args.timeout):
            async for msg in sub.messages:
                print(render_message(msg.subject, msg.data, args.json), flush=True)
                seen += 1
                if args.count is not None and seen >= args.count:
                    break
        await sub.unsubscribe()
    if args.count is not None and seen < args.count:
        within = f" within {args.timeout:g} s" if args.timeout is not None else ""
        return fail(f"tail: {seen} of {args.count} messages{within}")
    return 0


# ---------------------------------------------------------------- status


async def _bounded(
    limiter: anyio.CapacityLimiter,
    fetch: Callable[[], Awaitable[Any]],
    out: dict[str, Any],
    key: str,
    errors: list[Exception],
) -> None:
    async with limiter:
        try:
            out[key] = await fetch()
        except NotFoundError:
            out[key] = None
        except JETSTREAM_ERRORS as exc:
            # Kept rather than raised: one failure should not cancel the others mid-request.
            errors.append(exc)


async def collect_status(js: JetStreamContext, topology: Topology) -> dict[str, Any]:
    """Every stream's and consumer's numbers; ``None`` for what does not exist yet."""
    streams: dict[str, Any] = {}
    consumers: dict[str, Any] = {}
    errors: list[Exception] = []
    limiter = anyio.CapacityLimiter(INFO_CONCURRENCY)
    async with anyio.create_task_group() as tg:
        for s in topology.streams:
            # The DLQ's per-subject counts are its dead letters per stage (dlq.<stage>.<label>).
            subjects = "dlq.>" if s.role == "dlq" else None
            fetch = partial(js.stream_info, s.name, subjects_filter=subjects)
            tg.start_soon(_bounded, limiter, fetch, streams, s.name, errors)
        for c in topology.consumers:
            fetch = partial(js.consumer_info, c.stream, c.durable)
            key = f"{c.stream}/{c.durable}"
            tg.start_soon(_bounded, limiter, fetch, consumers, key, errors)
    if errors:
        raise errors[0]
    doc: dict[str, Any] = {
        "streams": [],
        "consumers": [],
        "dead_letters": [],
        "not_provisioned": {"streams": [], "consumers": []},
    }
    for s in topology.streams:
        info = streams[s.name]
        if info is None:
            doc["not_provisioned"]["streams"].append(s.name)
            continue
        state = info.state
        doc["streams"].append(
            {
                "name": s.name,
                "role": s.role,
                "label": s.label,
                "messages": state.messages,
                "bytes": state.bytes,
                "first_seq": state.first_seq,
                "last_seq": state.last_seq,
            }
        )
        if s.role == "dlq":
            by_stage = {subj.split(".")[1]: n for subj, n in sorted((state.subjects or {}).items())}
            doc["dead_letters"].append(
                {"stream": s.name, "label": s.label, "total": state.messages, "by_stage": by_stage}
            )
    for c in topology.consumers:
        key = f"{c.stream}/{c.durable}"
        cinfo = consumers[key]
        if cinfo is None:
            doc["not_provisioned"]["consumers"].append(key)
            continue
        doc["consumers"].append(
            {
                "stream": c.stream,
                "name": c.durable,
                "num_pending": cinfo.num_pending or 0,
                "num_ack_pending": cinfo.num_ack_pending or 0,
                "num_redelivered": cinfo.num_redelivered or 0,
            }
        )
    return doc


def format_status(doc: dict[str, Any]) -> str:
    out: list[str] = []
    if doc["streams"]:
        srows = [(s["name"], s["messages"], human_bytes(s["bytes"])) for s in doc["streams"]]
        out += [table(("STREAM", "MESSAGES", "BYTES"), srows, right=(2,)), ""]
    if doc["consumers"]:
        crows = [
            (c["name"], c["stream"], c["num_pending"], c["num_ack_pending"], c["num_redelivered"])
            for c in doc["consumers"]
        ]
        head = ("CONSUMER", "STREAM", "PENDING", "ACK PENDING", "REDELIVERED")
        out += [table(head, crows), ""]
    if doc["dead_letters"]:
        drows = [
            (
                d["stream"],
                d["total"],
                ", ".join(f"{stage} {n}" for stage, n in d["by_stage"].items()) or "-",
            )
            for d in doc["dead_letters"]
        ]
        out += [table(("DLQ", "DEAD LETTERS", "BY STAGE"), drows), ""]
    missing = doc["not_provisioned"]
    if missing["streams"] or missing["consumers"]:
        names = [*missing["streams"], *missing["consumers"]]
        listed = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
        out.append(
            f"{len(missing['streams'])} streams and {len(missing['consumers'])} consumers "
            f"{NOT_PROVISIONED}: {listed}"
        )
    return "\n".join(out).rstrip("\n")


async def cmd_status(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    topology = build_topology(topology_settings(loaded.config))
    async with cli_connection(args, loaded) as nc:
        try:
            doc = await collect_status(nc.jetstream(timeout=5.0), topology)
        except JETSTREAM_ERRORS as exc:
            return fail(f"status: the server did not answer: {describe_error(exc)}")
    if args.json:
        print(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode(), flush=True)
    else:
        print(format_status(doc), flush=True)
    return 0


# ---------------------------------------------------------------- config


async def cmd_config(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    text = render_config_json(loaded) if args.json else render_config(loaded)
    print(text.rstrip("\n"), flush=True)
    return 0
