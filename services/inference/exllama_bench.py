"""The exllamav2 (GPU) engine's own benchmark: a Mistral-7B-shaped model with random FP16
weights, through OUR backend in-process (``services.inference.bench`` is the CPU engine's).

No real weights reach the GPU machines, and throughput does not depend on their values: a model
of the right shape (transformers ``MistralConfig``: hidden 4096, 32 layers, 32 heads, 8 KV heads,
intermediate 14336, vocabulary 32000) with random weights and the real Mistral tokenizer
(``tokenizer.model.v1`` of the ``mistral-common`` package, converted to ``tokenizer.json``)
costs what the real one costs. ``--small`` writes a 2-layer model for the conformance suite.

    python3 -m services.inference.exllama_bench build OUT_DIR [--small] \
        (--tokenizer-json F | --spm F)
    python3 -m services.inference.exllama_bench run MODEL_DIR [--concurrency 1,8,32,64] \
        [--out FILE]

``run`` measures generated tokens/s at each concurrency (EOS ignored: every request generates
exactly ``--gen`` tokens), single-stream decode steps/s, and the memory-bandwidth bound of
single-stream decode: weight bytes / device bandwidth (measured here with a device-to-device
copy; the nominal H100 figure is about 3.0 TB/s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import shutil
import time
from pathlib import Path
from typing import Any

SHAPES: dict[str, dict[str, int]] = {
    "7b": {
        "hidden_size": 4096,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "intermediate_size": 14336,
    },
    "small": {
        "hidden_size": 512,
        "num_hidden_layers": 2,
        "num_attention_heads": 8,
        "num_key_value_heads": 2,
        "intermediate_size": 1408,
    },
}
VOCAB = 32000
FILLER = (
    "At 0430 the observation post reported two armoured vehicles moving north along the river "
    "road towards the bridge, followed by a column of trucks and an unknown number of infantry. "
)


# ------------------------------------------------------------------ build


def write_config(out: Path, shape: dict[str, int]) -> None:
    fields: dict[str, Any] = {
        **shape,
        "vocab_size": VOCAB,
        "max_position_embeddings": 32768,
        "rms_norm_eps": 1e-5,
        "rope_theta": 1_000_000.0,
        "sliding_window": None,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "tie_word_embeddings": False,
    }
    try:
        from transformers import MistralConfig

        config = MistralConfig(**fields)
        config.architectures = ["MistralForCausalLM"]
        # transformers 5 made ``torch_dtype`` a read-only alias of ``dtype``; 4.x has no alias.
        dtype_key = "dtype" if hasattr(type(config), "dtype") else "torch_dtype"
        setattr(config, dtype_key, "float16")
        config.save_pretrained(out)
    except ImportError:  # the same file by hand
        doc = {**fields, "architectures": ["MistralForCausalLM"], "model_type": "mistral"}
        (out / "config.json").write_text(json.dumps({**doc, "torch_dtype": "float16"}))


def tensor_shapes(shape: dict[str, int]) -> list[tuple[str, tuple[int, ...]]]:
    h, inter = shape["hidden_size"], shape["intermediate_size"]
    head = h // shape["num_attention_heads"]
    kv = shape["num_key_value_heads"] * head
    names: list[tuple[str, tuple[int, ...]]] = [("model.embed_tokens.weight", (VOCAB, h))]
    for i in range(shape["num_hidden_layers"]):
        p = f"model.layers.{i}."
        names += [
            (p + "input_layernorm.weight", (h,)),
            (p + "self_attn.q_proj.weight", (h, h)),
            (p + "self_attn.k_proj.weight", (kv, h)),
            (p + "self_attn.v_proj.weight", (kv, h)),
            (p + "self_attn.o_proj.weight", (h, h)),
            (p + "post_attention_layernorm.weight", (h,)),
            (p + "mlp.gate_proj.weight", (inter, h)),
            (p + "mlp.up_proj.weight", (inter, h)),
            (p + "mlp.down_proj.weight", (h, inter)),
        ]
    return [*names, ("model.norm.weight", (h,)), ("lm_head.weight", (VOCAB, h))]


def write_weights(out: Path, shape: dict[str, int], shard_bytes: int = 2 << 30) -> int:
    """Random FP16 weights (std 0.02, norms 1), drawn on the GPU when there is one, in shards."""
    import torch
    from safetensors.torch import save_file

    device = "cuda" if torch.cuda.is_available() else "cpu"
    gen = torch.Generator(device=device).manual_seed(1234)
    shard: dict[str, Any] = {}
    size = total = n = 0
    for name, dims in tensor_shapes(shape):
        if name.endswith("norm.weight"):
            t = torch.ones(dims, dtype=torch.float16)
        else:
            t = torch.randn(dims, generator=gen, device=device, dtype=torch.float16).mul_(0.02)
        shard[name] = t.cpu()
        size += t.numel() * 2
        if size >= shard_bytes:
            n += 1
            save_file(shard, str(out / f"model-{n:05d}.safetensors"), metadata={"format": "pt"})
            total, shard, size = total + size, {}, 0
    if shard:
        n += 1
        save_file(shard, str(out / f"model-{n:05d}.safetensors"), metadata={"format": "pt"})
        total += size
    return total


def write_tokenizer(out: Path, tokenizer_json: Path | None, spm: Path | None) -> None:
    if tokenizer_json is not None:
        shutil.copy(tokenizer_json, out / "tokenizer.json")
    else:
        assert spm is not None
        from transformers import LlamaTokenizerFast

        # The SentencePiece model converted by transformers (needs sentencepiece, protobuf).
        LlamaTokenizerFast(vocab_file=str(spm), legacy=False).save_pretrained(out)
    if spm is not None:
        shutil.copy(spm, out / "tokenizer.model")
    config = out / "tokenizer_config.json"
    doc = json.loads(config.read_text()) if config.exists() else {}
    doc.update(bos_token="<s>", eos_token="</s>", add_bos_token=True, add_eos_token=False)
    config.write_text(json.dumps(doc, indent=1))


def cmd_build(args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    shape = SHAPES["small" if args.small else "7b"]
    started = time.perf_counter()
    write_config(out, shape)
    write_tokenizer(out, args.tokenizer_json, args.spm)
    size = write_weights(out, shape)
    took = time.perf_counter() - started
    print(f"wrote {out}: {size / 1e9:.2f} GB of FP16 weights in {took:.1f} s", flush=True)


# ------------------------------------------------------------------ run


def measure_bandwidth(torch: Any, nbytes: int = 2 << 30, repeats: int = 10) -> float:
    """Device memory bandwidth (bytes/s): a device-to-device copy reads and writes each byte."""
    src = torch.empty(nbytes, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    dst.copy_(src)
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        dst.copy_(src)
    torch.cuda.synchronize()
    took = time.perf_counter() - started
    del src, dst
    return 2 * nbytes * repeats / took


def weights_size(model: Path) -> int:
    return sum(f.stat().st_size for f in model.glob("*.safetensors"))


def prompt(i: int, tokens: int) -> str:
    # ~4 characters a token for this English text; the engine reports the real count.
    text = f"Report {i}. " + FILLER * (tokens * 4 // len(FILLER) + 1)
    return text[: tokens * 4]


async def one_level(engine: Any, c: int, prompt_tokens: int, gen: int) -> dict[str, Any]:
    from services.inference.engine import GenerationRequest

    requests = [
        GenerationRequest(
            request_id=f"c{c}-{i}",
            prompt=prompt(i, prompt_tokens),
            max_tokens=gen,
            ignore_eos=True,
        )
        for i in range(c)
    ]
    steps_before = engine.stats.steps
    started = time.perf_counter()
    results = await asyncio.gather(*(engine.generate(r) for r in requests))
    wall = time.perf_counter() - started
    tokens = sum(r.completion_tokens for r in results)
    # Generation phase: from the last first token to the last answer (all rows decoding).
    last_first = max(r.ttft_s for r in results)
    end = max(r.total_s for r in results)
    decode_tokens = sum(r.completion_tokens - 1 for r in results)
    single = results[0]
    return {
        "concurrency": c,
        "prompt_tokens_mean": sum(r.prompt_tokens for r in results) / c,
        "generated_tokens": tokens,
        "wall_s": round(wall, 4),
        "tokens_per_s_e2e": round(tokens / wall, 1),
        "tokens_per_s_generation": round(decode_tokens / max(end - last_first, 1e-9), 1)
        if c > 1
        else round((single.completion_tokens - 1) / (single.total_s - single.ttft_s), 1),
        "ttft_s_max": round(last_first, 4),
        "engine_steps": engine.stats.steps - steps_before,
        "all_fixed_length": all(r.completion_tokens == gen for r in results),
    }


async def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    from services.inference.exllama import open_exllama_core, probe_runtime
    from services.inference.exllama_base import ExllamaSettings
    from services.inference.runner import RunnerSettings, ThreadedEngine
    from services.inference.scheduler import SchedulerSettings

    levels = [int(c) for c in args.concurrency.split(",")]
    most = max(levels)
    seq_tokens = -(-(args.prompt + args.gen + 64) // 256) * 256
    settings = ExllamaSettings(
        model_dir=Path(args.model),
        model_name=Path(args.model).name,
        mode=args.mode,
        sequence_tokens=seq_tokens,
        max_sequences=most,
        reserved_sequences=0,
        batch_tokens=args.batch_tokens,
        batch_invariant=args.batch_invariant,
    )
    runtime = probe_runtime()
    started = time.perf_counter()
    core = await asyncio.to_thread(open_exllama_core, settings)
    load_s = time.perf_counter() - started
    torch = core.torch
    weight_bytes = weights_size(Path(args.model))
    bandwidth = measure_bandwidth(torch)
    scheduler = SchedulerSettings(
        max_sequences=most, kv_tokens=most * seq_tokens, reserved_sequences=0
    )
    engine = ThreadedEngine(core, RunnerSettings(scheduler=scheduler, max_waiting=4 * most))
    try:
        await one_level(engine, 1, args.prompt, 8)  # warm-up: kernels, allocator
        rows = []
        for c in levels:
            row = await one_level(engine, c, args.prompt, args.gen)
            print(json.dumps(row), flush=True)
            rows.append(row)
    finally:
        await engine.aclose()
    single = next((r for r in rows if r["concurrency"] == 1), None)
    bound = bandwidth / weight_bytes
    return {
        "machine": {
            "gpu": runtime.cuda_device,
            "torch": runtime.torch,
            "exllamav2": runtime.exllamav2,
            "flash_attn": runtime.flash_attn,
            "python": platform.python_version(),
        },
        "mode": core.mode,
        "engine": core.engine_name,
        "batch_invariant": args.batch_invariant,
        # What a GPU figure means depends on these: every record states them.
        "max_sequences": most,
        "reserved_sequences": 0,
        "model": {
            "dir": args.model,
            "weight_bytes": weight_bytes,
            "dtype": "float16",
            "format": "safetensors (FP16, random weights)",
        },
        "load_s": round(load_s, 1),
        "prompt_tokens": args.prompt,
        "generated_per_request": args.gen,
        "levels": rows,
        "single_stream": {
            "decode_steps_per_s": single["tokens_per_s_generation"] if single else None,
            "measured_bandwidth_GBps": round(bandwidth / 1e9, 1),
            "bandwidth_bound_steps_per_s": round(bound, 1),
            "nominal_bound_steps_per_s_3TBps": round(3.0e12 / weight_bytes, 1),
            "fraction_of_bound": round(single["tokens_per_s_generation"] / bound, 3)
            if single
            else None,
        },
    }


def cmd_run(args: argparse.Namespace) -> None:
    result = asyncio.run(run_bench(args))
    text = json.dumps(result, indent=2)
    print(text, flush=True)
    if args.out:
        Path(args.out).write_text(text + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python3 -m services.inference.exllama_bench", description=__doc__
    )
    sub = parser.add_subparsers(required=True)
    build = sub.add_parser("build", help="write a random-weight Mistral-shaped model directory")
    build.add_argument("out")
    build.add_argument("--small", action="store_true", help="2 layers, hidden 512 (tests)")
    build.add_argument("--tokenizer-json", type=Path, help="a ready tokenizer.json")
    build.add_argument("--spm", type=Path, help="SentencePiece model (tokenizer.model.v1)")
    build.set_defaults(func=cmd_build)
    run = sub.add_parser("run", help="tokens/s through the exllamav2 engine")
    run.add_argument("model")
    run.add_argument("--concurrency", default="1,8,32,64")
    run.add_argument("--prompt", type=int, default=128, help="prompt tokens (about)")
    run.add_argument("--gen", type=int, default=128, help="tokens generated per request")
    run.add_argument("--batch-tokens", type=int, default=512)
    run.add_argument("--mode", choices=["auto", "paged", "static"], default="auto")
    run.add_argument(
        "--batch-invariant",
        action="store_true",
        help="forward every row of the lane (the engine's default); off = rows in use only",
    )
    run.add_argument("--out", help="write the result JSON here")
    run.set_defaults(func=cmd_run)
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is cmd_build and not (args.tokenizer_json or args.spm):
        parser.error("build needs --tokenizer-json or --spm")
    args.func(args)


if __name__ == "__main__":
    main()
