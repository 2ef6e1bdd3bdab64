"""The engine thread: one thread owns the model and runs every step; the event loop only waits.

A backend supplies a :class:`Core` — prepare a request, start a sequence, run one decode step
over chosen sequences, release one — and :class:`ThreadedEngine` does the rest: a bounded inbox
from the event loop, deadlines, cancellation, the precedence scheduler
(``services.inference.scheduler``) and handing results back to the awaiting tasks.

What preparing a request means is the same for every backend and done here, once
(:func:`prepare_request`): the prompt or the chat messages through the model's template into
tokens, the JSON schema compiled to its grammar and its bound made the token budget, and prompt
plus budget checked against the context. A backend's ``prepare`` calls it with its tokenizer and
adds only its own state (a grammar sampler, a schema filter).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio.to_thread
from opentelemetry import trace

from services.grammar import CompiledSchema, SchemaError, compile_schema
from services.inference.chat import render_chat
from services.inference.engine import (
    Capacity,
    EngineClosed,
    EngineError,
    EngineStats,
    Expired,
    FinishReason,
    GenerationRequest,
    GenerationResult,
    Health,
    PromptTooLong,
)
from services.inference.scheduler import Candidate, SchedulerSettings, plan_step, rank_of
from services.telemetry.service import BatchSpans

log = logging.getLogger("vigie.engine")


@dataclass(eq=False)
class Sequence:
    """A request inside the engine, from submission to result (engine thread only)."""

    key: int
    request: GenerationRequest
    submitted: float
    rank: int
    #: Filled by ``Core.prepare``: prompt tokens, KV cells to reserve, backend state.
    prompt: list[int] = field(default_factory=list)
    kv_tokens: int = 0
    max_tokens: int = 0
    state: Any = None
    #: Whether the core enforces the request's JSON schema while decoding (None: no schema);
    #: set by ``Core.prepare``. False: the output is validated after the fact only.
    schema_enforced: bool | None = None
    #: Progress, kept by the core.
    consumed: int = 0
    #: Of ``consumed``, prompt tokens whose KV was reused rather than computed (set when
    #: admitted, or later when it waited for a prefix another sequence was computing).
    cached_tokens: int = 0
    cache_counted: bool = False
    generated: list[int] = field(default_factory=list)
    text: str = ""
    finish: FinishReason | None = None
    admitted_at: float | None = None
    first_token_at: float | None = None
    steps: int = 0
    paused_steps: int = 0
    #: Engine step counter when the request arrived and when it was admitted.
    arrived_step: int = 0
    admitted_step: int = 0
    future: asyncio.Future[GenerationResult] | None = None
    loop: asyncio.AbstractEventLoop | None = None
    #: The request's span where it was submitted: the engine's batch spans link to it.
    span_context: trace.SpanContext | None = None

    def candidate(self) -> Candidate:
        return Candidate(self.key, self.rank, self.key, self.kv_tokens)


class Core(Protocol):
    """The backend's part; every method runs on the engine thread."""

    engine_name: str
    model_name: str
    max_sequences: int
    kv_tokens: int

    def prepare(self, seq: Sequence) -> None:
        """Fill ``prompt``, ``kv_tokens``, ``max_tokens`` (:func:`prepare_request` and
        :meth:`PreparedRequest.fill`) and ``state``; raise EngineError."""

    def start(self, seq: Sequence) -> None:
        """Give an admitted sequence its place in the model (a sequence id, KV cells)."""

    def step(self, active: list[Sequence]) -> None:
        """One forward pass over ``active``: advance prompts, sample one token for each
        sequence whose prompt is done; set ``finish`` on those that are done."""

    def release(self, seq: Sequence) -> None:
        """Free what ``start`` and ``prepare`` took (KV cells, grammar)."""

    def close(self) -> None: ...


class Encode(Protocol):
    """A backend's tokenizer. ``first``: the text opens the sequence (the model's
    beginning-of-sequence token goes before it, if the model uses one); ``special``: special
    tokens spelled in the text become special tokens (a chat template's own text only)."""

    def __call__(self, text: str, *, first: bool, special: bool) -> list[int]: ...


