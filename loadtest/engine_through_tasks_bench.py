"""P1 over the tasks: the engine's generated tokens/s through the whole pipeline against the same
requests served directly by an engine.

1. **pipeline** — ``vigie up`` (real engine, label ``np``) and the fixture reports
   (``loadtest.fixtures``) published closed loop, ``--inflight`` at a time, each enriched by
   the deployment's tasks (``ingest.tasks``, recorded in the result); a core subscription
   on ``work.np.infer.>`` captures every InferenceRequest the task services publish (retries
   included) and one on ``work.np.inferred.>`` every answer. Tokens/s = generated tokens of those
   answers ÷ time from the first publish to the last complete event.
2. **direct** — the captured requests (deadlines removed) replayed straight into an engine in
   its own process (``python -m services.inference.bench requests``), ``--concurrency`` in
   flight (default: the engine's ``max_sequences``, as the service runs it).

Ratio = pipeline tokens/s ÷ direct tokens/s: how much of what the engine can generate for these
requests the pipeline gets out of it (its waits between a task's answer and its retry, ingest,
collate and the bus included). Usage::

    python -m loadtest.engine_through_tasks_bench [--reports 32] [--inflight 16] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
import nats
from nats.aio.msg import Msg

from loadtest.fixtures import FIXTURES
from loadtest.results import machine, write_result
from loadtest.stack import deployment_tasks, vigie_up, warm_up
from schemas import headers as H
from schemas.v1 import (
    InferenceResult,
    enriched_decoder,
    inference_request_decoder,
    inference_result_decoder,
    json_encoder,
)


class Capture:
    def __init__(self) -> None:
        self.requests: dict[str, tuple[float, bytes]] = {}
        self.results: dict[str, tuple[float, InferenceResult]] = {}
        self.complete: dict[str, float] = {}
        self.changed = asyncio.Event()

    async def on_request(self, msg: Msg) -> None:
        req = inference_request_decoder.decode(msg.data)
        self.requests.setdefault(req.request_id, (time.monotonic(), msg.data))

    async def on_result(self, msg: Msg) -> None:
        res = inference_result_decoder.decode(msg.data)
        self.results.setdefault(res.request_id, (time.monotonic(), res))

    async def on_event(self, msg: Msg) -> None:
        event = enriched_decoder.decode(msg.data)
        if not event.partial and event.publisher_id:
            self.complete.setdefault(event.publisher_id, time.monotonic())
            self.changed.set()


async def run_pipeline(args: argparse.Namespace, cap: Capture) -> dict[str, Any]:
    env = {"VIGIE_BUS__LABELS": "np"}
    tasks = await deployment_tasks({**os.environ, **env})
    with tempfile.TemporaryDirectory(prefix="vigie-p1-tasks-") as tmp:
        log = Path(args.out).with_suffix(".vigie-up.log")
        async with vigie_up(Path(tmp), engine="llama.cpp", env=env, log_file=log) as url:
            await warm_up(url)
            nc = await nats.connect(url)
            for subject, cb in (
                ("work.np.infer.>", cap.on_request),
                ("work.np.inferred.>", cap.on_result),
                ("enriched.np.>", cap.on_event),
            ):
                await nc.subscribe(subject, cb=cb, pending_msgs_limit=-1)
            js = nc.jetstream()
            ids = [f"p1t-{time.time_ns()}-{i}" for i in range(args.reports)]
            todo = list(enumerate(ids))
            inflight: set[str] = set()
            started = time.monotonic()
            while todo or inflight:
                while todo and len(inflight) < args.inflight:
                    i, ident = todo.pop(0)
                    fixture = FIXTURES[i % len(FIXTURES)]
                    await js.publish(
                        f"feeds.np.report.p1-{fixture.language}",
                        fixture.text.encode(),
                        headers={H.MSG_ID: ident},
                    )
                    inflight.add(ident)
                cap.changed.clear()
                inflight -= set(cap.complete)
                if inflight:
                    await asyncio.wait_for(cap.changed.wait(), timeout=args.timeout)
                    inflight -= set(cap.complete)
            seconds = max(cap.complete[i] for i in ids) - started
            await asyncio.sleep(0.5)
            await nc.close()
    window = [(t, r) for t, r in cap.results.values() if t >= started]
    generated = sum(r.completion_tokens for _, r in window)
    busy = sum(
        t_res - cap.requests[r.request_id][0] for t_res, r in window if r.request_id in cap.requests
    )
    return {
        "tasks": list(tasks),
        "reports": args.reports,
        "inflight_reports": args.inflight,
        "requests": len(window),
        "seconds": round(seconds, 3),
        "generated_tokens": generated,
        "e2e_tokens_per_s": round(generated / seconds, 2),
        "mean_requests_in_engine": round(busy / seconds, 2),
        "statuses": sorted({r.status for _, r in window}),
        "started": started,
    }


async def run_direct(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.inference.bench", "requests",
        "--requests-file", str(path), "--concurrency", str(args.concurrency),
        "--max-sequences", str(args.max_sequences), "--reserved", str(args.reserved),
        "--threads", str(args.threads), "--data-dir", args.data_dir,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"direct replay failed with exit code {proc.returncode}")
    result: dict[str, Any] = json.loads(out)
    return result


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    cap = Capture()
    pipeline = await run_pipeline(args, cap)
    started = pipeline.pop("started")
    replay = [
        msgspec.structs.replace(inference_request_decoder.decode(raw), deadline=None)
        for t, raw in cap.requests.values()
        if t >= started
    ]
    with tempfile.NamedTemporaryFile("wb", suffix=".jsonl") as f:
        f.write(b"\n".join(json_encoder.encode(r) for r in replay))
        f.flush()
        direct = await run_direct(Path(f.name), args)
    texts = {rid: r.text for t, r in cap.results.values() if t >= started for rid in [r.request_id]}
    same = sum(direct["texts"].get(k) == v for k, v in texts.items())
    ratio = pipeline["e2e_tokens_per_s"] / direct["direct"]["e2e_tokens_per_s"]
    return {
        "benchmark": "P1 over the tasks: engine through the pipeline vs direct",
        "pipeline": pipeline,
        "direct": {**direct["direct"], "concurrency": args.concurrency},
        "ratio": round(ratio, 3),
        "identical_outputs": f"{same}/{len(texts)}",
        "sync_interval": "config (default always)",
        "machine": machine(),
        "threads": args.threads,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="loadtest.engine_through_tasks_bench", description=__doc__
    )
    parser.add_argument("--reports", type=int, default=32)
    # 16 reports in flight offer ~3 requests each for the engine's 16 sequences: it stays full
    # while a task waits for its answer before its retry, as the direct replay's engine does.
    parser.add_argument("--inflight", type=int, default=16)
    parser.add_argument("--concurrency", type=int, default=16, help="direct replay in flight")
    parser.add_argument("--max-sequences", type=int, default=16)
    parser.add_argument("--reserved", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--data-dir", default=".vigie", help="where the model is")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--out", default="bench-results/tasks-p1.json")
    args = parser.parse_args(argv)
    result = asyncio.run(main_async(args))
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
