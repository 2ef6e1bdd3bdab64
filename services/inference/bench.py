"""The engine's own benchmarks, without the bus (``loadtest.inference_bench`` adds the bus).

* ``sweep`` (P3) — generated tokens/s at each concurrency, prompts of ~128 tokens, exactly 64
  generated (EOS ignored), as llama.cpp's ``llama-batched-bench -npp 128 -ntg 64`` measures:
  ``s_tg`` counts the generation phase only, ``e2e`` the whole run with the prompts.
* ``constrained`` (P7) — the same entity-extraction requests with and without their JSON
  schema, at one concurrency: tokens/s both ways and the share of outputs that parse.
* ``flash`` — FLASH request latency alone, then while ROUTINE requests keep the engine full.
* ``prefix`` — prompts sharing a few-shot prefix of ~``--filler`` × 33 tokens, with prefix reuse
  off then on (fresh engines, same requests): tokens/s both ways and prompt tokens reused.
* ``requests`` — a JSON-lines file of InferenceRequests run at one concurrency (used by the
  bus comparison, so both sides run the very same requests).

Usage::

    python -m services.inference.bench sweep --concurrency 1,4,8,16,32 [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from schemas.v1 import inference_request_decoder
from services.catalogue import builtin_registry
from services.inference.engine import Engine, GenerationRequest, GenerationResult
from services.inference.llama import INVARIANT_DECODE_GROUP
from services.inference.registry import verify_model
from services.inference.runner import RunnerSettings, ThreadedEngine
from services.inference.scheduler import SchedulerSettings
from services.inference.service import to_generation

FILLER = (
    "At 0430 the observation post reported two armoured vehicles moving north along the river "
    "road towards the bridge, followed by a column of trucks and an unknown number of infantry. "
)
ENTITY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "entities": {
            "type": "array",
            "maxItems": 6,
            "items": {
                "type": "object",
                "properties": {
                    "type": {"enum": ["Unit", "Location", "DateTime", "MilitaryPlatform"]},
                    "text": {"type": "string", "maxLength": 32},
                },
                "required": ["type", "text"],
            },
        }
    },
    "required": ["entities"],
}
ENTITY_PROMPT = (
    "Extract the entities of each report as JSON.\n"
    "Report: 3e RIMa left Kherson at 0600.\n"
    'JSON: {"entities": [{"type": "Unit", "text": "3e RIMa"}, {"type": "Location", "text": '
    '"Kherson"}, {"type": "DateTime", "text": "0600"}]}\n'
    "Report: {report}\nJSON: "
)
REPORTS = [
    "Two T-72 tanks crossed the bridge at Izium at 0430.",
    "La 2e compagnie a quitté Kramatorsk à 2200.",
    "Patrol Alpha saw a BTR-82A near the checkpoint at dawn.",
    "The 47th Brigade holds the line east of Avdiivka.",
    "Un drone Orlan-10 a survolé Bakhmout vers 1500.",
    "Artillery fire reported near Vuhledar at 0815.",
]


def open_engine(
    model: Path,
    max_sequences: int,
    args: argparse.Namespace,
    reserved: int = 0,
    holders: int | None = None,
) -> Engine:
    """``reserved`` sequences on top of ``max_sequences``, as ``inference.reserved_sequences``."""
    from services.inference.llama import LlamaCore, LlamaSettings

    scheduler = SchedulerSettings(
        max_sequences=max_sequences,
        kv_tokens=(max_sequences + reserved) * 2048,
        reserved_sequences=reserved,
    )
    core = LlamaCore(
        LlamaSettings(
            model_path=model,
            model_name="bench",
            max_sequences=scheduler.total_sequences,
            threads=args.threads,
            sequence_tokens=2048,
            decode_group=args.decode_group or None,
            prefix_holders=args.prefix_holders if holders is None else holders,
            kv_unified=args.kv_unified,
        )
    )
    return ThreadedEngine(core, RunnerSettings(scheduler=scheduler, max_waiting=4096))


def phase_figures(results: Sequence[GenerationResult], seconds: float) -> dict[str, Any]:
    generated = sum(r.completion_tokens for r in results)
    all_first = max(r.ttft_s for r in results)
    last = max(r.total_s for r in results)
    after_first = sum(max(0, r.completion_tokens - 1) for r in results)
    return {
        "requests": len(results),
        "seconds": round(seconds, 3),
        "generated_tokens": generated,
        "prompt_tokens_mean": round(statistics.mean(r.prompt_tokens for r in results), 1),
        "e2e_tokens_per_s": round(generated / seconds, 1),
        "s_tg": round(after_first / (last - all_first), 1) if last > all_first else 0.0,
    }


async def run_all(
    engine: Engine, requests: Sequence[GenerationRequest], concurrency: int
) -> tuple[list[GenerationResult], float]:
    """Keep ``concurrency`` requests in flight until all are done (closed loop)."""
    gate = asyncio.Semaphore(concurrency)

    async def one(req: GenerationRequest) -> GenerationResult:
        async with gate:
            return await engine.generate(req)

    started = time.monotonic()
    results = await asyncio.gather(*(one(r) for r in requests))
    return list(results), time.monotonic() - started


async def reference(model: Path, args: argparse.Namespace) -> dict[int, float]:
    """llama.cpp's own ``llama-batched-bench`` on the same model and threads: S_TG per batch."""
    proc = await asyncio.create_subprocess_exec(
        args.reference, "-m", str(model), "-c", str(2048 * max(args.concurrency)),
        "-b", "2048", "-ub", "512", "-npp", "128", "-ntg", str(args.gen_tokens),
        "-npl", ",".join(map(str, args.concurrency)), "-t", str(args.threads),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    out, _ = await proc.communicate()
    figures = {}
    for line in out.decode().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 10 and cells[2].isdigit():
            figures[int(cells[2])] = float(cells[7])
    return figures


async def sweep(model: Path, args: argparse.Namespace) -> dict[str, Any]:
    rows = []
    ref = await reference(model, args) if args.reference else {}
    for c in args.concurrency:
        # The shipped configuration: the reserve on top of the c sequences (idle here).
        engine = open_engine(model, c, args, reserved=args.reserved)
        try:
            prompt = FILLER * args.filler  # ~33 tokens each
            warm = [GenerationRequest(request_id="w", prompt=prompt, max_tokens=4)]
            await run_all(engine, warm, 1)
            reqs = [
                GenerationRequest(
                    request_id=f"s{c}-{i}",
                    prompt=f"{i}. {prompt}",
                    max_tokens=args.gen_tokens,
                    ignore_eos=True,
                )
                for i in range(c)
            ]
            results, seconds = await run_all(engine, reqs, c)
            rows.append(
                {
                    "concurrency": c,
                    **phase_figures(results, seconds),
                    "max_sequences_in_step": engine.stats.max_sequences_in_step,
                }
            )
            if c in ref:
                rows[-1]["reference_s_tg"] = ref[c]
                rows[-1]["ratio_to_reference"] = round(rows[-1]["s_tg"] / ref[c], 3)
            print(json.dumps(rows[-1]), flush=True)
        finally:
            await engine.aclose()
    return {"sweep": rows}


async def constrained(model: Path, args: argparse.Namespace) -> dict[str, Any]:
    c = args.concurrency[-1]
    engine = open_engine(model, c, args)
    out: dict[str, Any] = {"concurrency": c}
    try:
        prompts = [
            ENTITY_PROMPT.replace("{report}", REPORTS[i % len(REPORTS)] + f" ({i})")
            for i in range(args.requests)
        ]
        await run_all(
            engine, [GenerationRequest(request_id="w", prompt=prompts[0], max_tokens=4)], 1
        )
        # Constrained first; then the same prompts free, each generating exactly as many
        # tokens as its constrained twin did, so both runs decode the same amount.
        lengths: dict[str, int] = {}
        for mode in ("schema", "free"):
            reqs = [
                GenerationRequest(
                    request_id=f"{mode}{i}",
                    prompt=p,
                    max_tokens=args.gen_tokens if mode == "schema" else lengths[f"schema{i}"],
                    json_schema=ENTITY_SCHEMA if mode == "schema" else None,
                    ignore_eos=mode == "free",
                )
                for i, p in enumerate(prompts)
            ]
            results, seconds = await run_all(engine, reqs, c)
            figures = phase_figures(results, seconds)
            if mode == "schema":
                lengths = {r.request_id: max(1, r.completion_tokens) for r in results}
                figures["parsed_share"] = sum(_parses(r.text) for r in results) / len(results)
                figures["example"] = results[0].text
            out[mode] = figures
            print(json.dumps({mode: figures}), flush=True)
        out["ratio"] = round(out["schema"]["e2e_tokens_per_s"] / out["free"]["e2e_tokens_per_s"], 3)
    finally:
        await engine.aclose()
    return {"constrained": out}


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


async def flash(model: Path, args: argparse.Namespace) -> dict[str, Any]:
    c = args.concurrency[-1]
    engine = open_engine(model, c, args, reserved=2)
    out: dict[str, Any] = {"max_sequences": c, "reserved_sequences": 2}
    prompt = "FLASH. " + FILLER
    try:

        async def flashes(tag: str) -> list[float]:
            lat = []
            for i in range(args.requests):
                r = await engine.generate(
                    GenerationRequest(
                        request_id=f"{tag}{i}",
                        prompt=f"{i} {prompt}",
                        max_tokens=32,
                        ignore_eos=True,
                        precedence="FLASH",
                    )
                )
                lat.append(r.total_s * 1000)
                await asyncio.sleep(0.05)
            return lat

        alone = await flashes("alone")
        stop = asyncio.Event()

        async def routine_load(k: int) -> None:
            n = 0
            while not stop.is_set():
                n += 1
                await engine.generate(
                    GenerationRequest(
                        request_id=f"r{k}-{n}",
                        prompt=f"{k} {FILLER}",
                        max_tokens=64,
                        ignore_eos=True,
                    )
                )

        loaders = [asyncio.create_task(routine_load(k)) for k in range(c)]
        await asyncio.sleep(2.0)
        loaded = await flashes("loaded")
        stop.set()
        await asyncio.gather(*loaders)
        for name, lat in (("alone", alone), ("loaded", loaded)):
            lat.sort()
            out[name] = {
                "p50_ms": round(statistics.median(lat), 1),
                "p99_ms": round(lat[min(len(lat) - 1, int(0.99 * len(lat)))], 1),
                "n": len(lat),
            }
        out["p99_ratio"] = round(out["loaded"]["p99_ms"] / out["alone"]["p99_ms"], 3)
        out["paused_sequence_steps"] = engine.stats.paused_sequence_steps
        print(json.dumps(out), flush=True)
    finally:
        await engine.aclose()
    return {"flash": out}


async def requests_file(model: Path, args: argparse.Namespace) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    lines = args.requests_lines
    reqs = [to_generation(inference_request_decoder.decode(line), now) for line in lines if line]
    engine = open_engine(model, args.max_sequences, args, reserved=args.reserved)
    try:
        await run_all(engine, [GenerationRequest(request_id="w", prompt="warm", max_tokens=2)], 1)
        results, seconds = await run_all(engine, reqs, args.concurrency[-1])
    finally:
        await engine.aclose()
    return {
        "direct": phase_figures(results, seconds),
        "texts": {r.request_id: r.text for r in results},
    }


async def prefix(model: Path, args: argparse.Namespace) -> dict[str, Any]:
    c = args.concurrency[-1]
    shared = "Translate each report into French.\n" + "".join(
        f"Report {i}: {FILLER}\nFrench: {i}.\n" for i in range(args.filler)
    )
    reqs = [
        GenerationRequest(
            request_id=f"p{i}",
            prompt=f"{shared}Report: {REPORTS[i % len(REPORTS)]} ({i})\nFrench:",
            max_tokens=args.gen_tokens,
            ignore_eos=True,
        )
        for i in range(args.requests)
    ]
    out: dict[str, Any] = {"concurrency": c, "requests": len(reqs)}
    texts: dict[str, list[str]] = {}
    for mode, holders in (("off", 0), ("on", args.prefix_holders or 8)):
        engine = open_engine(model, c, args, holders=holders)
        try:
            warm = [GenerationRequest(request_id="w", prompt="warm", max_tokens=2)]
            await run_all(engine, warm, 1)
            results, seconds = await run_all(engine, reqs, c)
        finally:
            await engine.aclose()
        figures = phase_figures(results, seconds)
        prompt_tokens = sum(r.prompt_tokens for r in results)
        cached = sum(r.cached_prompt_tokens for r in results)
        figures.update(
            prefix_holders=holders,
            prompt_tokens=prompt_tokens,
            cached_prompt_tokens=cached,
            prompt_tokens_per_s=round(prompt_tokens / seconds, 1),
            hit_rate=round(engine.stats.prefix_hit_rate, 3),
        )
        texts[mode] = [r.text for r in results]
        out[mode] = figures
        print(json.dumps({mode: figures}), flush=True)
    out["speedup_e2e"] = round(out["on"]["e2e_tokens_per_s"] / out["off"]["e2e_tokens_per_s"], 3)
    out["same_outputs"] = sum(a == b for a, b in zip(texts["off"], texts["on"], strict=True))
    return {"prefix": out}


SCENARIOS = {
    "sweep": sweep,
    "constrained": constrained,
    "flash": flash,
    "requests": requests_file,
    "prefix": prefix,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="services.inference.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument(
        "--concurrency", default="1,4,8,16,32", type=lambda s: [int(x) for x in s.split(",")]
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--gen-tokens", type=int, default=64)
    parser.add_argument("--requests", type=int, default=48)
    parser.add_argument("--requests-file")
    parser.add_argument("--max-sequences", type=int, default=16)
    parser.add_argument("--reserved", type=int, default=2)
    parser.add_argument("--data-dir", default=".vigie")
    parser.add_argument(
        "--decode-group",
        type=int,
        default=0,
        help="sequences per decode call; 0 = all in one (inference.batch_invariant = false, "
        f"the default); {INVARIANT_DECODE_GROUP} = batch-invariant mode",
    )
    parser.add_argument(
        "--prefix-holders",
        type=int,
        default=0,
        help="prompt prefixes kept for reuse (inference.prefix_cache_prefixes); 0 = no reuse",
    )
    parser.add_argument(
        "--kv-unified", action="store_true", help="one KV stream for all sequences (measured)"
    )
    parser.add_argument("--filler", type=int, default=4, help="prompt length, in ~33 tokens")
    parser.add_argument(
        "--reference", metavar="BIN", help="llama-batched-bench to run in the same run (sweep)"
    )
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    args.requests_lines = (
        Path(args.requests_file).read_bytes().splitlines() if args.requests_file else []
    )
    model = verify_model(builtin_registry().default_model, Path(args.data_dir)).path
    result = asyncio.run(SCENARIOS[args.scenario](model, args))
    result["decode_group"] = args.decode_group
    result["prefix_holders"] = args.prefix_holders
    result["kv_unified"] = args.kv_unified
    result["reserved_sequences"] = args.reserved
    result["machine"] = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "threads": args.threads,
    }
    text = json.dumps(result, indent=2, default=str)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
