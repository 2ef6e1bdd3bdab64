"""Vigie's engine through the bus against llama.cpp's own server: same model, prompts, run.

llama-server is built from the llama.cpp that llama-cpp-python vendors (``loadtest.llama_build``:
offline, no web UI) and started as ``llama-server -np 16 -cb -t 2`` (every flag recorded). The
same prompts go, ``--concurrency`` in flight, greedy, ``--max-tokens`` generated:

1. over HTTP to llama-server (``/completion``);
2. through Vigie's bus: an embedded nats-server and ``vigie run inference`` with the shipped
   settings (only the threads and the data directory given), this process the client, each
   request on ``work.np.infer.routine`` and its answer read back.

Two workloads, each on both sides in the same run:

* ``reports`` — ``--requests`` report prompts of ``--prompt-tokens`` tokens each (fixture reports,
  cut to length with llama-server's own tokenizer), prompt caching off on llama-server;
* ``shared-prefix`` — the same reports, each after one shared few-shot prefix of
  ``--prefix-tokens`` tokens; llama-server's prompt cache on (``cache_prompt``, and
  ``--swa-full``: on Gemma 3, a sliding-window model, llama-server with its default SWA cache
  was seen to reuse no prompt token of a shared prefix, with ``--swa-full`` the whole prefix),
  the prompt tokens it reused read from its answers (``timings.cache_n``), Vigie's from
  ``InferenceResult.cached_prompt_tokens``.

Per side: generated tokens/s over the workload's wall time, request latency p50/p95, prompt and
cached tokens; per workload the ratios Vigie ÷ llama-server. Usage::

    python -m loadtest.llama_server_bench --server PATH/llama-server [--data-dir .vigie] \\
        [--workload reports shared-prefix] [--out bench-results/llama-server.json]
    python -m loadtest.llama_server_bench --sdist dist/wheelhouse/llama_cpp_python-0.3.36.tar.gz

(without ``--server`` it builds llama-server first, under ``--build-dir``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import functools
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import nats

from bus.embedded import EmbeddedNats, free_port
from loadtest.fixtures import FIXTURES
from loadtest.inference_client import InferenceClient
from loadtest.llama_build import build_server, find_sdist
from loadtest.results import machine, write_result
from loadtest.stack import bench_env, provision_topology, vigie_argv
from loadtest.stats import percentile
from schemas.v1 import InferenceRequest, InferenceResult

#: What each prompt asks after its report (the model's answer is ``--max-tokens`` long).
ASK = "\nAssessment:"
PREFIX_HEAD = "Assess each military report in one line: what, where, when, and what it means.\n\n"


# ------------------------------------------------------------------------------ HTTP


async def post_json(port: int, path: str, body: dict[str, Any], within: float) -> Any:
    """POST ``body`` as JSON to ``127.0.0.1:port``; the decoded JSON answer (one connection per
    request, as a client of llama-server would open; no dependency beyond asyncio)."""
    payload = json.dumps(body).encode()
    async with asyncio.timeout(within):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
            raw = await reader.read()
        finally:
            writer.close()
    head, _, content = raw.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1] if head.count(b" ") >= 2 else b"?"
    if b"transfer-encoding: chunked" in head.lower():
        content = _unchunk(content)
    if status != b"200":
        raise RuntimeError(f"POST {path}: HTTP {status.decode()} {content[:200]!r}")
    return json.loads(content)


def _unchunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return bytes(out)


@asynccontextmanager
async def llama_server(
    binary: Path, model: Path, args: argparse.Namespace, log: Path, extra: Sequence[str] = ()
) -> AsyncIterator[tuple[int, list[str]]]:
    """A running llama-server: its port and its command line."""
    port = free_port()
    context = args.parallel * args.slot_tokens
    argv = [
        str(binary), "-m", str(model), "--host", "127.0.0.1", "--port", str(port),
        "-np", str(args.parallel), "-cb", "-t", str(args.threads), "-c", str(context),
        "--no-webui", *extra,
    ]  # fmt: skip
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.returncode is not None:
                raise RuntimeError(f"llama-server exited with {proc.returncode}; see {log}")
            try:
                await post_json(port, "/tokenize", {"content": "ready"}, within=2)
                break
            except (OSError, RuntimeError, TimeoutError, ValueError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"llama-server not ready in 120 s; see {log}") from None
                await asyncio.sleep(0.5)
        yield port, argv[1:]
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()


# ------------------------------------------------------------------------------ prompts


Tokenize = Callable[[str], Awaitable[int]]


async def cut_to_tokens(text: str, tokens: int, count: Tokenize) -> str:
    """The longest word prefix of ``text`` of at most ``tokens`` tokens."""
    words = text.split(" ")
    low, high = 1, len(words)
    while low < high:
        middle = (low + high + 1) // 2
        if await count(" ".join(words[:middle])) <= tokens:
            low = middle
        else:
            high = middle - 1
    return " ".join(words[:low])


def long_text(start: int, chars: int) -> str:
    """Fixture reports one after another from ``start`` until ``chars`` characters."""
    parts: list[str] = []
    i = start
    while sum(len(p) + 1 for p in parts) < chars:
        parts.append(FIXTURES[i % len(FIXTURES)].text)
        i += 1
    return " ".join(parts)


async def report_prompts(n: int, tokens: int, count: Tokenize) -> list[str]:
    """``n`` distinct report prompts of ``tokens`` tokens each (``ASK`` included)."""
    ask = await count(ASK)
    prompts = []
    for i in range(n):
        body = await cut_to_tokens(f"Report {i}. {long_text(i, tokens * 6)}", tokens - ask, count)
        prompts.append(body + ASK)
    return prompts


async def shared_prefix(tokens: int, count: Tokenize) -> str:
    """One few-shot prefix of about ``tokens`` tokens: worked reports with their assessment."""
    examples = []
    for i, fixture in enumerate(FIXTURES):
        examples.append(f"Report {100 + i}. {fixture.text}{ASK} {fixture.text.split('.')[0]}.\n")
    text = PREFIX_HEAD + "\n".join(examples)
    return await cut_to_tokens(text, tokens, count) + "\n\n"


# ------------------------------------------------------------------------------ the two sides


def summary(latencies: list[float], generated: int, seconds: float, **extra: Any) -> dict[str, Any]:
    return {
        "requests": len(latencies),
        "seconds": round(seconds, 3),
        "generated_tokens": generated,
        "tokens_per_s": round(generated / seconds, 1),
        "latency_ms": {
            "p50": round(percentile(latencies, 0.5) * 1000, 1),
            "p95": round(percentile(latencies, 0.95) * 1000, 1),
        },
        **extra,
    }


async def gather_limited(n: int, jobs: Sequence[Callable[[], Awaitable[Any]]]) -> list[Any]:
    gate = asyncio.Semaphore(n)

    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await job()

    return await asyncio.gather(*(one(job) for job in jobs))


async def run_server(
    port: int, prompts: list[str], args: argparse.Namespace, cache: bool
) -> dict[str, Any]:
    async def one(prompt: str) -> tuple[float, dict[str, Any]]:
        started = time.monotonic()
        body = {
            "prompt": prompt, "n_predict": args.max_tokens, "temperature": 0.0, "top_k": 1,
            "cache_prompt": cache, "stream": False,
        }  # fmt: skip
        answer = await post_json(port, "/completion", body, within=600)
        return time.monotonic() - started, answer

    await one("warm up")
    started = time.monotonic()
    done = await gather_limited(args.concurrency, [functools.partial(one, p) for p in prompts])
    seconds = time.monotonic() - started
    answers = [a for _, a in done]
    timings = [a.get("timings", {}) for a in answers]
    done_pairs = list(zip(answers, timings, strict=True))
    generated = [int(t.get("predicted_n", a.get("tokens_predicted", 0))) for a, t in done_pairs]
    return summary(
        [s for s, _ in done],
        sum(generated),
        seconds,
        prompt_tokens=sum(int(t.get("prompt_n", 0)) + int(t.get("cache_n", 0)) for t in timings),
        cached_prompt_tokens=sum(int(t.get("cache_n", 0)) for t in timings),
        tokens_cached_field=sum(int(a.get("tokens_cached", 0)) for a in answers),
        cache_prompt=cache,
        texts=[a.get("content", "") for a in answers],
    )


async def run_vigie(
    client: InferenceClient, prompts: list[str], args: argparse.Namespace, tag: str
) -> dict[str, Any]:
    def request(i: int, prompt: str) -> InferenceRequest:
        return InferenceRequest(
            request_id=f"{tag}-{i}", client="bench", label="np", precedence="ROUTINE",
            created_at=dt.datetime.now(dt.UTC), max_tokens=args.max_tokens, prompt=prompt,
        )  # fmt: skip

    async def one(i: int, prompt: str) -> tuple[float, InferenceResult]:
        started = time.monotonic()
        answer = await client.ask(request(i, prompt))
        return time.monotonic() - started, answer

    await one(-1, "warm up")
    started = time.monotonic()
    done = await gather_limited(
        args.concurrency, [functools.partial(one, i, p) for i, p in enumerate(prompts)]
    )
    seconds = time.monotonic() - started
    answers = [a for _, a in done]
    return summary(
        [s for s, _ in done],
        sum(a.completion_tokens for a in answers),
        seconds,
        prompt_tokens=sum(a.prompt_tokens for a in answers),
        cached_prompt_tokens=sum(a.cached_prompt_tokens for a in answers),
        statuses=sorted({a.status for a in answers}),
        texts=[a.text for a in answers],
    )


@asynccontextmanager
async def vigie_inference(args: argparse.Namespace, tmp: Path) -> AsyncIterator[InferenceClient]:
    """``vigie run inference`` with the shipped settings on an embedded server; a client."""
    async with EmbeddedNats(data_dir=tmp / "nats", sync_interval="always") as server:
        env = bench_env(data_dir=args.data_dir, threads=args.threads)
        await provision_topology(server.url, env)
        service = await asyncio.create_subprocess_exec(
            *vigie_argv("run", "inference", "--nats", server.url),
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
        )
        nc = await nats.connect(server.url)
        try:
            async with InferenceClient(nc.jetstream(), "bench", labels=("np",)) as client:
                yield client
        finally:
            service.send_signal(signal.SIGTERM)
            await service.wait()
            await nc.close()


async def model_path(args: argparse.Namespace) -> Path:
    """The default model's GGUF, as ``vigie models`` verifies it."""
    env = {**os.environ, "VIGIE_NATS__DATA_DIR": args.data_dir}
    proc = await asyncio.create_subprocess_exec(
        *vigie_argv("models", "--json", "--quick"), env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"`vigie models --json` failed with exit code {proc.returncode}")
    default = next(m for m in json.loads(out) if m.get("default"))
    return Path(default["path"])


