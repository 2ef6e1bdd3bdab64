"""`vigie eval`: the gold set through the real pipeline, scored (``services/evaluation``)."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import shlex
import sys
from pathlib import Path

from services.cli.common import fail
from services.config.load import LoadedConfig
from services.config.schema import InferenceConfig
from services.security.credentials import client_security
from services.tasks.registry import task_registry

ENGINES = ("llama.cpp", "exllamav2", "stand-in")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "eval",
        help="the gold set (ops/gold) through the pipeline: quality, flags, silent failures",
        description="Publishes the gold reports of a split to the real pipeline (an embedded "
        "server and every service, or --nats URL), collects their enriched events and writes "
        "eval.json, eval.md, events.jsonl and PNG plots into --out.",
    )
    p.add_argument("--model", metavar="M", help="registry name of the model to serve")
    p.add_argument("--adapter", metavar="A", help="adapter to serve with the model")
    p.add_argument("--engine", choices=ENGINES, help="engine (default: inference.engine)")
    p.add_argument(
        "--split", choices=("dev", "test", "all"), default="dev", help="gold split (default dev)"
    )
    p.add_argument(
        "--tasks",
        metavar="T,T",
        help="tasks ingest asks for and that are scored (default: ingest.tasks)",
    )
    p.add_argument("--limit", type=int, metavar="N", help="N reports, taken in turn per language")
    p.add_argument("--ids", metavar="ID,ID", help="only these gold reports")
    p.add_argument("--nats", metavar="URL", help="a running server with its services")
    p.add_argument("--out", metavar="DIR", help="default bench-results/eval/<timestamp>")
    p.add_argument("--gold", metavar="DIR", help="gold reports (default ops/gold/reports)")
    p.add_argument("--inflight", type=int, default=4, metavar="N", help="reports at once (4)")
    p.add_argument(
        "--deadline",
        type=float,
        default=3600.0,
        metavar="S",
        help="embedded stack: every precedence's deadline, s (3600: outputs, not a queue, are "
        "measured); 0 keeps the configured ones",
    )
    p.add_argument(
        "--report-timeout",
        type=float,
        default=1800.0,
        metavar="S",
        help="longest wait for one report's complete event, s (1800)",
    )
    p.add_argument(
        "--rescore",
        metavar="DIR",
        help="score a finished run again (its eval.json and events.jsonl) with today's rules, "
        "without running the pipeline; writes into --out (default: DIR)",
    )
    p.add_argument(
        "--compare",
        nargs="+",
        metavar="DIR",
        help="compare finished runs (each DIR holds an eval.json; NAME=DIR names a column): "
        "prints every measure and flag side by side, and writes compare.md into --out if given",
    )
    p.set_defaults(func=cmd_eval)


def _compare(dirs: list[str], out: str | None) -> int:
    import json

    from services.evaluation.compare import compare_markdown

    runs = []
    for item in dirs:
        name, _, path = item.rpartition("=") if "=" in item else ("", "", item)
        try:
            doc = json.loads((Path(path) / "eval.json").read_text())
        except (OSError, ValueError) as exc:
            return fail(f"--compare {item}: {exc}")
        if not isinstance(doc, dict) or not isinstance(doc.get("figures"), dict):
            return fail(f"--compare {item}: its eval.json is not the result of a vigie eval run")
        runs.append((name or Path(path).name, doc))
    text = compare_markdown(runs)
    print(text, end="")
    if out:
        target = Path(out) / "compare.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        print(f"wrote {target}", file=sys.stderr)
    return 0


def _names(value: str | None) -> tuple[str, ...]:
    return tuple(n.strip() for n in (value or "").split(",") if n.strip())


async def cmd_eval(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    from services.evaluation.output import write_results
    from services.evaluation.run import EvalOptions, eval_config, evaluate, rescore

    cfg = loaded.config
    if logging.getLogger().level >= logging.INFO:
        # The in-process services' INFO lines would bury the progress bar.
        logging.getLogger("vigie").setLevel(logging.WARNING)
    command = shlex.join(["vigie", *sys.argv[1:]])
    if args.compare:
        return _compare(args.compare, args.out)
    if args.rescore:
        try:
            evaluation = rescore(
                cfg, Path(args.rescore), gold_dir=Path(args.gold) if args.gold else None
            )
        except (OSError, KeyError, ValueError) as exc:
            return fail(f"--rescore {args.rescore}: {exc}")
        paths = write_results(evaluation, Path(args.out or args.rescore), command)
        _print_summary(evaluation.figures, evaluation.key["id"], paths)
        return 0
    registered = task_registry(cfg.tasks.extra_rows).names
    tasks = _names(args.tasks)
    unknown = [t for t in tasks if t not in registered]
    if unknown:
        return fail(f"unknown task(s) {', '.join(unknown)}: choose among {', '.join(registered)}")
    if args.adapter and "adapter" not in InferenceConfig.__struct_fields__:
        return fail(
            f"--adapter {args.adapter}: this version's engines serve no adapter (the inference "
            "section has no adapter setting); events record adapter none"
        )
    if args.nats and (args.model or args.engine or args.adapter):
        return fail("with --nats the running services decide the model: drop --model/--engine")
    if args.limit is not None and args.limit < 1:
        return fail("--limit must be at least 1")
    options = EvalOptions(
        split=None if args.split == "all" else args.split,
        limit=args.limit,
        ids=_names(args.ids),
        tasks=tasks,
        gold_dir=Path(args.gold) if args.gold else None,
        inflight=args.inflight,
        report_timeout=args.report_timeout,
        deadline=args.deadline or None,
        url=args.nats,
    )
    services = eval_config(cfg, options, model=args.model, engine=args.engine, adapter=args.adapter)
    try:
        evaluation = await evaluate(
            services, options, security=client_security(cfg.nats) if args.nats else None
        )
    except (FileNotFoundError, KeyError) as exc:
        return fail(f"gold set: {exc}")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = Path(args.out or f"bench-results/eval/{stamp}")
    paths = write_results(evaluation, out, command)
    _print_summary(evaluation.figures, evaluation.key["id"], paths)
    return 0


def _print_summary(figures: dict[str, object], key: str, paths: list[Path]) -> None:
    from services.evaluation.markdown import headline

    print(f"key: {key}")
    for line in headline(figures):
        print(line)
    for path in paths:
        print(f"wrote {path}")
