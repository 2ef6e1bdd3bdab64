"""`vigie loadtest`: the load-test harness (``loadtest/harness.py``) from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from services.config.load import LoadedConfig


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "loadtest",
        help="open-loop load test: seeded mixed feed → latency, goodput, backlog; JSON, MD, PNG",
        description="Publishes a seeded synthetic feed (reports in FR/EN/RU/UK/AR and sensor "
        "readings, every precedence and label) at scheduled times and measures publish → "
        "enriched latency per precedence, goodput within deadline, throughput, backlog, "
        "redeliveries and dead letters. Starts `vigie up` in a temporary directory unless --nats.",
    )
    p.add_argument("--rate", type=float, default=5.0, help="mean reports per second (default 5)")
    p.add_argument("--duration", type=float, default=30.0, help="seconds of sending (default 30)")
    p.add_argument("--max-reports", type=int, help="stop sending after this many")
    p.add_argument("--arrivals", choices=("constant", "poisson", "bursts"), default="poisson")
    p.add_argument("--burst-size", type=int, default=20, help="reports per burst (bursts)")
    p.add_argument("--burst-spread", type=float, default=0.05, help="seconds a burst spans")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--precedence-mix", metavar="P=W,…", help="e.g. FLASH=1,ROUTINE=9")
    p.add_argument("--label-mix", metavar="L=W,…", help="e.g. np=1,dr=1")
    p.add_argument("--language-mix", metavar="L=W,…", help="e.g. fr=2,en=1,ru=1,uk=1,ar=1")
    p.add_argument("--sensor-share", type=float, default=0.2, help="share of sensor readings")
    p.add_argument("--nats", metavar="URL", help="test this running Vigie instead of starting one")
    p.add_argument(
        "--engine",
        choices=("stand-in", "llama.cpp", "exllamav2"),
        default="stand-in",
        help="engine of the embedded stack (VIGIE_INFERENCE__ENGINE; default stand-in)",
    )
    p.add_argument(
        "--sync-interval", help="server durability of the embedded stack (default: the config)"
    )
    p.add_argument(
        "--default-deadlines",
        action="store_true",
        help="goodput against the built-in deadlines, not the configuration's",
    )
    p.add_argument("--drain", type=float, default=30.0, help="seconds to wait after sending")
    p.add_argument("--out", default=".", help="folder for the JSON, Markdown and PNG files")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--quiet", action="store_true", help="no live progress line")
    p.set_defaults(func=cmd_loadtest)


async def cmd_loadtest(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    from loadtest.harness import DEFAULT_DEADLINES, Options, run_loadtest
    from loadtest.synth import LABELS, LANGUAGES, PRECEDENCES, Mix, parse_mix

    collate = loaded.config.collate
    deadlines = (
        dict(DEFAULT_DEADLINES)
        if args.default_deadlines
        else {p: collate.deadline_for(p) for p in PRECEDENCES}
    )
    try:
        base = Mix()
        mix = Mix(
            precedence=parse_mix(args.precedence_mix, PRECEDENCES) or base.precedence,
            label=parse_mix(args.label_mix, LABELS) or base.label,
            language=parse_mix(args.language_mix, LANGUAGES) or base.language,
            sensor_share=args.sensor_share,
        )
    except ValueError as exc:
        print(f"vigie loadtest: {exc}", file=sys.stderr)
        return 2
    if args.rate <= 0 or args.duration <= 0:
        print("vigie loadtest: --rate and --duration must be positive", file=sys.stderr)
        return 2
    opts = Options(
        rate=args.rate,
        duration=args.duration,
        max_reports=args.max_reports,
        arrivals=args.arrivals,
        burst_size=args.burst_size,
        burst_spread=args.burst_spread,
        seed=args.seed,
        mix=mix,
        nats_url=args.nats,
        engine=args.engine,
        config=str(loaded.path) if loaded.path else None,
        deadlines=deadlines,
        drain=args.drain,
        out=Path(args.out),
        plots=not args.no_plots,
        progress=not args.quiet,
        sync_interval=args.sync_interval,
    )
    result = await run_loadtest(opts)
    t = result["totals"]
    lat = result.get("latency_all") or {}
    print(
        f"vigie loadtest: {t['complete']}/{t['offered']} enriched, goodput "
        f"{t['goodput']} ({(t['goodput_share'] or 0):.1%}), p50 {lat.get('p50_ms')} ms, "
        f"p99 {lat.get('p99_ms')} ms, dead letters {t['dead_letters']} — report in "
        f"{opts.out / 'loadtest.md'}"
    )
    return 0
