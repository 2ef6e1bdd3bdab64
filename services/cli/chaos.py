"""`vigie chaos`: kill services and servers under load, then the verdict by id; `--overload`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from services.config.load import LoadedConfig


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "chaos",
        help="SIGKILL services and crash the server under load; print lost= duplicated=",
        description="Starts its own server and services (nothing else is touched). Exit code 0 "
        "only when every published report ended as exactly one event per revision or one "
        "dead letter. With --overload: offers --factor times the sustainable rate instead and "
        "checks that memory stays bounded and the backlog stays in JetStream.",
    )
    p.add_argument("--kills", type=int, default=10, help="SIGKILLs of random services")
    p.add_argument(
        "--restarts",
        type=int,
        default=2,
        help="server crashes (SIGKILL, then back); with --cluster: node losses",
    )
    p.add_argument("--duration", type=float, default=30.0, help="seconds under load")
    p.add_argument("--rate", type=float, default=5.0, help="reports published per second")
    p.add_argument("--engine", choices=("stand-in", "llama.cpp"), default="stand-in")
    p.add_argument("--cluster", type=int, choices=(1, 3, 5), default=1, help="server nodes")
    p.add_argument("--replicas", type=int, default=1, help="processes per service")
    p.add_argument("--seed", type=int, help="random seed (victims, timings)")
    p.add_argument("--settle-timeout", type=float, default=180.0, help="seconds to quiesce")
    p.add_argument("--data-dir", type=Path, help="keep the store and logs here (default: temp)")
    p.add_argument("--overload", action="store_true", help="the overload run instead")
    p.add_argument("--factor", type=float, default=10.0, help="--overload: times sustainable")
    p.add_argument(
        "--sustainable", type=float, help="--overload: reports/s (default: measured first)"
    )
    p.add_argument("--warmup", type=float, help="--overload: seconds (default: 20%% of run)")
    p.add_argument("--max-msgs", type=int, help="--overload: message cap of each stream")
    p.add_argument("--json", metavar="FILE", help="write the figures to FILE as JSON")
    p.set_defaults(func=cmd_chaos)


async def cmd_chaos(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    if args.overload:
        from loadtest.overload import OverloadOptions, run_overload

        result = await run_overload(
            OverloadOptions(
                duration=args.duration,
                factor=args.factor,
                sustainable=args.sustainable,
                warmup=args.warmup,
                max_msgs=args.max_msgs,
                data_dir=args.data_dir,
            )
        )
        print(result.summary(), flush=True)
        _write(args.json, result.as_dict())
        return 0 if result.ok else 1
    from loadtest.chaos import ChaosOptions, run_chaos

    report = await run_chaos(
        ChaosOptions(
            kills=args.kills,
            restarts=args.restarts,
            duration=args.duration,
            rate=args.rate,
            engine=args.engine,
            cluster=args.cluster,
            replicas=args.replicas,
            seed=args.seed,
            settle_timeout=args.settle_timeout,
            data_dir=args.data_dir,
        )
    )
    for line in report.events:
        print(line, file=sys.stderr)
    print(report.summary(), flush=True)
    _write(args.json, report.as_dict())
    return 0 if report.ok else 1


def _write(path: str | None, figures: dict[str, object]) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
