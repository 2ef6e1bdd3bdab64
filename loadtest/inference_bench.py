"""P1: the engine through the bus against the engine alone — same requests, same concurrency.

1. **direct** — ``python -m services.inference.bench requests`` runs the request set straight
   into an engine (its own process, as the service would have it);
2. **bus** — `vigie run inference` on an embedded nats-server, and this process as the client:
   each request published on ``work.np.infer.routine``, its answer read back from
   ``work.np.inferred.bench.routine``, ``concurrency`` requests in flight.

Both sides use the same engine settings and threads, one after the other on the same machine.
The ratio is generated tokens/s through the bus over direct. Usage::

    python -m loadtest.inference_bench [--requests 64] [--concurrency 16] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
import nats

from bus.embedded import EmbeddedNats
from bus.provision import provision
from bus.topology import TopologySettings, build_topology
from loadtest.inference_client import InferenceClient
from loadtest.results import machine, write_result
from schemas.v1 import InferenceRequest, InferenceResult, json_encoder

PROMPTS = (
    "Report {i}: at 0430 the observation post saw two armoured vehicles moving north on the "
    "river road towards the bridge, followed by trucks. Assessment:",
    "Rapport {i} : à 06h00 la patrouille a observé une colonne de six camions se dirigeant "
    "vers le pont, escortée par deux blindés. Évaluation :",
    "SITREP {i}. Artillery fire was reported near the crossroads at dawn; the company moved "
    "to the tree line and dug in. Next steps:",
)


def request_set(n: int, max_tokens: int) -> list[InferenceRequest]:
    now = dt.datetime.now(dt.UTC)
    return [
        InferenceRequest(
            request_id=f"p1-{i}",
            client="bench",
            label="np",
            precedence="ROUTINE",
            created_at=now,
            max_tokens=max_tokens,
            prompt=PROMPTS[i % len(PROMPTS)].format(i=i),
        )
        for i in range(n)
    ]


async def run_direct(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.inference.bench", "requests",
        "--requests-file", str(path), "--concurrency", str(args.concurrency),
        "--max-sequences", str(args.concurrency), "--reserved", "0",
        "--threads", str(args.threads), "--data-dir", args.data_dir,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"direct run failed with exit code {proc.returncode}")
    result: dict[str, Any] = json.loads(out)
    return result


async def run_bus(requests: list[InferenceRequest], args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="vigie-p1-") as tmp:
        async with EmbeddedNats(data_dir=Path(tmp) / "nats", sync_interval="always") as server:
            nc = await nats.connect(server.url)
            js = nc.jetstream()
            settings = TopologySettings(stream_max_bytes=256 << 20, labels=("np",))
            await provision(js, build_topology(settings))
            env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")}
            env.update(
                VIGIE_LOG_LEVEL="warning",
                VIGIE_BUS__LABELS="np",
                VIGIE_NATS__DATA_DIR=args.data_dir,
                VIGIE_INFERENCE__MAX_SEQUENCES=str(args.concurrency),
                VIGIE_INFERENCE__RESERVED_SEQUENCES="0",
                VIGIE_INFERENCE__THREADS=str(args.threads),
            )
            service = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "services.cli.main", "run", "inference",
                "--nats", server.url, env=env, stdin=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            try:
                async with InferenceClient(js, "bench", labels=("np",)) as client:
                    warm = request_set(1, 2)[0]
                    await client.ask(msgspec.structs.replace(warm, request_id="warm", prompt="w"))
                    gate = asyncio.Semaphore(args.concurrency)

                    async def one(req: InferenceRequest) -> InferenceResult:
                        async with gate:
                            return await client.ask(req)

                    started = time.monotonic()
                    answers = await asyncio.gather(*(one(r) for r in requests))
                    seconds = time.monotonic() - started
            finally:
                service.send_signal(signal.SIGTERM)
                await service.wait()
            await nc.close()
    generated = sum(a.completion_tokens for a in answers)
    return {
        "bus": {
            "requests": len(answers),
            "seconds": round(seconds, 3),
            "generated_tokens": generated,
            "e2e_tokens_per_s": round(generated / seconds, 1),
            "statuses": sorted({a.status for a in answers}),
            "sync_interval": "always",
        },
        "texts": {a.request_id: a.text for a in answers},
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    requests = request_set(args.requests, args.max_tokens)
    with tempfile.NamedTemporaryFile("wb", suffix=".jsonl") as f:
        f.write(b"\n".join(json_encoder.encode(r) for r in requests))
        f.flush()
        direct = await run_direct(Path(f.name), args)
    bus = await run_bus(requests, args)
    same = sum(direct["texts"].get(k) == v for k, v in bus["texts"].items())
    ratio = bus["bus"]["e2e_tokens_per_s"] / direct["direct"]["e2e_tokens_per_s"]
    return {
        "benchmark": "P1 inference through the bus vs direct",
        "concurrency": args.concurrency,
        "requests": args.requests,
        "max_tokens": args.max_tokens,
        "direct": direct["direct"],
        "bus": bus["bus"],
        "ratio": round(ratio, 3),
        "identical_outputs": f"{same}/{len(requests)}",
        "machine": machine(),
        "threads": args.threads,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="loadtest.inference_bench", description=__doc__)
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--data-dir", default=".vigie")
    parser.add_argument("--out", default="bench-results/inference-p1.json")
    args = parser.parse_args(argv)
    result = asyncio.run(main_async(args))
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