@dataclass(frozen=True)
class PreparedRequest:
    """A request as every backend runs it: tokenised, its budget set, known to fit."""

    prompt: list[int]
    #: Tokens it may generate: the schema's bound when it has one, else what it asked for.
    max_tokens: int
    #: Its JSON schema compiled (None without one): the grammar that enforces it.
    grammar: CompiledSchema | None = None

    @property
    def kv_tokens(self) -> int:
        return len(self.prompt) + self.max_tokens

    def fill(self, seq: Sequence) -> None:
        """Give ``seq`` its prompt tokens, its budget and the KV cells to reserve."""
        seq.prompt, seq.max_tokens, seq.kv_tokens = self.prompt, self.max_tokens, self.kv_tokens


def prepare_request(
    request: GenerationRequest,
    encode: Encode,
    *,
    chat_template: str | None,
    max_context: int,
    model_name: str,
) -> PreparedRequest:
    """What every backend does with a request before it can run: chat messages rendered with
    ``chat_template`` (special tokens parsed in the template's text, never in a message) or the
    prompt, tokenised; the JSON schema compiled, its bound the budget; prompt plus budget
    checked against ``max_context``. Raises EngineError (PromptTooLong when it cannot fit)."""
    rid = request.request_id
    tokens: list[int] = []
    if request.messages is not None:
        if not chat_template:
            problem = f"model {model_name} has no chat template; send a prompt instead"
            raise EngineError(rid, problem)
        for text, is_template in render_chat(chat_template, request.messages):
            if text:
                tokens += encode(text, first=not tokens, special=is_template)
    else:
        assert request.prompt is not None
        if not request.prompt.strip():
            raise EngineError(rid, "the prompt is empty")
        tokens = encode(request.prompt, first=True, special=False)
    if not tokens:
        raise EngineError(rid, "the prompt is empty")
    max_tokens, grammar = request.max_tokens, None
    if request.json_schema is not None:
        try:
            grammar = compile_schema(request.json_schema)
        except SchemaError as exc:
            raise EngineError(rid, f"json_schema refused: {exc}") from None
        # The schema bounds the output, so its budget is what lets it always complete,
        # whatever the request asked.
        max_tokens = grammar.token_budget
    check_length(rid, len(tokens), max_tokens, max_context)
    return PreparedRequest(tokens, max_tokens, grammar)


def check_length(request_id: str, prompt_tokens: int, max_tokens: int, limit: int) -> None:
    """Prompt plus budget against the longest sequence the engine holds (``limit``)."""
    if prompt_tokens + max_tokens > limit:
        raise PromptTooLong(
            request_id,
            f"prompt of {prompt_tokens} tokens + {max_tokens} to generate exceeds the "
            f"{limit}-token context of the engine",
            prompt_tokens=prompt_tokens,
            max_tokens=max_tokens,
            limit=limit,
        )


@dataclass(frozen=True)
class RunnerSettings:
    scheduler: SchedulerSettings
    #: Requests waiting for admission; beyond it ``generate`` refuses (recoverable).
    max_waiting: int = 256


def _discard(fut: asyncio.Future[GenerationResult]) -> None:
    if not fut.cancelled():
        fut.exception()


