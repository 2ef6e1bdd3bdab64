"""Paged mode of the GPU engine (flash-attn ≥ 2.5.7): exllamav2's dynamic generator.

Continuous batching is the generator's: a started sequence is enqueued as a job, every step is
one ``iterate()``, a finished job frees its pages at once. The cache is one pool of pages of
256 tokens shared by all jobs; pages holding the same token prefix are shared across jobs, so
prompts should put what they share first (instructions, glossary), the report last.

Pause: the generator of 0.3.2 has no pause, so while the scheduler pauses sequences their jobs
are taken out of the generator's lists for that ``iterate()`` and put back after: their pages
stay referenced (nothing else can take them) and they resume where they stopped. The generator
defragments its cache when its queue looks empty, which it would while jobs are set aside:
that is deferred until they are back.

JSON schemas are enforced per job with lm-format-enforcer when it is installed; without it a
schema is not enforced, the output stops at the end of the first complete JSON value, and the
caller validates it (as in static mode).

Not verified on hardware: flash-attn ≥ 2.5.7 was not available on the GPU machines we test on.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from services.grammar import uses_extensions
from services.inference.exllama_base import (
    ExllamaBase,
    ExllamaSettings,
    GpuMode,
    SeqState,
    json_end,
)
from services.inference.runner import Sequence as EngineSequence

log = logging.getLogger("vigie.engine.exllama")

PAGE = 256
_CACHES = {"fp16": "ExLlamaV2Cache", "q8": "ExLlamaV2Cache_Q8", "q6": "ExLlamaV2Cache_Q6"}
_CACHES["q4"] = "ExLlamaV2Cache_Q4"
_FINISH = {"stop_token": "eos", "stop_string": "stop", "max_new_tokens": "length"}
_FINISH["end_filter"] = "eos"
_NEVER = 1 << 62


def round_up(n: int, to: int = PAGE) -> int:
    return -(-n // to) * to


class PagedCore(ExllamaBase):
    """:class:`services.inference.runner.Core` over ExLlamaV2DynamicGenerator."""

    mode: GpuMode = "paged"
    #: Every answer and health report names the mode that produced it.
    engine_name = "exllamav2-paged"

    def __init__(self, settings: ExllamaSettings, torch: Any, exl: Any) -> None:
        super().__init__(settings, torch, exl)
        from exllamav2.generator import ExLlamaV2DynamicGenerator, ExLlamaV2Sampler

        cfg = self.config
        chunk = round_up(settings.batch_tokens)
        cfg.max_seq_len = round_up(self.max_context)
        cfg.max_input_len = chunk
        cfg.max_batch_size = settings.max_sequences
        cfg.max_attention_size = chunk * cfg.max_seq_len
        self.model = exl.ExLlamaV2(cfg)
        cache_cls = getattr(exl, _CACHES[settings.cache])
        pool = round_up(settings.sequence_tokens * settings.max_sequences)
        self.cache = cache_cls(self.model, max_seq_len=pool, lazy=True)
        self.model.load_autosplit(self.cache, progress=False)
        self.generator = ExLlamaV2DynamicGenerator(
            model=self.model,
            cache=self.cache,
            tokenizer=self.tokenizer,
            max_batch_size=settings.max_sequences,
            max_seq_len=cfg.max_seq_len,
            max_chunk_size=chunk,
            paged=True,
        )
        self._greedy = ExLlamaV2Sampler.Settings.greedy()
        self._job_cls = exl.generator.ExLlamaV2DynamicJob
        self._by_job: dict[int, EngineSequence] = {}
        self._filters = _json_filter_factory(self.tokenizer)

    # ---------------------------------------------------------------- Core

    def prepare(self, seq: EngineSequence) -> None:
        super().prepare(seq)
        state: SeqState = seq.state
        if state.schema is not None and self._filters is not None:
            state.json_unconstrained = False
            # lm-format-enforcer enforces the standard keywords only: a schema with one of
            # ours (a span of the source) is enforced in shape, its strings checked after.
            seq.schema_enforced = not uses_extensions(state.schema)

    def start(self, seq: EngineSequence) -> None:
        state: SeqState = seq.state
        req = seq.request
        stops: list[int | str] = list(req.stop)
        if not req.ignore_eos:
            stops += sorted(self.eos_ids)
        filters = []
        if state.schema is not None and not state.json_unconstrained and self._filters:
            filters = [self._filters(state.schema)]
        job = self._job_cls(
            input_ids=self.torch.tensor([seq.prompt], dtype=self.torch.long),
            max_new_tokens=seq.max_tokens,
            gen_settings=self._greedy,
            stop_conditions=stops,
            filters=filters,
            identifier=seq.key,
        )
        state.job = job
        self._by_job[seq.key] = seq
        self.generator.enqueue(job)

    def step(self, active: list[EngineSequence]) -> None:
        gen = self.generator
        run = {id(q.state.job) for q in active}
        aside_active = [j for j in gen.active_jobs if id(j) not in run]
        aside_pending = [j for j in gen.pending_jobs if id(j) not in run]
        saved_defrag = gen.last_defrag_serial
        if aside_active or aside_pending:
            gen.active_jobs = [j for j in gen.active_jobs if id(j) in run]
            gen.pending_jobs = [j for j in gen.pending_jobs if id(j) in run]
            gen.last_defrag_serial = _NEVER  # defrag asserts no page is referenced
        try:
            results = gen.iterate()
        finally:
            if aside_active or aside_pending:
                gen.active_jobs = [*gen.active_jobs, *aside_active]
                gen.pending_jobs = [*aside_pending, *gen.pending_jobs]
                gen.last_defrag_serial = saved_defrag
        now = time.monotonic()
        for r in results:
            if r.get("stage") != "streaming":
                continue
            seq = self._by_job.get(r.get("identifier", -1))
            if seq is None:
                continue
            ids = r.get("token_ids")
            new = [int(t) for t in ids.flatten().tolist()] if ids is not None else []
            if new and seq.first_token_at is None:
                seq.first_token_at = now
            seq.generated += new
            seq.text += r.get("text", "")
            state: SeqState = seq.state
            if r.get("eos"):
                seq.finish = _FINISH.get(r.get("eos_reason", ""), "eos")  # type: ignore[assignment]
                ended_by_eos = r.get("eos_reason") == "stop_token" and seq.generated
                if ended_by_eos and seq.generated[-1] in self.eos_ids:
                    seq.generated.pop()  # the EOS token is not output
            elif state.json_unconstrained and (end := json_end(seq.text)) is not None:
                seq.text = seq.text[:end]
                seq.finish = "eos"

    def release(self, seq: EngineSequence) -> None:
        state: SeqState | None = seq.state
        if state is None:
            return
        self._by_job.pop(seq.key, None)
        job, state.job = state.job, None
        gen = self.generator
        if job is not None and (job in gen.active_jobs or job in gen.pending_jobs):
            gen.cancel(job)  # frees its pages; a finished job already gave them back

    def close(self) -> None:
        self.generator.clear_queue()
        self.model.unload()


def _json_filter_factory(tokenizer: Any) -> Any:
    """A function schema → exllamav2 filter, or None without lm-format-enforcer."""
    try:
        from lmformatenforcer import JsonSchemaParser
        from lmformatenforcer.integrations.exllamav2 import (
            ExLlamaV2TokenEnforcerFilter,
            build_token_enforcer_tokenizer_data,
        )
    except ImportError:
        log.info("lm-format-enforcer is not installed: JSON schemas are validated, not enforced")
        return None
    data = build_token_enforcer_tokenizer_data(tokenizer)

    def make(schema: Any) -> Any:
        return ExLlamaV2TokenEnforcerFilter(JsonSchemaParser(schema), data)

    return make
