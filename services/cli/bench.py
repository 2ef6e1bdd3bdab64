"""`vigie bench NAME`: the benchmark suite (modules in ``loadtest/``).

Each benchmark runs as its own process (``python -m loadtest.<what>_bench …``, the options after
the name passed on) and writes a JSON result file (``--out``, default under bench-results/).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from typing import Any

import anyio

from services.config.load import LoadedConfig

BENCHES = {
    "tasks": ("loadtest.engine_through_tasks_bench",
              "P1 over the model tasks: engine through the pipeline vs "
              "the same requests direct (real engine)"),
    "overhead": ("loadtest.overhead_bench", "bus overhead: pipeline with the stand-in engine vs "
                 "a plain relay on the same server (saturation, p50/p99 at half)"),
    "precedence": ("loadtest.precedence_bench", "P5: FLASH p99 with ROUTINE at 2x capacity vs "
                   "FLASH alone (real engine)"),
    "throughput": ("loadtest.tasks_throughput_bench", "the model tasks at 1/4/16 reports in "
                   "flight, tokens per report, FLASH alone; variants of settings compared"),
    "server": ("loadtest.llama_server_bench", "the engine through the bus vs llama-server, "
               "same prompts (real engine)"),
}  # fmt: skip


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "bench",
        help="benchmarks: tasks (P1), throughput (tasks, FLASH), overhead (bus, stand-in "
        "engine), precedence (P5), server (vs llama-server)",
        description="Runs one benchmark; `vigie bench NAME --help` lists its options.",
    )
    p.add_argument("name", choices=sorted(BENCHES), help="; ".join(
        f"{k}: {v[1]}" for k, v in sorted(BENCHES.items())))  # fmt: skip
    p.add_argument("options", nargs=argparse.REMAINDER, help="passed to the benchmark")
    p.set_defaults(func=cmd_bench)


async def cmd_bench(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    module = BENCHES[args.name][0]
    command = [sys.executable, "-m", module, *args.options]
    proc = await anyio.open_process(command, stdin=subprocess.DEVNULL, stdout=None, stderr=None)
    try:
        return await proc.wait()
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()
