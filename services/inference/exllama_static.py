"""Static mode of the GPU engine (no flash-attn): batches through caches of several rows.

exllamav2 0.3.2 without flash-attn cannot batch continuously: a cache of N rows has ONE length
shared by its rows, so a batch starts together (prompts left-padded, with a padding mask and
per-row position offsets) and decodes in lockstep until its last row ends. Its own batched
``generate_simple`` stops every row on one token only and refuses filters, so the decode loop
is ours: one ``model.forward`` per step over the rows, greedy argmax on the GPU (only the chosen
ids cross to the host), EOS, stop strings and token limits per row in Python; a finished row
is fed padding and ignored until the batch ends.

Precedence: rows live in *lanes*, each with its own cache. With reserved sequences there are
two: the main lane (``max_sequences - reserved`` rows) and the urgent lane (``reserved`` rows,
FLASH/IMMEDIATE only). While urgent work runs, the scheduler leaves routine sequences out of the
step and their lane simply is not stepped: its cache stays as it is, and it resumes where it
stopped. A request admitted while its lane is mid-batch waits in the core for the next batch
(admission order). Without reserved sequences there is one lane and no preemption.

Attention goes through exllamav2's masked-matmul path (``no_sdpa``, no flash, no xformers): the
SDPA branch of 0.3.2 ignores the causal and padding masks. JSON schemas are not enforced here
(per-row filters do not exist in this mode): the output stops at the end of the first complete
JSON value and the caller validates it (and retries).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from services.inference.exllama_base import ExllamaBase, ExllamaSettings, GpuMode, SeqState
from services.inference.runner import Sequence as EngineSequence

log = logging.getLogger("vigie.engine.exllama")

#: Batch-invariant mode pads prompts to a multiple of this: a row's attention then has the same
#: shape whatever the length of its batch mates' prompts (within one bucket).
PAD_BUCKET = 64

_CACHES = {"fp16": "ExLlamaV2Cache", "q8": "ExLlamaV2Cache_Q8", "q6": "ExLlamaV2Cache_Q6"}
_CACHES["q4"] = "ExLlamaV2Cache_Q4"


# ------------------------------------------------------------------ pure helpers (tested on CPU)


@dataclass(frozen=True)
class Waiting:
    """A sequence waiting for a batch, as batch formation sees it."""

    key: int
    rank: int
    prompt_tokens: int
    max_tokens: int


def form_batch(waiting: Sequence[Waiting], rows: int, limit: int) -> list[int]:
    """Keys of the sequences that start the next batch of a lane: most urgent first, then in
    arrival order, while the rows last and the longest prompt plus the longest generation fits
    the cache (``limit``). A sequence that does not fit beside those taken waits for the next
    batch; one never overtakes a more urgent one that did not fit."""
    taken: list[Waiting] = []
    for cand in sorted(waiting, key=lambda w: (w.rank, w.key)):
        if len(taken) >= rows:
            break
        width = max([cand.prompt_tokens, *(w.prompt_tokens for w in taken)])
        longest = max([cand.max_tokens, *(w.max_tokens for w in taken)])
        if width + longest > limit:
            break
        taken.append(cand)
    return [w.key for w in taken]


def batch_width(prompt_lens: Sequence[int], max_new: int, limit: int, bucket: int) -> int:
    """Columns of a batch's prompt block: the longest prompt, rounded up to ``bucket`` where the
    cache still holds it with the longest generation (``bucket`` 1 = no rounding)."""
    width = max(prompt_lens)
    padded = -(-width // bucket) * bucket
    return padded if padded + max_new <= limit else width


def left_pad(
    prompts: Sequence[Sequence[int]], width: int, pad_id: int
) -> tuple[list[list[int]], list[int]]:
    """Rows of ``width`` token ids, each prompt right-aligned after padding, and each row's pad
    count (its position offset is minus that: its first real token sits at position 0)."""
    rows, pads = [], []
    for prompt in prompts:
        if not prompt or len(prompt) > width:
            raise ValueError(f"a prompt of {len(prompt)} tokens does not fit {width} columns")
        n = width - len(prompt)
        rows.append([pad_id] * n + list(prompt))
        pads.append(n)
    return rows, pads


# ------------------------------------------------------------------ the core


@dataclass(eq=False)
class Lane:
    name: str
    rows: int
    urgent_only: bool
    cache: Any
    #: Row → sequence of the running batch (None: an unused or released row).
    members: list[EngineSequence | None] = field(default_factory=list)
    mask: Any = None
    offsets: Any = None
    #: Rows the forward passes cover in the running batch.
    forward_rows: int = 0

    def running(self) -> bool:
        return any(q is not None and q.finish is None for q in self.members)


class StaticCore(ExllamaBase):
    """:class:`services.inference.runner.Core` for static batches (engine thread only)."""

    mode: GpuMode = "static"
    #: Every answer and health report names the mode that produced it.
    engine_name = "exllamav2-static"

    def __init__(self, settings: ExllamaSettings, torch: Any, exl: Any) -> None:
        super().__init__(settings, torch, exl)
        reserved = settings.reserved_sequences if settings.max_sequences > 1 else 0
        main_rows = settings.max_sequences - reserved
        cfg = self.config
        cfg.max_seq_len = self.max_context
        cfg.max_batch_size = max(main_rows, reserved, 1)
        cfg.max_input_len = settings.batch_tokens
        # Attention weights are batch × heads × chunk × keys: bound the chunk by it.
        cfg.max_attention_size = settings.batch_tokens**2
        cfg.no_sdpa = True
        cfg.no_flash_attn = True
        cfg.no_xformers = True
        self.model = exl.ExLlamaV2(cfg)
        self.model.load(progress=False)
        cache_cls = getattr(exl, _CACHES[settings.cache])
        self.lanes = [
            Lane("main", main_rows, False, cache_cls(self.model, main_rows, self.max_context))
        ]
        if reserved:
            urgent = cache_cls(self.model, reserved, self.max_context)
            self.lanes.append(Lane("urgent", reserved, True, urgent))
        #: Started sequences waiting for their lane's next batch.
        self.pending: list[EngineSequence] = []
        self.bucket = PAD_BUCKET if settings.batch_invariant else 1
        self._pad_column = [self.pad_id]

    # ---------------------------------------------------------------- Core

    def start(self, seq: EngineSequence) -> None:
        self.pending.append(seq)

    def step(self, active: list[EngineSequence]) -> None:
        keys = {q.key for q in active}
        stepped: set[int] = set()
        for lane in self.lanes:
            if lane.running():
                continue
            urgent = self.settings.preempt_below
            eligible = [
                q
                for q in self.pending
                if q.key in keys and (not lane.urgent_only or q.rank < urgent)
            ]
            if eligible:
                self._begin(lane, eligible)
                stepped.add(id(lane))
        running = [lane for lane in self.lanes if lane.running() and id(lane) not in stepped]
        for lane in running:
            # A lane steps when the scheduler lets any of its rows step; rows it paused ride
            # along (lockstep) and are handed back when they are active again.
            if any(q is not None and q.key in keys for q in lane.members):
                self._decode(lane)
                stepped.add(id(lane))
        if not stepped:
            # The active sequences all wait for a lane whose batch the scheduler paused (one
            # lane, no reserved rows): that batch runs to its end first — admission order.
            for lane in running:
                self._decode(lane)

    def release(self, seq: EngineSequence) -> None:
        state: SeqState | None = seq.state
        if seq in self.pending:
            self.pending.remove(seq)
        if state is None or state.lane is None:
            return
        lane: Lane = state.lane
        if 0 <= state.row < len(lane.members) and lane.members[state.row] is seq:
            lane.members[state.row] = None  # the row is fed padding until the batch ends
        state.lane, state.row = None, -1

    def close(self) -> None:
        for lane in self.lanes:
            lane.cache = None
        self.model.unload()

    # ---------------------------------------------------------------- batches

    def _begin(self, lane: Lane, eligible: list[EngineSequence]) -> None:
        """Start a batch in an idle lane: left-padded prefill, first token of every row."""
        by_key = {q.key: q for q in eligible}
        waiting = [Waiting(q.key, q.rank, len(q.prompt), q.max_tokens) for q in eligible]
        chosen = [by_key[k] for k in form_batch(waiting, lane.rows, self.max_context)]
        if not chosen:
            return
        for seq in chosen:
            self.pending.remove(seq)
        max_new = max(q.max_tokens for q in chosen)
        width = batch_width([len(q.prompt) for q in chosen], max_new, self.max_context, self.bucket)
        # Batch-invariant: every row of the lane, always (one shape whatever the batch);
        # otherwise only the rows in use. An unused row holds one real token, never only
        # padding: a row whose every key is masked would turn into NaN.
        lane.forward_rows = lane.rows if self.bucket > 1 else len(chosen)
        dummy = [self.tokenizer.bos_token_id or self.pad_id]
        prompts = [q.prompt for q in chosen] + [dummy] * (lane.forward_rows - len(chosen))
        rows, pads = left_pad(prompts, width, self.pad_id)
        torch = self.torch
        ids = torch.tensor(rows, dtype=torch.long)
        pad = torch.tensor([[c < n for c in range(width)] for n in pads], dtype=torch.bool)
        lane.mask = torch.zeros((len(rows), width), dtype=torch.half).masked_fill(
            pad, float("-inf")
        )
        lane.offsets = torch.tensor([-n for n in pads], dtype=torch.int)
        lane.members = [*chosen, *([None] * (lane.forward_rows - len(chosen)))]
        for row, seq in enumerate(chosen):
            seq.state.lane, seq.state.row = lane, row
            seq.consumed = len(seq.prompt)
        lane.cache.current_seq_len = 0
        logits = self.model.forward(
            ids,
            lane.cache,
            input_mask=lane.mask,
            position_offsets=lane.offsets,
            last_id_only=True,
        )
        self._accept(lane, logits)

    def _decode(self, lane: Lane) -> None:
        column = []
        for seq in lane.members:
            last = seq.generated[-1] if seq is not None and seq.generated else None
            column.append(self.pad_id if seq is None or seq.finish or last is None else last)
        torch = self.torch
        ids = torch.tensor(column, dtype=torch.long).unsqueeze(1)
        logits = self.model.forward(
            ids, lane.cache, input_mask=lane.mask, position_offsets=lane.offsets
        )
        self._accept(lane, logits)

    def _accept(self, lane: Lane, logits: Any) -> None:
        # The argmax stays on the GPU: one small copy of ids per step, never the logits.
        chosen = logits[:, -1, :].argmax(dim=-1).tolist()
        now = time.monotonic()
        for seq, token in zip(lane.members, chosen, strict=False):
            if seq is not None and seq.finish is None:
                self.accept(seq, int(token), now)
