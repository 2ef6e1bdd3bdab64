"""Serving throughput with and without an adapter, in the same run: the configured engine
opened once with the base weights and once with ``--adapter``, alternately, on the same
requests (the gold set's serving prompts of one task), greedy, a fixed number of tokens each.

    python -m services.finetune.serving_bench --adapter NAME --out FILE.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
from typing import Any

from msgspec.structs import replace

from services.config.load import load_config
from services.evaluation.gold import load_gold
from services.feedback.dataset import report_from_gold
from services.inference.engine import GenerationRequest
from services.inference.factory import open_engine
from services.tasks.registry import task_registry
from services.tasks.wiring import task_logic


def prompts(task: str, count: int) -> list[str]:
    cfg = load_config(None).config
    logic = task_logic(task, cfg)
    out: list[str] = []
    for gold in load_gold(split="test"):
        report = report_from_gold(gold, [task])
        if logic.answer_without_model(report) is None:
            spec = logic.prompt(report, None)
            if spec.prompt is not None:
                out.append(spec.prompt)
        if len(out) == count:
            break
    return out


async def measure(
    adapter: str | None, texts: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    loaded = load_config(args.config)
    cfg = loaded.config
    cfg = replace(cfg, inference=replace(cfg.inference, adapter=adapter))
    engine = await open_engine(cfg)
    gate = asyncio.Semaphore(args.concurrency)

    async def one(i: int, text: str) -> Any:
        async with gate:
            req = GenerationRequest(
                request_id=f"b{i}", prompt=text, max_tokens=args.gen_tokens, ignore_eos=True
            )
            return await engine.generate(req)

    try:
        started = time.monotonic()
        results = await asyncio.gather(*(one(i, t) for i, t in enumerate(texts)))
        seconds = time.monotonic() - started
    finally:
        await engine.aclose()
    generated = sum(r.completion_tokens for r in results)
    prompt_tokens = sum(r.prompt_tokens for r in results)
    return {
        "adapter": adapter,
        "requests": len(results),
        "seconds": round(seconds, 3),
        "prompt_tokens": prompt_tokens,
        "generated_tokens": generated,
        "e2e_tokens_per_s": round(generated / seconds, 2),
        "prompt_and_generated_per_s": round((generated + prompt_tokens) / seconds, 2),
        "ttft_s_median": round(statistics.median(r.ttft_s for r in results), 3),
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    texts = prompts(args.task, args.requests)
    rounds: list[dict[str, Any]] = []
    for _ in range(args.rounds):
        for adapter in (None, args.adapter):
            rounds.append(await measure(adapter, texts, args))

    def mean(adapter: str | None) -> float:
        return float(
            statistics.mean(float(r["e2e_tokens_per_s"]) for r in rounds if r["adapter"] == adapter)
        )

    base, adapted = mean(None), mean(args.adapter)
    return {
        "what": "serving throughput, base weights vs adapter, same run, alternated",
        "task_prompts": args.task,
        "adapter": args.adapter,
        "concurrency": args.concurrency,
        "gen_tokens": args.gen_tokens,
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
        "rounds": rounds,
        "base_e2e_tokens_per_s": round(base, 2),
        "adapter_e2e_tokens_per_s": round(adapted, 2),
        "adapter_over_base": round(adapted / base, 3) if base else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--adapter", required=True)
    parser.add_argument("--config")
    parser.add_argument("--task", default=next(iter(task_registry().names)))
    parser.add_argument("--requests", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--gen-tokens", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    figures = asyncio.run(main_async(args))
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(figures, fh, indent=2)
        fh.write("\n")
    print(json.dumps({k: v for k, v in figures.items() if k != "rounds"}, indent=2))


if __name__ == "__main__":
    main()
