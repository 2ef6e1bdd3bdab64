"""The GPU engine's CPU-side logic: configuration, mode choice, errors, length checks, text
handling and static-batch layout (everything that needs no GPU)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from services.catalogue import ModelError
from services.config.load import ConfigError, load_config
from services.config.schema import Config, InferenceConfig, NatsConfig
from services.inference.engine import PromptTooLong
from services.inference.exllama import (
    MODES,
    GpuUnavailable,
    choose_mode,
    mode_report,
    open_exllama_core,
    probe_runtime,
)
from services.inference.exllama_base import (
    ExllamaBase,
    ExllamaSettings,
    IncrementalText,
    find_stop,
    json_end,
)
from services.inference.exllama_paged import round_up
from services.inference.exllama_static import (
    PAD_BUCKET,
    Waiting,
    batch_width,
    form_batch,
    left_pad,
)
from services.inference.factory import open_engine
from services.inference.runner import check_length

# ------------------------------------------------------------------ configuration


def test_gpu_settings_default_to_auto_and_fp16() -> None:
    inf = InferenceConfig()
    assert (inf.gpu_mode, inf.gpu_cache) == ("auto", "fp16")


def test_gpu_settings_are_validated(tmp_path: Path) -> None:
    loaded = load_config(None, env={"VIGIE_INFERENCE__GPU_MODE": "static"})
    assert loaded.config.inference.gpu_mode == "static"
    for key, bad in [("GPU_MODE", "fast"), ("GPU_CACHE", "q3")]:
        with pytest.raises(ConfigError) as caught:
            load_config(None, env={f"VIGIE_INFERENCE__{key}": bad})
        assert caught.value.key == f"inference.{key.lower()}"


# ------------------------------------------------------------------ mode choice


@pytest.mark.parametrize(
    ("requested", "flash", "mode"),
    [
        ("auto", None, "static"),
        ("auto", "2.5.6", "static"),
        ("auto", "2.5.7", "paged"),
        ("auto", "2.7.4.post1", "paged"),
        ("static", "2.7.4", "static"),
        ("static", None, "static"),
        ("paged", "2.6.3", "paged"),
    ],
)
def test_mode_follows_flash_attn(requested: str, flash: str | None, mode: str) -> None:
    assert choose_mode(requested, flash) == mode  # type: ignore[arg-type]


@pytest.mark.parametrize(("flash", "found"), [(None, "no flash-attn"), ("2.5.6", "2.5.6")])
def test_paged_without_flash_attn_is_refused(flash: str | None, found: str) -> None:
    with pytest.raises(ModelError) as caught:
        choose_mode("paged", flash, "mistral")
    err = caught.value
    assert err.model == "mistral" and err.reason == "unavailable"
    assert "2.5.7" in err.problem and found in err.problem
    assert "static" in err.hint


def test_every_mode_names_its_core() -> None:
    # The modes are imported by name once chosen: a wrong name would only show on a GPU host.
    for mode, (module, name) in MODES.items():
        core = getattr(importlib.import_module(module), name)
        assert issubclass(core, ExllamaBase) and core.mode == mode


# ------------------------------------------------------------------ missing runtime (this host)


@pytest.fixture
def no_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host without torch, also where the training extra installed it: ``import torch``
    raises ImportError (None in sys.modules), as it does where torch is absent."""
    monkeypatch.setitem(sys.modules, "torch", None)


needs_no_torch = pytest.mark.usefixtures("no_torch")


@needs_no_torch
def test_probe_names_what_is_missing() -> None:
    runtime = probe_runtime()
    assert runtime.torch is None and runtime.cuda_device is None
    text = "; ".join(runtime.missing)
    assert "torch" in text and "CUDA" in text
    if runtime.exllamav2 is None:
        assert "exllamav2 is not installed" in text


@needs_no_torch
def test_opening_without_torch_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(GpuUnavailable) as caught:
        open_exllama_core(ExllamaSettings(model_dir=tmp_path, model_name="m"))
    err = caught.value
    assert err.reason == "unavailable" and not err.recoverable
    assert "\n" not in str(err)
    assert "torch" in str(err) and "CUDA" in str(err)
    assert "pip install '.[gpu]'" in err.hint
    assert mode_report("auto").startswith("unavailable: torch is not installed")


def _gpu_config(tmp_path: Path, fmt: str) -> Config:
    models = tmp_path / "models.toml"
    path = "weights.gguf" if fmt == "gguf" else "mistral-dir"
    models.write_text(
        f'default = "m"\n[models.m]\nformat = "{fmt}"\npath = "{path}"\nsha256 = "{"0" * 64}"\n'
        'context_length = 4096\nprompt_style = "chat"\n',
        encoding="utf-8",
    )
    return Config(
        nats=NatsConfig(data_dir=str(tmp_path)),
        inference=InferenceConfig(engine="exllamav2", models_file=str(models)),
    )


async def test_factory_refuses_a_gguf_model_for_exllamav2(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="directory of safetensors"):
        await open_engine(_gpu_config(tmp_path, "gguf"))


