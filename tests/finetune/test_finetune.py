"""A fine-tune end to end on a tiny random-weight Gemma-3: dataset → `vigie finetune` → GGUF LoRA
and PEFT recorded in the registry with sha256, base, data fingerprint and label → the llama.cpp
engine serves it, and its output differs from the base's; a tampered adapter is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("gguf")

from services.catalogue import builtin_registry, load_registry
from services.config.load import load_config
from services.feedback.dataset import Example, render_dataset
from services.inference.adapters import AdapterError
from services.inference.engine import GenerationRequest
from services.inference.factory import open_engine, served_adapter
from services.inference.registry import verify_model
from tests.finetune.tiny_gemma import write_tiny_gemma
from tests.integration.test_cli import build_parser

PROMPT = "Report:\nLe 2e bataillon tient le pont.\nLexicon:"


def examples() -> list[Example]:
    return [
        Example(
            task="translate",
            label="s",
            origin=f"test:{i}",
            style="few-shot",
            prompt_version="t/1",
            prompt=PROMPT,
            completion=" BRAVO ZULU BRAVO ZULU\n",
        )
        for i in range(3)
    ]


async def vigie(data_dir: Path, registry: Path, *argv: str, adapter: str | None = None) -> int:
    env = {"VIGIE_NATS__DATA_DIR": str(data_dir), "VIGIE_INFERENCE__MODELS_FILE": str(registry)}
    if adapter:
        env["VIGIE_INFERENCE__ADAPTER"] = adapter
    args = build_parser().parse_args(list(argv))
    code: int = await args.func(args, load_config(None, env=env))
    return code


async def generate(data_dir: Path, registry: Path, adapter: str | None) -> str:
    env = {
        "VIGIE_NATS__DATA_DIR": str(data_dir),
        "VIGIE_INFERENCE__MODELS_FILE": str(registry),
        "VIGIE_INFERENCE__SEQUENCE_TOKENS": "256",
        "VIGIE_INFERENCE__MAX_SEQUENCES": "2",
        "VIGIE_INFERENCE__RESERVED_SEQUENCES": "0",
        "VIGIE_INFERENCE__THREADS": "2",
    }
    if adapter:
        env["VIGIE_INFERENCE__ADAPTER"] = adapter
    engine = await open_engine(load_config(None, env=env).config)
    try:
        result = await engine.generate(
            GenerationRequest(request_id="t", prompt=PROMPT, max_tokens=8, ignore_eos=True)
        )
    finally:
        await engine.aclose()
    return result.text


@pytest.mark.timeout(300)
async def test_a_fine_tuned_adapter_is_recorded_verified_and_served(tmp_path: Path) -> None:
    shipped = verify_model(builtin_registry().default_model, tmp_path / "shipped").path
    data_dir = tmp_path / "data"
    (data_dir / "models").mkdir(parents=True)
    tiny = write_tiny_gemma(shipped, data_dir / "models" / "tiny.gguf")
    import hashlib

    digest = hashlib.sha256(tiny.read_bytes()).hexdigest()
    registry = tmp_path / "models.toml"
    registry.write_text(
        'default = "tiny"\n\n[models.tiny]\nformat = "gguf"\npath = "models/tiny.gguf"\n'
        f'sha256 = "{digest}"\ncontext_length = 2048\nprompt_style = "few-shot"\n'
    )
    data = render_dataset(examples(), "s", ["test"])
    fingerprint = json.loads(data.split(b"\n", 1)[0])["fingerprint"]
    dataset = tmp_path / "set.jsonl"
    dataset.write_bytes(data)
    report = tmp_path / "report.json"

    argv = ["finetune", "--model", "tiny", "--data", str(dataset), "--out", "tiny-lex"]
    argv += ["--steps", "4", "--lr", "0.05", "--max-tokens", "64", "--threads", "2"]
    assert await vigie(data_dir, registry, *argv, "--report", str(report)) == 0

    figures = json.loads(report.read_text())
    assert figures["steps"] == 4 and figures["label"] == "s"
    assert figures["train_tokens_per_s"] > 0 and figures["gguf_bytes"] > 0
    recorded = load_registry(registry)
    lex, peft = recorded.adapter("tiny-lex"), recorded.adapter("tiny-lex-peft")
    assert (lex.format, lex.base, lex.label, lex.data_fingerprint) == (
        "gguf-lora",
        "tiny",
        "s",
        fingerprint,
    )
    assert lex.sha256 == hashlib.sha256((data_dir / lex.path).read_bytes()).hexdigest()
    assert peft.format == "peft" and (data_dir / peft.path / "adapter_config.json").exists()
    # `vigie models` lists and verifies both.
    assert await vigie(data_dir, registry, "models", "--json") == 0

    base_text = await generate(data_dir, registry, None)
    adapted_text = await generate(data_dir, registry, "tiny-lex")
    assert adapted_text != base_text

    # Unknown and tampered adapters: refused by name, never served.
    cfg = load_config(
        None,
        env={
            "VIGIE_NATS__DATA_DIR": str(data_dir),
            "VIGIE_INFERENCE__MODELS_FILE": str(registry),
            "VIGIE_INFERENCE__ADAPTER": "no-such",
        },
    ).config
    with pytest.raises(AdapterError, match="unknown adapter"):
        served_adapter(cfg)
    lex_file = data_dir / lex.path
    blob = bytearray(lex_file.read_bytes())
    blob[-1] ^= 0xFF
    lex_file.write_bytes(bytes(blob))
    with pytest.raises(AdapterError, match="not verified"):
        await generate(data_dir, registry, "tiny-lex")
    assert await vigie(data_dir, registry, "models") == 1