class ThreadedEngine:
    """:class:`services.inference.engine.Engine` over a :class:`Core`, on its own thread."""

    def __init__(self, core: Core, settings: RunnerSettings) -> None:
        self._core = core
        self.name = core.engine_name
        self.model = core.model_name
        self.settings = settings
        self.stats = EngineStats()
        self._cond = threading.Condition()
        self._inbox: deque[tuple[str, Any]] = deque()
        self._keys = itertools.count()
        self._waiting: list[Sequence] = []
        self._running: list[Sequence] = []
        self._by_id: dict[str, Sequence] = {}
        #: Submissions taken from the inbox and not yet filed (so a failure still answers them).
        self._in_transit: list[Sequence] = []
        self._paused = 0
        self._closed = False
        self._error: str | None = None
        self._last_step_s = 0.0
        self._batches = BatchSpans(self.name, self.model, settings.scheduler.total_sequences)
        self._thread = threading.Thread(target=self._run, name=f"engine-{self.name}", daemon=True)
        self._thread.start()

    # ----------------------------------------------------------------- event-loop side

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        loop = asyncio.get_running_loop()
        seq = Sequence(
            key=next(self._keys),
            request=request,
            submitted=time.monotonic(),
            rank=rank_of(request.precedence),
            future=loop.create_future(),
            loop=loop,
            span_context=trace.get_current_span().get_span_context(),
        )
        with self._cond:
            if self._closed:
                raise EngineClosed(request.request_id, "the engine is closed")
            if self._error:
                raise EngineClosed(request.request_id, f"the engine failed: {self._error}")
            if len(self._inbox) + len(self._waiting) >= self.settings.max_waiting:
                raise EngineError(
                    request.request_id,
                    f"{self.settings.max_waiting} requests already wait for the engine",
                    recoverable=True,
                )
            self._inbox.append(("submit", seq))
            self._cond.notify()
        assert seq.future is not None
        try:
            return await asyncio.shield(seq.future)
        except asyncio.CancelledError:
            # Nobody will read the answer now: mark it read, or asyncio logs it as lost.
            seq.future.add_done_callback(_discard)
            # By key, not id: a later request may reuse the id (a redelivery).
            with self._cond:
                if not self._closed:
                    self._inbox.append(("cancel", seq.key))
                    self._cond.notify()
            raise

    def cancel(self, request_id: str) -> bool:
        with self._cond:
            if self._closed:
                return False
            self._inbox.append(("cancel", request_id))
            self._cond.notify()
        return True

    def _lookup(self, ref: str | int) -> Sequence | None:
        if isinstance(ref, str):
            return self._by_id.get(ref)
        return next((q for q in self._by_id.values() if q.key == ref), None)

    def capacity(self) -> Capacity:
        s = self.settings.scheduler
        with self._cond:
            return Capacity(
                max_sequences=s.total_sequences,
                running=len(self._running),
                paused=self._paused,
                waiting=len(self._waiting) + sum(1 for k, _ in self._inbox if k == "submit"),
                kv_tokens=s.kv_tokens,
                kv_tokens_reserved=sum(q.kv_tokens for q in self._running),
            )

    def health(self) -> Health:
        ok = self._thread.is_alive() and self._error is None and not self._closed
        return Health(
            ok=ok,
            engine=self.name,
            model=self.model,
            detail=self._error or ("closed" if self._closed else ""),
            steps=self.stats.steps,
            last_step_s=self._last_step_s,
        )

    async def aclose(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        await anyio.to_thread.run_sync(self._thread.join)

    # ----------------------------------------------------------------- engine thread

    def _run(self) -> None:
        try:
            while self._cycle():
                pass
        except Exception as exc:  # a backend failure: fail every request, report unhealthy
            log.exception("engine thread failed")
            self._error = f"{type(exc).__name__}: {exc}"
        finally:
            self._shutdown()

    def _cycle(self) -> bool:
        with self._cond:
            while not self._inbox and not self._running and not self._waiting:
                if self._closed:
                    return False
                self._batches.close()  # idle: the last batch's span ends now, not at the next
                self._cond.wait()
            if self._closed:
                return False
            commands = list(self._inbox)
            self._inbox.clear()
        self._in_transit = [arg for kind, arg in commands if kind == "submit"]
        for kind, arg in commands:
            if kind == "submit":
                self._admit_request(arg)
                self._in_transit.remove(arg)
            else:
                self._cancel(arg)
        self._expire_waiting()
        plan = plan_step(
            [q.candidate() for q in self._running],
            [q.candidate() for q in self._waiting],
            self.settings.scheduler,
        )
        admitted = set(plan.admit)
        for seq in [q for q in self._waiting if q.key in admitted]:
            self._waiting.remove(seq)
            seq.admitted_at = time.monotonic()
            seq.admitted_step = self.stats.steps
            self._core.start(seq)
            self._running.append(seq)
            self.stats.admitted += 1
            self._count_reuse(seq)
        active_keys = set(plan.active)
        active = [q for q in self._running if q.key in active_keys]
        paused = len(self._running) - len(active)
        with self._cond:
            self._paused = paused
        if not active:
            self._batches.close()
            # Only waiting requests that cannot be admitted yet (none should exist: prepare
            # refuses what can never fit); do not spin.
            with self._cond:
                self._cond.wait(timeout=0.05)
            return True
        self._batches.step(frozenset(active_keys), lambda: [q.span_context for q in active], paused)
        generated = sum(len(q.generated) for q in active)
        started = time.monotonic()
        self._core.step(active)
        now = time.monotonic()
        for seq in active:
            self._count_reuse(seq)
        self._batches.stepped(sum(len(q.generated) for q in active) - generated)
        self._last_step_s = now - started
        self.stats.record_step(len(active), paused)
        for seq in self._running:
            if seq.key in active_keys:
                seq.steps += 1
            else:
                seq.paused_steps += 1
        for seq in [q for q in active if q.finish is not None]:
            self._finish(seq, now)
        return True

    def _count_reuse(self, seq: Sequence) -> None:
        if seq.cached_tokens and not seq.cache_counted:
            seq.cache_counted = True
            self.stats.prefix_hits += 1
            self.stats.tokens_prompt_cached += seq.cached_tokens

    def _admit_request(self, seq: Sequence) -> None:
        rid = seq.request.request_id
        if rid in self._by_id:
            # A redelivery while the first delivery still runs: let it come back later.
            problem = "a request with this id is already in the engine"
            self._deliver(seq, EngineError(rid, problem, recoverable=True))
            return
        try:
            self._core.prepare(seq)
        except EngineError as exc:
            self._deliver(seq, exc)
            return
        except Exception as exc:
            self._deliver(seq, EngineError(rid, f"{type(exc).__name__}: {exc}"))
            return
        self.stats.tokens_prompt += len(seq.prompt)
        seq.arrived_step = self.stats.steps
        self._by_id[rid] = seq
        self._waiting.append(seq)

    def _cancel(self, ref: str | int) -> None:
        seq = self._lookup(ref)
        if seq is None:
            return
        request_id = seq.request.request_id
        seq.finish = "cancelled"
        self.stats.cancelled += 1
        if seq in self._waiting:
            self._waiting.remove(seq)
            self._deliver(seq, self._result(seq, time.monotonic()))
            del self._by_id[request_id]
            self._core.release(seq)
        else:
            self._finish(seq, time.monotonic())

    def _expire_waiting(self) -> None:
        now = time.monotonic()
        for seq in [q for q in self._waiting if q.request.deadline is not None]:
            assert seq.request.deadline is not None
            if now >= seq.request.deadline:
                self._waiting.remove(seq)
                del self._by_id[seq.request.request_id]
                self._core.release(seq)
                self.stats.expired += 1
                rid = seq.request.request_id
                self._deliver(seq, Expired(rid, "its deadline passed before it started"))

    def _finish(self, seq: Sequence, now: float) -> None:
        self._running.remove(seq)
        del self._by_id[seq.request.request_id]
        self._core.release(seq)
        self.stats.finished += 1
        self.stats.tokens_generated += len(seq.generated)
        self._deliver(seq, self._result(seq, now))

    @staticmethod
    def _result(seq: Sequence, now: float) -> GenerationResult:
        admitted = seq.admitted_at if seq.admitted_at is not None else now
        first = seq.first_token_at if seq.first_token_at is not None else now
        return GenerationResult(
            request_id=seq.request.request_id,
            text=seq.text,
            finish_reason=seq.finish or "cancelled",
            prompt_tokens=len(seq.prompt),
            cached_prompt_tokens=seq.cached_tokens,
            completion_tokens=len(seq.generated),
            queue_s=admitted - seq.submitted,
            ttft_s=first - seq.submitted,
            total_s=now - seq.submitted,
            steps=seq.steps,
            paused_steps=seq.paused_steps,
            waited_steps=max(0, seq.admitted_step - seq.arrived_step),
            schema_enforced=seq.schema_enforced,
        )

    @staticmethod
    def _deliver(seq: Sequence, result: GenerationResult | BaseException) -> None:
        fut, loop = seq.future, seq.loop
        if fut is None or loop is None:
            return

        def settle() -> None:
            if fut.done():
                return
            if isinstance(result, BaseException):
                fut.set_exception(result)
            else:
                fut.set_result(result)

        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(settle)

    def _shutdown(self) -> None:
        self._batches.close()
        with self._cond:
            self._closed = True
            pending = [q for _, q in self._inbox if isinstance(q, Sequence)]
            self._inbox.clear()
        reason = self._error or "the engine closed"
        # Everything the engine knows of, whatever list a failure left it in, gets an answer —
        # after its resources are back, so whoever reads the answer finds the engine settled.
        admitted = {q.key: q for q in [*self._by_id.values(), *self._running, *self._waiting]}
        for seq in admitted.values():
            try:
                self._core.release(seq)
            except Exception:
                log.debug("release during shutdown failed", exc_info=True)
        self._running.clear()
        self._waiting.clear()
        self._by_id.clear()
        try:
            self._core.close()
        except Exception:
            log.exception("closing the engine failed")
        for seq in [*admitted.values(), *self._in_transit, *pending]:
            self._deliver(seq, EngineClosed(seq.request.request_id, reason))