@needs_no_torch
async def test_factory_reports_the_missing_gpu_before_hashing(tmp_path: Path) -> None:
    # The model directory does not even exist: the host is checked first.
    with pytest.raises(GpuUnavailable, match="torch is not installed"):
        await open_engine(_gpu_config(tmp_path, "exl2"))


# ------------------------------------------------------------------ lengths and text


def test_prompt_plus_max_tokens_is_checked_against_the_model() -> None:
    check_length("r", 200, 56, 256)
    with pytest.raises(PromptTooLong) as caught:
        check_length("r", 200, 57, 256)
    err = caught.value
    assert (err.prompt_tokens, err.max_tokens, err.limit) == (200, 57, 256)
    assert "r" in str(err) and "256" in str(err) and not err.recoverable


def test_find_stop_looks_only_where_a_stop_can_have_appeared() -> None:
    assert find_stop("abc STOP", 4, ["STOP"]) == 4
    assert find_stop("abc STOP more", 12, ["STOP"]) == -1  # before the window
    assert find_stop("x END y STOP", 0, ["STOP", "END"]) == 2
    assert find_stop("anything", 0, []) == -1


@pytest.mark.parametrize(
    ("text", "end"),
    [
        ('{"a": 1}', 8),
        ('  {"a": "}"} trailing', 12),
        ('{"a": "\\"}"} x', 12),
        ("[1, [2]], 3", 8),
        ('{"a": [1, 2', None),
        ("no json at all", None),
    ],
)
def test_json_end_finds_the_first_complete_value(text: str, end: int | None) -> None:
    assert json_end(text) == end


def test_json_end_ignores_quotes_before_the_value() -> None:
    text = 'x "y" {"k": "v"}'
    assert json_end(text) == len(text)


def _spm_decode(ids: list[int]) -> str:
    """SentencePiece-like: token n is "▁w<n>" (a leading space) except 0 = "é" in two bytes
    (ids 90, 91); the decoder drops the first leading space of what it decodes."""
    out = bytearray()
    for t in ids:
        if t == 90:
            out += "é".encode()[:1]
        elif t == 91:
            out += "é".encode()[1:]
        else:
            out += f" w{t}".encode()
    return out.decode("utf-8", errors="replace").removeprefix(" ")


def test_incremental_text_keeps_spaces_and_waits_for_whole_characters() -> None:
    text = IncrementalText(_spm_decode)
    assert text.add(1) == "w1"
    assert text.add(2) == " w2"
    assert text.add(90) == ""  # half a character: held back
    assert text.add(91) == "é"
    assert text.add(3) == " w3"
    assert text.text == _spm_decode([1, 2, 90, 91, 3])


def test_incremental_text_flush_gives_what_was_held() -> None:
    text = IncrementalText(_spm_decode)
    text.add(1)
    text.add(90)
    text.flush()
    assert text.text == "w1\ufffd"


# ------------------------------------------------------------------ static batches


def w(key: int, prompt: int, new: int, rank: int = 3) -> Waiting:
    return Waiting(key=key, rank=rank, prompt_tokens=prompt, max_tokens=new)


def test_batch_takes_urgent_first_then_arrival_order_within_rows() -> None:
    waiting = [w(1, 10, 10), w(2, 10, 10), w(3, 10, 10, rank=0), w(4, 10, 10)]
    assert form_batch(waiting, rows=3, limit=100) == [3, 1, 2]


def test_batch_stops_at_the_first_that_does_not_fit_beside_the_others() -> None:
    # 60-token prompt + 50 to generate beside each other exceed 100: 2 waits, and 3 does not
    # overtake it.
    waiting = [w(1, 60, 10), w(2, 10, 50), w(3, 5, 5)]
    assert form_batch(waiting, rows=8, limit=100) == [1]
    assert form_batch([w(2, 10, 50), w(3, 5, 5)], rows=8, limit=100) == [2, 3]


def test_batch_width_rounds_to_the_bucket_when_the_cache_holds_it() -> None:
    assert batch_width([5, 17, 9], 32, 256, PAD_BUCKET) == 64
    assert batch_width([65], 32, 256, PAD_BUCKET) == 128
    assert batch_width([200], 40, 256, PAD_BUCKET) == 200  # 256 + 40 would not fit
    assert batch_width([5, 17], 32, 256, 1) == 17


def test_left_pad_right_aligns_prompts_and_counts_the_padding() -> None:
    rows, pads = left_pad([[7, 8, 9], [5]], 4, 0)
    assert rows == [[0, 7, 8, 9], [0, 0, 0, 5]]
    assert pads == [1, 3]
    with pytest.raises(ValueError):
        left_pad([[1, 2, 3]], 2, 0)
    with pytest.raises(ValueError):
        left_pad([[]], 2, 0)


def test_paged_cache_sizes_are_whole_pages() -> None:
    assert [round_up(n) for n in (1, 256, 257, 2048)] == [256, 256, 512, 2048]
