"""`vigie feedback` (submit an analyst's correction) and `vigie dataset export` (training sets)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import anyio
import anyio.to_thread

from bus.publish import JetStreamPublisher
from schemas.v1 import LABELS
from services.cli.common import add_nats_option, cli_connection, fail
from services.cli.ops import parse_before
from services.config.load import LoadedConfig
from services.evaluation.gold import default_gold_dir, load_gold
from services.feedback.correction import CorrectionError, decode_correction
from services.feedback.dataset import (
    DatasetError,
    Example,
    check_labels,
    from_corrections,
    from_gold,
    render_dataset,
)
from services.feedback.store import events_by_id, read_corrections, submit_correction
from services.tasks.contract import TaskLogic
from services.tasks.registry import task_registry
from services.tasks.wiring import task_logic


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "feedback",
        help="submit an analyst's correction of an enriched event",
        description="Validate a Correction (JSON, schemas/jsonschema/Correction.json), check "
        "that the event it names was published on its label, and publish it on "
        "feedback.<label>.<kind>.<source>. Connect as analyst-<label> of the event's label: "
        "a correction is never written below the label of what it corrects.",
    )
    p.add_argument("file", nargs="?", default="-", metavar="FILE", help="correction ('-': stdin)")
    add_nats_option(p)
    p.set_defaults(func=cmd_feedback)

    d = sub.add_parser("dataset", help="training sets from corrections and the gold set")
    dsub = d.add_subparsers(dest="dataset_command", required=True, metavar="COMMAND")
    e = dsub.add_parser(
        "export",
        help="build a training set in the serving prompt format of each task",
        description="Each example is the prompt a task service sends the engine for a report "
        "and, as completion, the corrected output. One label per set unless --mix-labels; a "
        "mixed set carries the highest label.",
    )
    e.add_argument(
        "--label",
        action="append",
        required=True,
        choices=LABELS,
        help="label of the corrections (and gold reports) to take; repeat with --mix-labels",
    )
    e.add_argument("--mix-labels", action="store_true", help="allow several --label")
    e.add_argument(
        "--since", metavar="T", help="corrections stored at or after T (ISO-8601, or an age: 7d)"
    )
    e.add_argument(
        "--include-gold",
        choices=("dev",),
        help="add the gold set's references of this split (never the held-out test split)",
    )
    e.add_argument("--gold-dir", metavar="DIR", help="gold reports (default: ops/gold/reports)")
    e.add_argument("--no-feedback", action="store_true", help="gold only: do not read the bus")
    e.add_argument("--out", required=True, metavar="FILE", help="the set (JSON lines)")
    add_nats_option(e)
    e.set_defaults(func=cmd_export)


async def cmd_feedback(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    try:
        raw = (
            sys.stdin.buffer.read()
            if args.file == "-"
            else await anyio.to_thread.run_sync(Path(args.file).read_bytes)
        )
    except OSError as exc:
        return fail(f"cannot read {args.file}: {exc}", 2)
    fills = dict(task_registry(loaded.config.tasks.extra_rows).fills())
    try:
        correction = decode_correction(raw)
        async with cli_connection(args, loaded) as nc:
            js = nc.jetstream()
            receipt = await submit_correction(js, JetStreamPublisher(js), correction, fills)
    except CorrectionError as exc:
        return fail(f"correction refused: {exc}", 2)
    state = "already stored (same correction_id)" if receipt.duplicate else "stored"
    print(
        f"correction {correction.correction_id} of {correction.report_id} "
        f"r{correction.revision} ({correction.task}) {state}: {receipt.stream} seq {receipt.seq}",
        flush=True,
    )
    return 0


def _logics(loaded: LoadedConfig) -> dict[str, TaskLogic]:
    cfg = loaded.config
    return {name: task_logic(name, cfg) for name in task_registry(cfg.tasks.extra_rows).names}


async def cmd_export(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    cfg = loaded.config
    labels: list[str] = list(dict.fromkeys(args.label))
    try:
        since = parse_before(args.since) if args.since else None
    except ValueError as exc:
        return fail(str(exc).replace("--before", "--since"), 2)
    try:
        check_labels([], labels, args.mix_labels)
        logics = await anyio.to_thread.run_sync(_logics, loaded)
        examples: list[Example] = []
        sources: list[str] = []
        skipped: list[str] = []
        if not args.no_feedback:
            async with cli_connection(args, loaded) as nc:
                js = nc.jetstream()
                for label in labels:
                    corrections = await read_corrections(js, label, since)
                    events = await events_by_id(
                        js, label, {(c.report_id, c.revision) for c in corrections}
                    )
                    made, why = from_corrections(corrections, events, logics)
                    examples += made
                    skipped += why
                    sources.append(f"feedback.{label} ({len(made)} of {len(corrections)})")
        if args.include_gold:
            gold_dir = Path(args.gold_dir) if args.gold_dir else default_gold_dir()
            gold = [g for g in load_gold(gold_dir, args.include_gold) if g.label in labels]
            fills = dict(task_registry(cfg.tasks.extra_rows).fills())
            made = from_gold(gold, logics, fills, cfg.tasks.target_language)
            examples += made
            sources.append(f"gold {args.include_gold} ({len(gold)} reports, {len(made)} examples)")
        label = check_labels(examples, labels, args.mix_labels)
        data = render_dataset(examples, label, sources)
    except (CorrectionError, DatasetError) as exc:
        return fail(str(exc), 2)
    out = Path(args.out)
    await anyio.to_thread.run_sync(out.write_bytes, data)
    for line in skipped:
        print(f"vigie: skipped {line}", file=sys.stderr)
    print(
        f"{out}: {len(examples)} examples, label {label} ({'; '.join(sources) or 'nothing'})",
        flush=True,
    )
    return 0
