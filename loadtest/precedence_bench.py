"""P5, precedence under overload: FLASH latency with ROUTINE offered at twice capacity.

On ``vigie up`` with the real engine (label ``np``), after a warm-up report:

1. **unloaded** — ``--flash`` FLASH reports, one at a time: publish → complete enriched event;
2. **capacity** — unless ``--rate``: ``--capacity-reports`` ROUTINE reports published at once,
   capacity = reports ÷ time until the last is complete;
3. **loaded** — ROUTINE open loop (constant arrivals) at ``--overload`` × capacity; after
   ``--ramp`` seconds, the same FLASH reports again, one every ``--flash-interval`` seconds
   (open loop too; default: twice their unloaded p99, so that FLASH reports do not queue behind
   each other), latency from each scheduled send.

Bar: FLASH p99 loaded ≤ 1.5 × FLASH p99 unloaded. Reports are the seeded synthetic ones
(``loadtest.synth``); FLASH texts are the same in both phases. Usage::

    python -m loadtest.precedence_bench [--flash 6] [--rate R] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
import nats
from nats.aio.msg import Msg

from loadtest.results import machine, write_result
from loadtest.stack import vigie_up, warm_up
from loadtest.synth import Generator, Mix, Synthetic


class _Head(msgspec.Struct):
    publisher_id: str | None = None
    partial: bool = False


_head = msgspec.json.Decoder(_Head)


class Watch:
    def __init__(self) -> None:
        self.first: dict[str, float] = {}
        self.complete: dict[str, float] = {}
        self.changed = asyncio.Event()

    async def on_event(self, msg: Msg) -> None:
        now = time.monotonic()
        head = _head.decode(msg.data)
        ident = head.publisher_id or ""
        self.first.setdefault(ident, now)
        if not head.partial:
            self.complete.setdefault(ident, now)
        self.changed.set()

    async def until(self, idents: list[str], within: float) -> None:
        stop = time.monotonic() + within
        while any(i not in self.complete for i in idents) and time.monotonic() < stop:
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), max(0.01, stop - time.monotonic()))
            except TimeoutError:
                break


def items(precedence: str, n: int, prefix: str, seed: int) -> list[Synthetic]:
    mix = Mix(precedence={precedence: 1.0}, label={"np": 1.0}, sensor_share=0.0)
    gen = Generator(seed, mix, prefix=prefix)
    return [gen.item(i) for i in range(n)]


async def publish(js: Any, item: Synthetic) -> None:
    await js.publish(item.subject, item.payload, headers=item.headers)


def stats(latencies: list[float]) -> dict[str, Any]:
    ordered = sorted(latencies)
    if not ordered:
        return {"n": 0}

    def q(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 1)

    return {"n": len(ordered), "p50_ms": q(0.5), "p99_ms": q(0.99), "max_ms": q(1.0)}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    run = f"p5-{time.time_ns()}"
    watch = Watch()
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="vigie-p5-") as tmp:
        log = Path(args.out).with_suffix(".vigie-up.log")
        # The run's traces are kept beside its result: `vigie trace ID --dir …` shows where a
        # FLASH report waited.
        telemetry = Path(args.out).with_suffix(".telemetry")
        env = {"VIGIE_BUS__LABELS": "np", "VIGIE_TELEMETRY__DIR": str(telemetry.resolve())}
        out["telemetry_dir"] = str(telemetry)
        async with vigie_up(Path(tmp), engine=args.engine, env=env, log_file=log) as url:
            await warm_up(url)
            nc = await nats.connect(url)
            await nc.subscribe("enriched.np.>", cb=watch.on_event, pending_msgs_limit=-1)
            js = nc.jetstream()
            # 1. FLASH alone, one at a time.
            unloaded: list[float] = []
            for item in items("FLASH", args.flash, f"{run}-alone", args.seed):
                t = time.monotonic()
                await publish(js, item)
                await watch.until([item.ident], args.timeout)
                unloaded.append(watch.complete.get(item.ident, time.monotonic()) - t)
            out["flash_unloaded"] = stats(unloaded)
            print(f"FLASH unloaded: {out['flash_unloaded']}", flush=True)
            # 2. capacity.
            if args.rate:
                capacity = args.rate / args.overload
                out["capacity"] = {"given_rate": args.rate}
            else:
                batch = items("ROUTINE", args.capacity_reports, f"{run}-cap", args.seed + 1)
                t = time.monotonic()
                await asyncio.gather(*(publish(js, i) for i in batch))
                await watch.until([i.ident for i in batch], args.timeout)
                seconds = max(watch.complete.get(i.ident, time.monotonic()) for i in batch) - t
                capacity = len(batch) / seconds
                out["capacity"] = {"reports": len(batch), "seconds": round(seconds, 2)}
            out["capacity"]["reports_per_s"] = round(capacity, 4)
            rate = capacity * args.overload
            print(f"capacity {capacity:.3f} reports/s → ROUTINE at {rate:.3f}/s", flush=True)
            # 3. ROUTINE at overload, FLASH trickle.
            # A trickle: FLASH reports far enough apart that they do not queue behind each
            # other when precedence works — by default twice the unloaded p99.
            interval = args.flash_interval or 2 * out["flash_unloaded"]["p99_ms"] / 1000
            seconds = max(args.loaded_seconds, args.ramp + args.flash * interval)
            out["flash_interval_s"] = round(interval, 1)
            out["loaded_seconds"] = round(seconds, 1)
            routine = items("ROUTINE", int(rate * seconds) + 1, f"{run}-r", 7)
            flash = items("FLASH", args.flash, f"{run}-loaded", args.seed)
            start = time.monotonic() + 0.1
            plan = [(start + k / rate, i) for k, i in enumerate(routine)]
            plan += [(start + args.ramp + k * interval, i) for k, i in enumerate(flash)]
            plan.sort(key=lambda p: p[0])
            due = {i.ident: t for t, i in plan}
            sends = []
            for t, item in plan:
                await asyncio.sleep(max(0.0, t - time.monotonic()))
                sends.append(asyncio.create_task(publish(js, item)))
            await asyncio.gather(*sends)
            await watch.until([i.ident for i in flash], args.timeout)
            loaded = [watch.complete.get(i.ident, time.monotonic()) - due[i.ident] for i in flash]
            done_routine = sum(i.ident in watch.complete for i in routine)
            out["routine_offered"] = {"rate_per_s": round(rate, 4), "sent": len(routine)}
            out["routine_completed_during_run"] = done_routine
            out["flash_loaded"] = stats(loaded)
            out["flash_partial_events"] = sum(
                i.ident in watch.first and watch.first[i.ident] < watch.complete.get(i.ident, 1e18)
                for i in flash
            )
            await nc.close()
    ratio = out["flash_loaded"]["p99_ms"] / out["flash_unloaded"]["p99_ms"]
    return {
        "benchmark": "P5 precedence under overload",
        **out,
        "p99_ratio": round(ratio, 3),
        "bar_1_5_met": ratio <= 1.5,
        "engine": args.engine,
        "sync_interval": "config (default always)",
        "machine": machine(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="loadtest.precedence_bench", description=__doc__)
    parser.add_argument("--flash", type=int, default=6, help="FLASH reports per phase")
    parser.add_argument("--rate", type=float, help="ROUTINE rate (skips measuring capacity)")
    parser.add_argument("--overload", type=float, default=2.0, help="ROUTINE × capacity")
    parser.add_argument("--capacity-reports", type=int, default=6)
    parser.add_argument("--loaded-seconds", type=float, default=120.0)
    parser.add_argument("--ramp", type=float, default=15.0)
    parser.add_argument(
        "--flash-interval",
        type=float,
        help="seconds between loaded FLASH reports (default: twice their unloaded p99)",
    )
    parser.add_argument("--engine", default="llama.cpp")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--out", default="bench-results/precedence-p5.json")
    args = parser.parse_args(argv)
    result = asyncio.run(main_async(args))
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
