"""The CPU engine: llama.cpp through llama-cpp-python's low-level API, batched continuously.

Every step is ONE ``llama_decode`` over one token of each decoding sequence plus prompt chunks
of the sequences being admitted; a sequence that ends frees its KV cells at once and a new
request takes its place at the next step. Sampling is greedy and native: logits never leave
llama.cpp. A constrained request carries its own grammar sampler; the greedy choice is tried
against it first (one token), and only when the grammar refuses it does the grammar filter the
whole vocabulary — that keeps constrained decoding close to unconstrained speed.

Prompt prefixes are computed once (``services.inference.prefix``): each sequence has its own KV
stream, and a few more streams (*holders*) keep the prefixes prompts share; a new sequence whose
prompt starts with a held prefix gets a copy of the holder's stream and computes only the rest.
A whole-stream copy continues exactly as the sequence that computed the prefix would have, also
for Gemma 3's sliding-window layers, which drop cells older than their window.
"""

from __future__ import annotations

import codecs
import ctypes
import heapq
import logging
import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np

from services.inference.adapters import ServedAdapter, apply_lora, free_lora, load_lora
from services.inference.engine import EngineError
from services.inference.prefix import Holder, Match, PrefixCache
from services.inference.runner import Sequence, prepare_request
from services.inference.scheduler import PrefillLimits, PrefillNeed, plan_prefill

log = logging.getLogger("vigie.engine.llama")

#: Most single-token rows per call for which llama.cpp's CPU kernels give each row the
#: arithmetic it would have alone (from 8 on they change on the machine it was measured on;
#: the engine spot-checks it at start, :meth:`LlamaCore.check_invariance`).
INVARIANT_DECODE_GROUP = 7

#: Next-most-likely tokens tried against a grammar before it filters the whole vocabulary.
PROBE_CANDIDATES = 32

_backend_lock = threading.Lock()
_backend_ready = False


class EngineStartError(Exception):
    """The engine could not start (model file, context size): not recoverable by retrying."""

    recoverable = False

    def __init__(self, problem: str, hint: str) -> None:
        self.problem, self.hint = problem, hint
        super().__init__(f"{problem} — {hint}")


@dataclass(frozen=True)
class LlamaSettings:
    model_path: Path
    model_name: str
    #: KV cells of each sequence: its prompt and generated tokens together.
    sequence_tokens: int = 2048
    max_sequences: int = 16
    threads: int = 2
    #: Most tokens in one decode call (prompt chunks included).
    batch_tokens: int = 512
    chat_template: str | None = None
    #: What the registry says the model was trained for (the GGUF's own value also bounds it).
    context_length: int | None = None
    #: Sequences decoded per llama.cpp call; None = all in one call (faster, but a sequence's
    #: output then depends on its batch mates).
    decode_group: int | None = None
    #: Prompt prefixes kept computed for reuse (KV streams of their own); 0 = no reuse.
    prefix_holders: int = 16
    #: Whether a prompt waits for a prefix another sequence is computing (False: computes it).
    prefix_wait: bool = True
    #: Seconds of prompt computation one step may take (besides ``batch_tokens``; not in
    #: batch-invariant mode, where only the token grid cuts prompts).
    prefill_seconds: float = 0.25
    #: The LoRA adapter applied to the whole context (None: the base weights). A cached
    #: prefix's KV depends on it: the prefix cache is keyed by its name and sha256.
    adapter: ServedAdapter | None = None
    #: One KV stream shared by all sequences instead of one each (measured, not shipped:
    #: docs/BENCHMARKS.md).
    kv_unified: bool = False


@dataclass(eq=False)
class _State:
    seq_id: int = -1
    chain: Any = None  # grammar + greedy, for a constrained request
    #: Prompt position at which to keep a prefix for later prompts (None: none).
    keep_at: int | None = None
    #: A prefix another sequence is computing, to copy once held before computing the rest.
    wait_for: tuple[int, ...] | None = None
    grammar: Any = None  # the grammar inside ``chain`` (owned by it)
    decoder: Any = None


@llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
def _route_log(level: int, text: bytes, user_data: Any) -> None:
    # llama.cpp narrates every load on stderr; operators get it at debug level only.
    if log.isEnabledFor(logging.DEBUG):
        log.debug("%s", text.decode("utf-8", "replace").rstrip())


def _ensure_backend() -> None:
    global _backend_ready
    with _backend_lock:
        if not _backend_ready:
            llama_cpp.llama_log_set(_route_log, None)
            llama_cpp.llama_backend_init()
            _backend_ready = True


class LlamaCore:
    """:class:`services.inference.runner.Core` for llama.cpp (engine thread only)."""

    engine_name = "llama.cpp"

    def __init__(self, settings: LlamaSettings) -> None:
        _ensure_backend()
        self.settings = settings
        self.model_name = settings.model_name
        self.max_sequences = settings.max_sequences
        self.kv_tokens = settings.sequence_tokens * settings.max_sequences
        holders = settings.prefix_holders
        streams = settings.max_sequences + holders
        mparams = llama_cpp.llama_model_default_params()
        invariant = settings.decode_group is not None
        # Repacked weights and fused attention change their arithmetic with the number of rows:
        # kept for throughput mode, where outputs may depend on batch mates anyway.
        mparams.use_extra_bufts = not invariant
        model = llama_cpp.llama_model_load_from_file(str(settings.model_path).encode(), mparams)
        if not model:
            raise EngineStartError(
                f"llama.cpp could not load {settings.model_path}",
                "check that it is a GGUF file this llama.cpp version reads (`vigie models`)",
            )
        self._model = model
        self.adapter = settings.adapter
        try:
            self._lora = load_lora(model, settings.adapter) if settings.adapter else None
        except Exception:
            llama_cpp.llama_model_free(model)
            raise
        self.context_train = int(llama_cpp.llama_model_n_ctx_train(model))
        cparams = llama_cpp.llama_context_default_params()
        cparams.n_ctx = settings.sequence_tokens * streams
        cparams.n_batch = settings.batch_tokens
        cparams.n_ubatch = settings.batch_tokens
        cparams.n_seq_max = streams
        # A call outputs one row per decoding sequence at most: sizing the logits buffer for
        # every token of a micro-batch would cost n_ubatch × vocabulary floats (512 MiB here).
        cparams.n_outputs_max = streams
        cparams.n_threads = settings.threads
        cparams.n_threads_batch = settings.threads
        # One KV stream per sequence: a sequence's cells sit where they would sit alone, and
        # each row attends over its own cells only.
        cparams.kv_unified = settings.kv_unified
        cparams.flash_attn_type = (
            llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
            if invariant
            else llama_cpp.LLAMA_FLASH_ATTN_TYPE_AUTO
        )
        cparams.no_perf = True
        ctx = llama_cpp.llama_init_from_model(model, cparams)
        if not ctx:
            free_lora(self._lora)
            llama_cpp.llama_model_free(model)
            raise EngineStartError(
                f"llama.cpp could not create a context of {settings.sequence_tokens} tokens "
                f"for each of {settings.max_sequences} sequences and {holders} prefix holders",
                "lower inference.sequence_tokens, inference.max_sequences or "
                "inference.prefix_cache_prefixes",
            )
        self._ctx = ctx
        if settings.adapter is not None:
            try:
                apply_lora(ctx, self._lora, settings.adapter)
            except Exception:
                llama_cpp.llama_free(ctx)
                free_lora(self._lora)
                llama_cpp.llama_model_free(model)
                raise
        self._vocab = llama_cpp.llama_model_get_vocab(model)
        self._closed = False
        self._memory = llama_cpp.llama_get_memory(ctx)
        # Room for a prompt chunk or one token of every sequence, whichever is more.
        self._batch = llama_cpp.llama_batch_init(
            max(settings.batch_tokens, settings.max_sequences), 0, 1
        )
        self._n_vocab = int(llama_cpp.llama_vocab_n_tokens(self._vocab))
        self._free_ids = list(range(settings.max_sequences))
        self._piece = ctypes.create_string_buffer(256)
        self._probe = (llama_cpp.llama_token_data * 1)()
        self._probe_array = llama_cpp.llama_token_data_array(
            data=self._probe, size=1, selected=-1, sorted=False
        )
        self._template = settings.chat_template or self._metadata("tokenizer.chat_template")
        #: Longest sequence (prompt + generated) one request may have.
        self.max_context = min(
            int(llama_cpp.llama_n_ctx_seq(ctx)),
            self.context_train,
            settings.context_length or self.context_train,
        )
        self.prefixes: PrefixCache | None = None
        if holders > 0:
            self.prefixes = PrefixCache(
                range(settings.max_sequences, streams),
                model=self.model_name,
                adapter=(
                    f"{settings.adapter.name}@{settings.adapter.sha256}"
                    if settings.adapter
                    else None
                ),
                wait=settings.prefix_wait,
            )
        self._steps = 0
        #: Prompt tokens per second, measured (0 until the first prompt chunk).
        self._prefill_rate = 0.0
        if settings.decode_group is not None:
            try:
                self.check_invariance(settings.decode_group)
            except BaseException:
                self.close()
                raise

    # ------------------------------------------------------------------ Core

    def prepare(self, seq: Sequence) -> None:
        prepared = prepare_request(
            seq.request,
            self._tokenize,
            chat_template=self._template,
            max_context=self.max_context,
            model_name=self.model_name,
        )
        state = _State(decoder=codecs.getincrementaldecoder("utf-8")(errors="replace"))
        compiled = prepared.grammar
        if compiled is not None:
            grammar = llama_cpp.llama_sampler_init_grammar(
                self._vocab, compiled.gbnf.encode(), compiled.root.encode()
            )
            if not grammar:
                raise EngineError(
                    seq.request.request_id, "json_schema: its grammar did not compile"
                )
            chain = llama_cpp.llama_sampler_chain_init(
                llama_cpp.llama_sampler_chain_default_params()
            )
            llama_cpp.llama_sampler_chain_add(chain, grammar)
            seq.schema_enforced = True  # the grammar is the whole schema, extensions included
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_greedy())
            state.chain, state.grammar = chain, grammar
        seq.state = state
        prepared.fill(seq)

    def start(self, seq: Sequence) -> None:
        seq_id = heapq.heappop(self._free_ids)
        seq.state.seq_id = seq_id
        if self.prefixes is None:
            return
        self._place(
            seq, self.prefixes.lookup(seq.prompt, self._steps, owner=seq.key, rank=seq.rank)
        )

    def _place(self, seq: Sequence, match: Match) -> None:
        seq.state.keep_at, seq.state.wait_for = match.keep_at, match.wait_for
        if match.holder is not None:
            self._copy_prefix(seq, match.holder)

    def _copy_prefix(self, seq: Sequence, holder: Holder) -> None:
        # A whole-stream copy (applied before the next decode) into a stream with nothing
        # computed yet: the sequence continues from the prefix's end as the sequence that
        # computed it did.
        llama_cpp.llama_memory_seq_cp(self._memory, holder.slot, seq.state.seq_id, -1, -1)
        seq.consumed = seq.cached_tokens = len(holder.key.tokens)

    def step(self, active: list[Sequence]) -> None:
        """One token for every sequence past its prompt (in calls of ``decode_group``), then
        prompt chunks, each sequence in its own call, urgent prompts first, cut at multiples of
        ``batch_tokens``, at a prefix to keep, and where the step's prompt time runs out
        (:func:`services.inference.scheduler.plan_prefill`).

        Why not one call for everything: llama.cpp splits a batch whose sequences bring
        different token counts into several micro-batches, and its CPU kernels change their
        arithmetic from 8 tokens per call — either way a sequence's output would depend on its
        batch mates. Calls shaped only by the sequence itself (a prompt chunk) or of fewer than
        8 single-token rows compute exactly what the sequence would alone; the conformance
        suite checks it.
        """
        for seq in active:
            if seq.state.wait_for is not None:
                self._take_waited_prefix(seq)
        # llama.cpp puts only runs of consecutive sequence ids in one micro-batch (one KV
        # stream per sequence): ids in order, and the lowest ones reused first, keep it to one.
        decoding = sorted(
            (q for q in active if q.consumed >= len(q.prompt)), key=lambda q: q.state.seq_id
        )
        group = self.settings.decode_group or len(decoding) or 1
        for first in range(0, len(decoding), group):
            members = decoding[first : first + group]
            for n, seq in enumerate(members):
                pos = len(seq.prompt) + len(seq.generated) - 1
                self._add(n, seq.generated[-1], pos, seq.state.seq_id, True)
            self._decode(len(members))
            for n, seq in enumerate(members):
                self._sample(seq, n)
        self._steps += 1
        # Prompt chunks, urgent prompts first, bounded by tokens and by time: the step time
        # decoding sequences see. Batch-invariant mode keeps chunks on the token grid only: a
        # cut where time runs out depends on what else runs, and a prompt computed in other
        # chunks can come out differently (measured: a wave of eight prompts).
        prefilling = {
            q.key: q for q in active if q.consumed < len(q.prompt) and q.state.wait_for is None
        }
        limits = PrefillLimits(
            tokens=self.settings.batch_tokens,
            seconds=self.settings.prefill_seconds,
            tokens_per_s=self._prefill_rate if self.settings.decode_group is None else 0.0,
        )
        needs = [
            PrefillNeed(q.key, q.rank, q.consumed, len(q.prompt), q.state.keep_at)
            for q in prefilling.values()
        ]
        for key, end in plan_prefill(needs, limits, decoding=len(decoding)):
            seq = prefilling[key]
            start = seq.consumed
            for n, pos in enumerate(range(start, end)):
                self._add(n, seq.prompt[pos], pos, seq.state.seq_id, pos == len(seq.prompt) - 1)
            began = time.perf_counter()
            self._decode(end - start)
            self._note_prefill(end - start, time.perf_counter() - began)
            seq.consumed = end
            if end == seq.state.keep_at:
                self._keep_prefix(seq)
            if end == len(seq.prompt):
                self._sample(seq, end - 1 - start)

    def _take_waited_prefix(self, seq: Sequence) -> None:
        assert self.prefixes is not None and seq.state.wait_for is not None
        got = self.prefixes.take(seq.state.wait_for, self._steps)
        if isinstance(got, Holder):
            seq.state.wait_for = None
            self._copy_prefix(seq, got)
        elif not got:  # it will not come: what is held or pending now, as if just admitted
            again = self.prefixes.lookup(
                seq.prompt, self._steps, owner=seq.key, rank=seq.rank, again=True
            )
            self._place(seq, again)

    def _keep_prefix(self, seq: Sequence) -> None:
        assert self.prefixes is not None
        seq.state.keep_at = None
        holder = self.prefixes.store(seq.prompt[: seq.consumed], self._steps)
        if holder is not None:
            # The whole stream: it holds exactly the prefix now (its chunk stopped there).
            llama_cpp.llama_memory_seq_cp(self._memory, seq.state.seq_id, holder.slot, -1, -1)

    def _note_prefill(self, tokens: int, seconds: float) -> None:
        if tokens < 16 or seconds <= 0:
            return  # too short to say anything about the rate
        rate = tokens / seconds
        old = self._prefill_rate
        self._prefill_rate = rate if not old else 0.8 * old + 0.2 * rate

    def check_invariance(self, group: int) -> None:
        """Spot-check, on this CPU, build and model, that a decode call of ``group`` rows gives
        each row exactly the logits it gets alone; raises EngineStartError when it does not.

        A few prompts, each decoded alone one token past its end, then all together in one
        call, as :meth:`step` decodes them: a check of this machine, not a proof for every
        batch."""
        rows = min(group, self.max_sequences)
        if rows < 2:
            return
        prompts = [
            self._tokenize(f"{i}. At 06{i:02d} the patrol reported", first=True, special=False)
            for i in range(rows)
        ]
        alone = []
        try:
            nexts = self._prefill_all(prompts)
            for seq_id, (prompt, token) in enumerate(zip(prompts, nexts, strict=True)):
                self._add(0, token, len(prompt), seq_id, True)
                self._decode(1)
                alone.append(self._logits(0).copy())
            llama_cpp.llama_memory_clear(self._memory, True)
            self._prefill_all(prompts)
            for seq_id, (prompt, token) in enumerate(zip(prompts, nexts, strict=True)):
                self._add(seq_id, token, len(prompt), seq_id, True)
            self._decode(rows)
            differ = [i for i in range(rows) if not np.array_equal(self._logits(i), alone[i])]
        finally:
            llama_cpp.llama_memory_clear(self._memory, True)
        if differ:
            raise EngineStartError(
                f"batch invariance spot-check failed: decoding {rows} sequences in one call "
                f"gave rows {differ} logits different from decoding each alone, with this "
                "CPU, llama.cpp build and model",
                "set inference.batch_invariant = false (outputs may then depend on what "
                "runs alongside), or report the machine so the decode group is lowered",
            )
        log.info("batch invariance spot-check passed: %d rows per decode call", rows)

    def _prefill_all(self, prompts: list[list[int]]) -> list[int]:
        """Each prompt into its own sequence (one call each); the greedy next token of each."""
        nexts = []
        for seq_id, prompt in enumerate(prompts):
            for n, token in enumerate(prompt):
                self._add(n, token, n, seq_id, n == len(prompt) - 1)
            self._decode(len(prompt))
            nexts.append(self._argmax(len(prompt) - 1))
        return nexts

    def _decode(self, n: int) -> None:
        self._batch.n_tokens = n
        rc = llama_cpp.llama_decode(self._ctx, self._batch)
        if rc != 0:
            raise RuntimeError(f"llama_decode returned {rc} for a batch of {n} tokens")

    def release(self, seq: Sequence) -> None:
        state: _State | None = seq.state
        if state is None:
            return
        if self.prefixes is not None:
            self.prefixes.abandon(seq.key)
        if state.seq_id >= 0:
            llama_cpp.llama_memory_seq_rm(self._memory, state.seq_id, -1, -1)
            heapq.heappush(self._free_ids, state.seq_id)
            state.seq_id = -1
        if state.chain is not None:
            llama_cpp.llama_sampler_free(state.chain)
            state.chain = state.grammar = None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        llama_cpp.llama_batch_free(self._batch)
        llama_cpp.llama_free(self._ctx)
        free_lora(self._lora)
        llama_cpp.llama_model_free(self._model)

    # ------------------------------------------------------------------ helpers

    def _add(self, i: int, token: int, pos: int, seq_id: int, logits: bool) -> None:
        b = self._batch
        b.token[i] = token
        b.pos[i] = pos
        b.n_seq_id[i] = 1
        b.seq_id[i][0] = seq_id
        b.logits[i] = logits

    def _sample(self, seq: Sequence, index: int) -> None:
        state: _State = seq.state
        token = self._argmax(index)
        if state.chain is not None:
            token = self._constrained(state, index, token)
        if seq.first_token_at is None:
            seq.first_token_at = time.monotonic()
        if llama_cpp.llama_vocab_is_eog(self._vocab, token) and not seq.request.ignore_eos:
            seq.finish = "eos"
            seq.text += state.decoder.decode(b"", final=True)
            return
        seq.generated.append(token)
        before = len(seq.text)
        seq.text += state.decoder.decode(self._detokenize(token))
        stops = seq.request.stop
        if stops:
            window = max(len(s) for s in stops)
            tail_from = max(0, before - window + 1)
            cut = min(
                (i for i in (seq.text.find(s, tail_from) for s in stops) if i >= 0),
                default=-1,
            )
            if cut >= 0:
                seq.text = seq.text[:cut]
                seq.finish = "stop"
                return
        if len(seq.generated) >= seq.max_tokens:
            seq.text += state.decoder.decode(b"", final=True)
            seq.finish = "length"

    def _argmax(self, index: int) -> int:
        """Greedy choice read in place from llama.cpp's logits row (a view, not a copy):
        its own greedy sampler first builds a candidate array over the whole vocabulary,
        which costs as much as the decode itself for small models with large vocabularies."""
        return int(self._logits(index).argmax())

    def _logits(self, index: int) -> Any:
        row = llama_cpp.llama_get_logits_ith(self._ctx, index)
        return np.ctypeslib.as_array(row, shape=(self._n_vocab,))

    def _constrained(self, state: _State, index: int, greedy: int) -> int:
        """The most likely token the grammar allows: the greedy one if allowed, else the best
        allowed among the next most likely; only if none is, the grammar filters the whole
        vocabulary (natively) — the costly path, now rare."""
        if not self._grammar_allows(state.grammar, greedy):
            row = self._logits(index)
            top = np.argpartition(row, -PROBE_CANDIDATES)[-PROBE_CANDIDATES:]
            for candidate in sorted(top.tolist(), key=lambda t: (-row[t], t)):
                if self._grammar_allows(state.grammar, candidate):
                    greedy = candidate
                    break
            else:
                return int(llama_cpp.llama_sampler_sample(state.chain, self._ctx, index))
        llama_cpp.llama_sampler_accept(state.chain, greedy)
        return greedy

    def _grammar_allows(self, grammar: Any, token: int) -> bool:
        self._probe[0].id = token  # type: ignore[assignment]
        self._probe[0].logit = 0.0
        self._probe[0].p = 0.0
        self._probe_array.size = 1
        self._probe_array.selected = -1
        llama_cpp.llama_sampler_apply(grammar, ctypes.byref(self._probe_array))
        return not math.isinf(self._probe[0].logit)

    def _detokenize(self, token: int) -> bytes:
        n = llama_cpp.llama_token_to_piece(self._vocab, token, self._piece, 256, 0, False)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(self._vocab, token, buf, -n, 0, False)
            return buf.raw[:n]
        return self._piece.raw[:n]

    def _tokenize(self, text: str, *, first: bool, special: bool) -> list[int]:
        """``first``: the model's BOS token first (if it uses one); ``special``: special-token
        text parsed (a template's own text only: message contents never become one)."""
        data = text.encode("utf-8")
        cap = len(data) + 8
        buf = (llama_cpp.llama_token * cap)()
        n = llama_cpp.llama_tokenize(self._vocab, data, len(data), buf, cap, first, special)
        if n < 0:
            cap = -n
            buf = (llama_cpp.llama_token * cap)()
            n = llama_cpp.llama_tokenize(self._vocab, data, len(data), buf, cap, first, special)
        return list(buf[:n])

    def _metadata(self, key: str) -> str | None:
        buf = ctypes.create_string_buffer(65536)
        n = llama_cpp.llama_model_meta_val_str(self._model, key.encode(), buf, len(buf))
        if n >= len(buf):  # the value's full length: read it again, whole
            buf = ctypes.create_string_buffer(n + 1)
            n = llama_cpp.llama_model_meta_val_str(self._model, key.encode(), buf, len(buf))
        return buf.value.decode("utf-8", "replace") if n > 0 else None
