"""What both modes of the GPU engine share: settings, the model and tokenizer, ``prepare``, and
the text of a sequence as tokens arrive (incremental detokenising, stop strings, EOS, JSON end).

The modes (``exllama_paged``, ``exllama_static``) build on :class:`ExllamaBase`; the backend
(``exllama``) probes the host, chooses the mode and opens it. Nothing here imports torch or
exllamav2: the backend passes them in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from services.inference.runner import Sequence as EngineSequence
from services.inference.runner import prepare_request

__all__ = [
    "CacheType",
    "ExllamaBase",
    "ExllamaSettings",
    "GpuMode",
    "IncrementalText",
    "RequestedMode",
    "SeqState",
    "find_stop",
    "json_end",
]

GpuMode = Literal["paged", "static"]
RequestedMode = Literal["auto", "paged", "static"]
CacheType = Literal["fp16", "q8", "q6", "q4"]


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
        prepared = prepare_request(
            seq.request,
            self._encode,
            chat_template=self.template,
            max_context=self.max_context,
            model_name=self.model_name,
        )
        state = SeqState(text=IncrementalText(self.decode))
        if prepared.grammar is not None:
            state.schema = seq.request.json_schema
            state.json_unconstrained = True  # a mode that enforces it clears this
            seq.schema_enforced = False
        seq.state = state
        prepared.fill(seq)

    def _encode(self, text: str, *, first: bool, special: bool) -> list[int]:
        bos = self.add_bos and first
        ids = self.tokenizer.encode(text, add_bos=bos, encode_special_tokens=special)
        return [int(t) for t in ids[0].tolist()]

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
