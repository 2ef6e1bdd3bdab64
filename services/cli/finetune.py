"""`vigie finetune`: a LoRA adapter of a registry model, trained here, verified and labelled."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from services.catalogue import AdapterSpec, ModelError, ModelSpec
from services.cli.common import fail
from services.config.load import LoadedConfig
from services.feedback.dataset import DatasetError, load_dataset

TRAIN_EXTRA = (
    "vigie finetune needs the training extra: pip install --require-hashes --no-deps "
    "-r ops/lock/train.txt (README, Fine-tuning)"
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "finetune",
        help="train a LoRA adapter of a registry model on a dataset (CPU, resumable)",
        description="Train a LoRA adapter of --model on --data (`vigie dataset export`), write "
        "it as a GGUF LoRA (llama.cpp) and PEFT safetensors (GPU path) under <data dir>/"
        "adapters/, and record both in the registry with their sha256, base model, data "
        "fingerprint and label (the dataset's). Interrupted or stopped by --max-minutes, the "
        "same command resumes from the checkpoint.",
    )
    p.add_argument("--model", required=True, metavar="NAME", help="registry model to adapt")
    p.add_argument("--data", required=True, metavar="FILE", help="a `vigie dataset export` set")
    p.add_argument("--out", required=True, metavar="NAME", help="the adapter's registry name")
    p.add_argument("--steps", type=int, default=200, metavar="N", help="optimiser steps (200)")
    p.add_argument(
        "--max-minutes", type=float, metavar="M", help="stop after M minutes (then resumable)"
    )
    p.add_argument("--rank", type=int, default=8, help="LoRA rank (8)")
    p.add_argument("--alpha", type=int, default=16, help="LoRA alpha (16)")
    p.add_argument("--lr", type=float, default=2e-4, help="learning rate (2e-4)")
    p.add_argument(
        "--max-tokens",
        type=int,
        default=1024,
        help="longest example; longer prompts lose their oldest tokens (1024)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, help="CPU threads (default: every core)")
    p.add_argument(
        "--registry",
        metavar="FILE",
        help="registry file to record in (default: "
        "inference.models_file; the built-in registry cannot be written)",
    )
    p.add_argument("--report", metavar="FILE", help="write the run's figures as JSON")
    p.set_defaults(func=cmd_finetune)


async def cmd_finetune(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    inf = loaded.config.inference
    registry_file = args.registry or inf.models_file
    if not registry_file:
        return fail(
            "the adapter is recorded in a registry file: set inference.models_file (a copy "
            "of ops/models.toml) or pass --registry FILE",
            2,
        )
    try:
        import peft  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        return fail(TRAIN_EXTRA, 2)
    try:
        data = load_dataset(await anyio.to_thread.run_sync(Path(args.data).read_bytes))
    except (OSError, DatasetError) as exc:
        return fail(f"--data {args.data}: {exc}", 2)
    try:
        report = await anyio.to_thread.run_sync(
            quiet_run,
            args,
            loaded,
            Path(registry_file),
            data.label,
            data.fingerprint,
            data.examples,
        )
    except ModelError as exc:
        return fail(str(exc))
    line = (
        f"adapter {args.out} (label {report['label']}, base {args.model}): "
        f"{report['steps']} steps in {report['train_seconds']:.0f} s, "
        f"{report['train_tokens_per_s']:.0f} tokens/s, loss {report['mean_loss_last10']:.3f}; "
        f"{report['gguf_bytes'] / 1e6:.1f} MB GGUF LoRA {report['gguf_path']}"
    )
    print(line, flush=True)
    if report["stopped_by"] == "time":
        print(
            f"vigie: --max-minutes ended the run at step {report['steps']} of {args.steps}; the "
            "adapter holds what was learnt so far (run again to continue)",
            file=sys.stderr,
        )
    if args.report:
        text = json.dumps(report, indent=2) + "\n"
        await anyio.to_thread.run_sync(Path(args.report).write_text, text, "utf-8")
    return 0


def quiet_run(*args: Any) -> dict[str, Any]:
    """:func:`run`, the training libraries' deprecation notices (transformers and peft warn
    about each other's APIs between releases) logged, not raised."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        logging.captureWarnings(True)
        try:
            return run(*args)
        finally:
            logging.captureWarnings(False)


