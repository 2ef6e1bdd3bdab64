"""The GPU engine: ExLlamaV2 behind the same :class:`services.inference.runner.Core` contract.

torch and exllamav2 are imported only when the backend opens (``open_exllama_core``): importing
exllamav2 compiles its CUDA extension, and a host without CUDA must still import this module
(the CLI, the tests). What is missing is reported in ONE error, :class:`GpuUnavailable`.

Two modes, chosen once at start (:func:`choose_mode`) and reported as ``core.mode``:

* **paged** (flash-attn ≥ 2.5.7): exllamav2's dynamic generator, continuous batching, per-job
  JSON filters when lm-format-enforcer is installed (``exllama_paged``);
* **static** (no flash-attn): our own batched decode loop over caches of several rows, prompts
  left-padded, the masked-matmul attention path (``exllama_static``).

This module holds what both share: probing, mode choice, tokenising, the length check, and the
text of a sequence as tokens arrive (incremental detokenising, stop strings, EOS, JSON end).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from services.inference.chat import render_chat
from services.inference.engine import EngineError, PromptTooLong
from services.inference.grammar import SchemaError, compile_schema
from services.inference.registry import ModelError
from services.inference.runner import Sequence as EngineSequence

log = logging.getLogger("vigie.engine.exllama")

GpuMode = Literal["paged", "static"]
RequestedMode = Literal["auto", "paged", "static"]
CacheType = Literal["fp16", "q8", "q6", "q4"]

#: Paged attention in exllamav2 0.3.2 needs this flash-attn (attn.py checks the same).
PAGED_FLASH_ATTN = (2, 5, 7)
INSTALL_HINT = (
    "install the GPU extra (`pip install '.[gpu]'`) with a CUDA build of torch "
    '(see README, GPU engine), or set inference.engine = "llama.cpp"'
)


class GpuUnavailable(ModelError):
    """The GPU engine cannot open on this host; ``missing`` lists what is absent."""

    def __init__(self, model: str, missing: Sequence[str], hint: str = INSTALL_HINT) -> None:
        self.missing = tuple(missing)
        problem = "the exllamav2 engine cannot start: " + "; ".join(self.missing)
        super().__init__(model, problem, hint, reason="unavailable")


@dataclass(frozen=True)
class GpuRuntime:
    """What this host offers the GPU engine, found without importing exllamav2."""

    torch: str | None
    cuda_device: str | None
    exllamav2: str | None
    flash_attn: str | None
    #: One phrase per missing piece, empty when the engine can open.
    missing: tuple[str, ...]


def _version(dist: str, module: str) -> str | None:
    if importlib.util.find_spec(module) is None:
        return None
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def probe_runtime() -> GpuRuntime:
    """torch (imported: the CUDA check needs it), a CUDA device, exllamav2 and flash-attn (found,
    not imported: importing exllamav2 compiles its extension)."""
    missing: list[str] = []
    torch_version = cuda_device = None
    try:
        import torch

        torch_version = str(torch.__version__)
    except ImportError as exc:
        missing.append(f"torch is not installed ({exc})")
        missing.append("a CUDA device cannot be looked for without torch")
    else:
        if not torch.cuda.is_available():
            built = torch.version.cuda
            missing.append(
                "no CUDA device is visible"
                + ("" if built else f" (torch {torch_version} is a CPU-only build)")
            )
        else:
            cuda_device = str(torch.cuda.get_device_name(0))
    exllamav2 = _version("exllamav2", "exllamav2")
    if exllamav2 is None:
        missing.append("exllamav2 is not installed")
    flash = None if "EXLLAMA_NO_FLASH_ATTN" in os.environ else _version("flash-attn", "flash_attn")
    return GpuRuntime(torch_version, cuda_device, exllamav2, flash, tuple(missing))


def _version_tuple(version: str) -> tuple[int, ...]:
    # As exllamav2 reads it: numeric dot-separated parts only ("2.7.4.post1" → 2.7.4).
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def choose_mode(requested: RequestedMode, flash_attn: str | None, model: str = "") -> GpuMode:
    """paged when flash-attn ≥ 2.5.7 is there (``auto``) or asked for; static otherwise.
    Asking for paged without it is an error rather than a quiet fallback."""
    paged_ok = flash_attn is not None and _version_tuple(flash_attn) >= PAGED_FLASH_ATTN
    if requested == "static":
        return "static"
    if requested == "paged" and not paged_ok:
        found = f"flash-attn {flash_attn}" if flash_attn else "no flash-attn"
        raise ModelError(
            model,
            f'inference.gpu_mode = "paged" needs flash-attn ≥ 2.5.7, found {found}',
            'install flash-attn ≥ 2.5.7 or set inference.gpu_mode = "auto" or "static"',
            reason="unavailable",
        )
    return "paged" if paged_ok else "static"


def mode_report(requested: RequestedMode) -> str:
    """What ``vigie models`` shows for the exllamav2 engine: the mode it would run in, or why
    it cannot run here."""
    runtime = probe_runtime()
    if runtime.missing:
        return "unavailable: " + "; ".join(runtime.missing)
    try:
        return choose_mode(requested, runtime.flash_attn)
    except ModelError as exc:
        return f"unavailable: {exc.problem}"


@dataclass(frozen=True)
class ExllamaSettings:
    model_dir: Path
    model_name: str
    mode: RequestedMode = "auto"
    #: Longest sequence: its prompt and its generated tokens together.
    sequence_tokens: int = 2048
    max_sequences: int = 16
    #: Static mode: rows of the lane kept for preempting precedences (0 = one lane only).
    reserved_sequences: int = 1
    #: Prompt tokens per forward pass (prefill chunk).
    batch_tokens: int = 512
    cache: CacheType = "fp16"
    chat_template: str | None = None
    context_length: int | None = None
    #: Static mode: forward every row of a lane and pad prompts to a multiple of 64, so a row's
    #: arithmetic does not change with its batch mates (see exllama_static).
    batch_invariant: bool = True
    #: Ranks below this one pause lower precedences (the scheduler's preempt_below).
    preempt_below: int = 2


def check_length(request_id: str, prompt_tokens: int, max_tokens: int, limit: int) -> None:
    """exllamav2 does not check prompt + max_new_tokens against the model length: we do."""
    if prompt_tokens + max_tokens > limit:
        raise PromptTooLong(
            request_id,
            f"prompt of {prompt_tokens} tokens + {max_tokens} to generate exceeds the "
            f"{limit}-token context of the engine",
            prompt_tokens=prompt_tokens,
            max_tokens=max_tokens,
            limit=limit,
        )


def find_stop(text: str, before: int, stops: Sequence[str]) -> int:
    """Where the earliest stop string starts in ``text``, looking only where one could have
    appeared since ``before`` characters; -1 if none."""
    if not stops:
        return -1
    window = max(len(s) for s in stops)
    tail_from = max(0, before - window + 1)
    found = [i for i in (text.find(s, tail_from) for s in stops) if i >= 0]
    return min(found, default=-1)


def json_end(text: str) -> int | None:
    """The end of the first complete top-level JSON object or array in ``text`` (None while it
    is still open). Unconstrained JSON requests stop there instead of running to their budget;
    the caller validates the value against its schema."""
    depth, in_string, escaped, started = 0, False, False, False
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"' and started:
            in_string = True
        elif ch in "{[":
            depth += 1
            started = True
        elif ch in "}]" and started:
            depth -= 1
            if depth == 0:
                return i + 1
    return None


class IncrementalText:
    """Text of a growing token list, decoded a few tokens at a time.

    SentencePiece-style decoders drop the leading space of whatever they decode first, so a
    token alone decodes wrongly; decoding from a few tokens back and keeping only the new tail
    is right and costs two short decodes per token. A tail ending in an incomplete UTF-8
    sequence (U+FFFD) waits for the next token.
    """

    def __init__(self, decode: Callable[[list[int]], str]) -> None:
        self._decode = decode
        self.ids: list[int] = []
        self._prefix = 0  # tokens before this are settled text
        self._read = 0  # tokens up to this are in ``text``
        self.text = ""

    def add(self, token: int) -> str:
        self.ids.append(token)
        settled = self._decode(self.ids[self._prefix : self._read])
        full = self._decode(self.ids[self._prefix :])
        if full.endswith("\ufffd") or len(full) <= len(settled):
            return ""
        new = full[len(settled) :]
        self.text += new
        self._prefix, self._read = self._read, len(self.ids)
        return new

    def flush(self) -> str:
        """At the end: whatever is held back, replacement characters included."""
        full = self._decode(self.ids[self._prefix :])
        settled = self._decode(self.ids[self._prefix : self._read])
        new = full[len(settled) :] if len(full) > len(settled) else ""
        self.text += new
        self._read = len(self.ids)
        return new


@dataclass(eq=False)
class SeqState:
    """Backend state of one sequence (``Sequence.state``)."""

    text: IncrementalText
    #: The request has a JSON schema this mode does not enforce: stop at the JSON's end.
    json_unconstrained: bool = False
    schema: Any = None
    #: Backend handle: a dynamic job (paged) or the lane holding the row (static).
    job: Any = None
    lane: Any = None
    row: int = -1


def import_gpu(mode: GpuMode) -> tuple[Any, Any]:
    """torch and exllamav2, imported now (the extension compiles on the first import)."""
    if mode == "static":
        # The SDPA branch of 0.3.2 ignores causal and padding masks without flash-attn; the
        # masked-matmul branch is right. The config flag is set too: this covers an import
        # made before (exllamav2 reads the variable at import).
        os.environ.setdefault("EXLLAMA_NO_SDPA", "1")
    with warnings.catch_warnings():
        # Import-time deprecation notices of torch and exllamav2 are theirs, not ours.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        import exllamav2
        import torch

    return torch, exllamav2


class ExllamaBase:
    """What both modes share: model, tokenizer, ``prepare`` and per-token text handling."""

    engine_name = "exllamav2"
    mode: GpuMode

    def __init__(self, settings: ExllamaSettings, torch: Any, exl: Any) -> None:
        self.settings = settings
        self.model_name = settings.model_name
        self.max_sequences = settings.max_sequences
        self.kv_tokens = settings.sequence_tokens * settings.max_sequences
        self.torch, self.exl = torch, exl
        config = exl.ExLlamaV2Config(str(settings.model_dir))
        trained = int(config.max_seq_len)
        #: Longest sequence one request may have.
        self.max_context = min(
            settings.sequence_tokens, trained, settings.context_length or trained
        )
        self.config = config
        self.tokenizer = exl.ExLlamaV2Tokenizer(config)
        tok_config = getattr(self.tokenizer, "tokenizer_config_dict", None) or {}
        self.add_bos = bool(tok_config.get("add_bos_token", True))
        self.template = settings.chat_template or tok_config.get("chat_template")
        self.eos_ids = {int(self.tokenizer.eos_token_id)}
        pad = self.tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else 0)
        from tokenizers import Tokenizer  # exllamav2 needs it without declaring it

        self._hf = Tokenizer.from_file(str(Path(settings.model_dir) / "tokenizer.json"))

    # ---------------------------------------------------------------- Core.prepare

    def prepare(self, seq: EngineSequence) -> None:
        req = seq.request
        if req.messages is not None:
            if not self.template:
                raise EngineError(
                    req.request_id,
                    f"model {self.model_name} has no chat template; send a prompt instead",
                )
            tokens = self._encode_parts(render_chat(self.template, req.messages))
        else:
            assert req.prompt is not None
            if not req.prompt.strip():
                raise EngineError(req.request_id, "the prompt is empty")
            tokens = self._encode(req.prompt, bos=self.add_bos, special=False)
        if not tokens:
            raise EngineError(req.request_id, "the prompt is empty")
        state = SeqState(text=IncrementalText(self.decode))
        max_tokens = req.max_tokens
        if req.json_schema is not None:
            try:
                compiled = compile_schema(req.json_schema)
            except SchemaError as exc:
                raise EngineError(req.request_id, f"json_schema refused: {exc}") from None
            # As on CPU: the schema's own bound is the budget, whatever the request asked.
            max_tokens = compiled.token_budget
            state.schema = req.json_schema
            state.json_unconstrained = True  # a mode that enforces it clears this
        check_length(req.request_id, len(tokens), max_tokens, self.max_context)
        seq.prompt, seq.max_tokens, seq.state = tokens, max_tokens, state
        seq.kv_tokens = len(tokens) + max_tokens

    def _encode(self, text: str, *, bos: bool, special: bool) -> list[int]:
        ids = self.tokenizer.encode(text, add_bos=bos, encode_special_tokens=special)
        return [int(t) for t in ids[0].tolist()]

    def _encode_parts(self, parts: list[tuple[str, bool]]) -> list[int]:
        """Template text may hold special tokens; message contents never become one."""
        tokens: list[int] = []
        for text, is_template in parts:
            if text:
                tokens += self._encode(text, bos=self.add_bos and not tokens, special=is_template)
        return tokens

    def decode(self, ids: list[int]) -> str:
        return str(self._hf.decode(ids, skip_special_tokens=True)) if ids else ""

    # ---------------------------------------------------------------- per token

    def accept(self, seq: EngineSequence, token: int, now: float) -> None:
        """One sampled token for ``seq`` (static mode): EOS, text, stop strings, limits."""
        state: SeqState = seq.state
        if seq.first_token_at is None:
            seq.first_token_at = now
        if token in self.eos_ids and not seq.request.ignore_eos:
            state.text.flush()
            seq.text = state.text.text
            seq.finish = "eos"
            return
        seq.generated.append(token)
        before = len(seq.text)
        state.text.add(token)
        seq.text = state.text.text
        cut = find_stop(seq.text, before, seq.request.stop)
        if cut >= 0:
            seq.text = seq.text[:cut]
            seq.finish = "stop"
            return
        if state.json_unconstrained and (end := json_end(seq.text)) is not None:
            seq.text = seq.text[:end]
            seq.finish = "eos"  # the value is complete: as if the model had ended it
            return
        if len(seq.generated) >= seq.max_tokens:
            state.text.flush()
            seq.text = state.text.text
            seq.finish = "length"


def open_exllama_core(settings: ExllamaSettings) -> Any:
    """Probe, choose the mode, import exllamav2 (compiling it on first use), load the model.
    Returns a Core with ``mode`` set; raises GpuUnavailable or ModelError."""
    runtime = probe_runtime()
    if runtime.missing:
        raise GpuUnavailable(settings.model_name, runtime.missing)
    mode = choose_mode(settings.mode, runtime.flash_attn, settings.model_name)
    torch, exl = import_gpu(mode)
    if mode == "paged":
        from services.inference.exllama_paged import PagedCore

        core: Any = PagedCore(settings, torch, exl)
    else:
        from services.inference.exllama_static import StaticCore

        core = StaticCore(settings, torch, exl)
    log.info(
        "exllamav2 %s engine: model %s on %s (torch %s, exllamav2 %s, flash-attn %s)",
        mode,
        settings.model_name,
        runtime.cuda_device,
        runtime.torch,
        runtime.exllamav2,
        runtime.flash_attn or "absent",
    )
    return core
