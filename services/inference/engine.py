"""The engine contract every backend keeps (llama.cpp on CPU, ExLlamaV2 on GPU).

An engine generates text for many requests at once. The event loop submits requests and awaits
results; one thread owned by the engine runs every forward pass. The engine knows no task: a
request is a prompt (or chat messages), limits, stop strings and an optional JSON schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

FinishReason = Literal["stop", "length", "eos", "cancelled"]


@dataclass(frozen=True)
class Message:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class GenerationRequest:
    """One generation. Exactly one of ``prompt`` and ``messages``; decoding is greedy."""

    request_id: str
    max_tokens: int
    prompt: str | None = None
    messages: tuple[Message, ...] | None = None
    stop: tuple[str, ...] = ()
    #: Output must follow this JSON Schema (see ``services.grammar`` for the subset).
    json_schema: Mapping[str, Any] | None = None
    precedence: str = "ROUTINE"
    #: ``time.monotonic()`` after which a request not yet started is answered ``Expired``.
    deadline: float | None = None
    #: Generate exactly ``max_tokens`` (benchmarks that compare fixed-length runs).
    ignore_eos: bool = False

    def __post_init__(self) -> None:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("a request has exactly one of prompt and messages")
        if self.max_tokens < 1:
            raise ValueError("max_tokens must be ≥ 1")


@dataclass(frozen=True)
class GenerationResult:
    request_id: str
    text: str
    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int
    #: Seconds: submitted → admitted, submitted → first token, submitted → done.
    queue_s: float
    ttft_s: float
    total_s: float
    #: Decode steps this request took part in, sat out paused, and ran before it was admitted.
    steps: int = 0
    paused_steps: int = 0
    waited_steps: int = 0
    #: Of ``prompt_tokens``, those whose KV was reused from an earlier prompt, not computed.
    cached_prompt_tokens: int = 0
    #: Whether decoding enforced the request's JSON schema, every keyword of it (None: no
    #: schema). False: the engine generated freely and the caller validates after the fact.
    schema_enforced: bool | None = None


@dataclass
class EngineError(Exception):
    """A request the engine could not serve. ``recoverable``: retrying elsewhere may work."""

    request_id: str
    problem: str
    recoverable: bool = False

    def __str__(self) -> str:
        return f"request {self.request_id}: {self.problem}"


@dataclass
class PromptTooLong(EngineError):
    prompt_tokens: int = 0
    max_tokens: int = 0
    limit: int = 0


@dataclass
class Expired(EngineError):
    """The request's deadline passed before it started."""


@dataclass
class EngineClosed(EngineError):
    recoverable: bool = True


@dataclass(frozen=True)
class Capacity:
    max_sequences: int
    running: int
    paused: int
    waiting: int
    kv_tokens: int
    kv_tokens_reserved: int

    @property
    def free_sequences(self) -> int:
        return max(0, self.max_sequences - self.running - self.waiting)


@dataclass(frozen=True)
class Health:
    ok: bool
    engine: str
    model: str
    detail: str = ""
    steps: int = 0
    last_step_s: float = 0.0


@dataclass
class EngineStats:
    """Counters the engine thread updates (read by metrics, benchmarks and tests)."""

    steps: int = 0
    tokens_generated: int = 0
    tokens_prompt: int = 0
    #: Prompt tokens reused from a kept prefix instead of computed (of ``tokens_prompt``).
    tokens_prompt_cached: int = 0
    #: Sequences admitted, and those of them that started from a kept prefix.
    admitted: int = 0
    prefix_hits: int = 0
    max_sequences_in_step: int = 0
    paused_sequence_steps: int = 0
    finished: int = 0
    expired: int = 0
    cancelled: int = 0
    #: Sequences decoded in each step (bounded: the latest ``history`` steps).
    step_sizes: list[int] = field(default_factory=list)
    history: int = 4096

    @property
    def prefix_hit_rate(self) -> float:
        return self.prefix_hits / self.admitted if self.admitted else 0.0

    def record_step(self, size: int, paused: int) -> None:
        self.steps += 1
        self.max_sequences_in_step = max(self.max_sequences_in_step, size)
        self.paused_sequence_steps += paused
        self.step_sizes.append(size)
        if len(self.step_sizes) > self.history:
            del self.step_sizes[: len(self.step_sizes) - self.history]


class Engine(Protocol):
    """What the inference service (and the benchmarks) use; every backend implements it."""

    name: str
    model: str
    stats: EngineStats

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        """Generate; raises ``EngineError`` (``PromptTooLong``, ``Expired``, ``EngineClosed``).
        Cancelling the awaiting task cancels the request in the engine."""
        ...

    def cancel(self, request_id: str) -> bool:
        """Stop a request early; its ``generate`` returns what it has, ``cancelled``."""
        ...

    def capacity(self) -> Capacity: ...

    def health(self) -> Health: ...

    async def aclose(self) -> None: ...