def compare(vigie: dict[str, Any], server: dict[str, Any]) -> dict[str, Any]:
    same = sum(a == b for a, b in zip(vigie.pop("texts"), server.pop("texts"), strict=True))
    return {
        "throughput_vigie_over_server": round(vigie["tokens_per_s"] / server["tokens_per_s"], 3),
        "p50_vigie_over_server": round(vigie["latency_ms"]["p50"] / server["latency_ms"]["p50"], 3),
        "p95_vigie_over_server": round(vigie["latency_ms"]["p95"] / server["latency_ms"]["p95"], 3),
        "identical_outputs": f"{same}/{vigie['requests']}",
    }


async def main_async(args: argparse.Namespace, binary: Path) -> dict[str, Any]:
    model = await model_path(args)
    results: dict[str, Any] = {}
    commands: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="vigie-llama-server-") as tmp_dir:
        tmp = Path(tmp_dir)
        # name → (prompts, llama-server's prompt cache on, its extra flags)
        workloads: dict[str, tuple[list[str], bool, list[str]]] = {}
        server_side: dict[str, dict[str, Any]] = {}
        async with llama_server(binary, model, args, tmp / "llama-server.log") as (port, argv):

            async def count(text: str) -> int:
                answer = await post_json(port, "/tokenize", {"content": text}, within=30)
                return len(answer["tokens"])

            reports = await report_prompts(args.requests, args.prompt_tokens, count)
            if "reports" in args.workload:
                workloads["reports"] = (reports, False, [])
            if "shared-prefix" in args.workload:
                prefix = await shared_prefix(args.prefix_tokens, count)
                extra = args.prefix_server_args.split()
                workloads["shared-prefix"] = ([prefix + r for r in reports], True, extra)
            prompt_sizes = {
                name: [await count(p) for p in prompts[:4]]
                for name, (prompts, _, _) in workloads.items()
            }
        for name, (prompts, cache, extra) in workloads.items():
            log = tmp / f"llama-server-{name}.log"
            async with llama_server(binary, model, args, log, extra) as (port, argv):
                commands[name] = ["llama-server", *argv]
                server_side[name] = await run_server(port, prompts, args, cache)
            print(f"{name} llama-server: {server_side[name]['tokens_per_s']} tok/s",
                  file=sys.stderr, flush=True)  # fmt: skip
        async with vigie_inference(args, tmp) as client:
            for name, (prompts, _, _) in workloads.items():
                vigie = await run_vigie(client, prompts, args, f"{name}-{time.time_ns()}")
                print(f"{name} vigie: {vigie['tokens_per_s']} tok/s", file=sys.stderr, flush=True)
                server = server_side[name]
                results[name] = {
                    "prompt_tokens_first_four": prompt_sizes[name],
                    "llama_server_command": commands[name],
                    "ratios": compare(vigie, server),
                    "vigie": vigie,
                    "llama_server": server,
                }
    return {
        "benchmark": "Vigie through the bus vs llama-server, same model and prompts",
        "order": "llama-server (every workload), then Vigie (every workload), one run",
        "vigie": "vigie run inference, shipped settings; inference.threads="
        f"{args.threads}; sync_interval always",
        "model": str(model),
        "requests": args.requests,
        "concurrency": args.concurrency,
        "max_tokens": args.max_tokens,
        "prompt_tokens": args.prompt_tokens,
        "prefix_tokens": args.prefix_tokens,
        "workloads": results,
        "machine": machine(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="loadtest.llama_server_bench", description=__doc__)
    parser.add_argument("--server", help="llama-server binary (default: build it, see --build)")
    parser.add_argument("--sdist", help="llama-cpp-python sdist to build from")
    parser.add_argument("--build-dir", default=".vigie/llama-server-build")
    parser.add_argument(
        "--workload", nargs="+", choices=("reports", "shared-prefix"),
        default=["reports", "shared-prefix"],
    )  # fmt: skip
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--parallel", type=int, default=16, help="llama-server -np")
    parser.add_argument("--slot-tokens", type=int, default=1024, help="llama-server -c ÷ -np")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--prompt-tokens", type=int, default=144)
    parser.add_argument("--prefix-tokens", type=int, default=400)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--prefix-server-args",
        default="--swa-full",
        help="llama-server's extra flags for the shared-prefix workload (default --swa-full: "
        "without it llama-server reuses no prompt prefix of a sliding-window model like Gemma 3)",
    )
    parser.add_argument("--data-dir", default=".vigie")
    parser.add_argument("--out", default="bench-results/llama-server.json")
    args = parser.parse_args(argv)
    if args.server:
        binary = Path(args.server)
    else:
        binary = build_server(find_sdist(args.sdist), Path(args.build_dir), os.cpu_count() or 1)
    if not binary.is_file():
        parser.error(f"{binary}: no llama-server there (leave --server out to build it)")
    write_result(args.out, asyncio.run(main_async(args, binary)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