def run(
    args: argparse.Namespace,
    loaded: LoadedConfig,
    registry_file: Path,
    label: str,
    fingerprint: str,
    examples: list[Any],
) -> dict[str, Any]:
    """The whole fine-tune, in a worker thread: verify, load, train, write, record."""
    from services.catalogue import load_registry
    from services.finetune.base import load_base
    from services.finetune.examples import tokenise_all
    from services.finetune.gguf_lora import write_gguf_lora
    from services.finetune.record import adapter_files, check_free, record, relative_to_data
    from services.finetune.train import Progress, TrainSettings, peft_model, train
    from services.inference.registry import manifest_sha256, verify_model
    from services.security.sbom import sha256_file

    inf = loaded.config.inference
    data_dir = Path(loaded.config.nats.data_dir)
    registry = load_registry(registry_file, inf.models_signing_key)
    spec: ModelSpec = registry.get(args.model)
    peft_name = f"{args.out}-peft"
    gguf_path, peft_dir, checkpoint = adapter_files(data_dir, args.out)
    if not checkpoint.exists():
        # A name already taken is refused, unless this is a run of that adapter continuing.
        check_free(registry_file, [args.out, peft_name], inf.models_signing_key)
    verified = verify_model(spec, data_dir)
    base = load_base(spec, verified.path, args.threads)
    tokenised, too_long = tokenise_all(examples, base.tokenizer, args.max_tokens)
    settings = TrainSettings(
        steps=args.steps,
        max_minutes=args.max_minutes,
        rank=args.rank,
        alpha=args.alpha,
        learning_rate=args.lr,
        max_tokens=args.max_tokens,
        seed=args.seed,
        identity={"base": verified.sha256, "data": fingerprint},
    )
    model = peft_model(base.model, settings)
    result = train(model, tokenised, settings, checkpoint, Progress(args.steps, None))
    from peft import get_peft_model_state_dict

    gguf_path.parent.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(peft_dir), save_embedding_layers=False)
    write_gguf_lora(
        gguf_path,
        get_peft_model_state_dict(model, save_embedding_layers=False),
        arch=base.arch,
        n_layers=base.n_layers,
        alpha=settings.alpha,
    )
    gguf_sha = sha256_file(gguf_path)
    peft_sha = manifest_sha256(peft_dir)
    common = {"base": spec.name, "label": label, "data_fingerprint": fingerprint}
    adapters = [
        AdapterSpec(
            name=args.out,
            format="gguf-lora",
            path=relative_to_data(gguf_path, data_dir),
            sha256=gguf_sha,
            description=f"LoRA r{args.rank} of {spec.name}, {result.steps_done} steps (llama.cpp)",
            **common,  # type: ignore[arg-type]
        ),
        AdapterSpec(
            name=peft_name,
            format="peft",
            path=relative_to_data(peft_dir, data_dir),
            sha256=peft_sha,
            description=f"LoRA r{args.rank} of {spec.name}, {result.steps_done} steps (PEFT)",
            **common,  # type: ignore[arg-type]
        ),
    ]
    record(registry_file, adapters)
    return {
        "adapter": args.out,
        "base": spec.name,
        "label": label,
        "data_fingerprint": fingerprint,
        "examples": len(tokenised),
        "examples_too_long": too_long,
        "steps": result.steps_done,
        "resumed_from": result.resumed_from,
        "stopped_by": result.stopped_by,
        "train_seconds": result.seconds,
        "train_tokens": result.tokens,
        "train_completion_tokens": result.completion_tokens,
        "train_tokens_per_s": result.tokens_per_second,
        "first_loss": result.losses[0] if result.losses else None,
        "final_loss": result.final_loss,
        "mean_loss_last10": result.mean_loss_last,
        "losses": result.losses,
        "rank": args.rank,
        "alpha": args.alpha,
        "learning_rate": args.lr,
        "max_tokens": args.max_tokens,
        "threads": args.threads or os.cpu_count(),
        "gguf_path": str(gguf_path),
        "gguf_bytes": gguf_path.stat().st_size,
        "gguf_sha256": gguf_sha,
        "peft_path": str(peft_dir),
        "peft_bytes": sum(f.stat().st_size for f in peft_dir.rglob("*") if f.is_file()),
        "registry": str(registry_file),
        "signed_registry_needs_resigning": bool(inf.models_signing_key),
    }
