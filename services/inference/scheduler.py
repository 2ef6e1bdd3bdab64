"""Which sequences enter the next decode step: admission and precedence, as a pure function.

The engine thread calls :func:`plan_step` before every step with plain values and applies the
plan. Two rules give urgent work the engine's attention:

* **Reserve, on top.** Routine-class work (below the preempting precedences) may hold all
  ``max_sequences`` sequences and ``kv_tokens - reserved_kv_tokens`` KV cells; the
  ``reserved_sequences`` come on top of them (the engine holds ``total_sequences``), so a FLASH
  or IMMEDIATE request always finds room and is admitted at the next step instead of waiting
  for a routine sequence to finish — and routine work sees the full batch when nothing urgent
  runs.
* **Pause.** While a sequence of a preempting precedence is admitted, every sequence of a lower
  precedence is left out of the step (its KV cells are kept; it resumes where it stopped), so
  the urgent request runs at close to the step time it would have alone. Nothing of a lower
  precedence is admitted meanwhile: its prompt would only cost step time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from schemas.v1 import PRECEDENCES


def rank_of(precedence: str) -> int:
    try:
        return PRECEDENCES.index(precedence.upper())
    except ValueError:
        raise ValueError(
            f"unknown precedence {precedence!r}; expected one of {PRECEDENCES}"
        ) from None


@dataclass(frozen=True)
class SchedulerSettings:
    #: Sequences any precedence may use (routine work's whole batch).
    max_sequences: int
    #: Every KV cell of the engine (reserved ones included).
    kv_tokens: int
    #: Sequences on top of ``max_sequences`` only preempting precedences may use.
    reserved_sequences: int = 1
    #: Of ``kv_tokens``, cells only preempting precedences may use.
    reserved_kv_tokens: int = 0
    #: Ranks below this one (FLASH = 0, IMMEDIATE = 1) pause lower precedences.
    preempt_below: int = 2

    def __post_init__(self) -> None:
        if self.max_sequences < 1:
            raise ValueError("max_sequences must be ≥ 1")
        if self.reserved_sequences < 0:
            raise ValueError("reserved_sequences must be ≥ 0")
        if not 0 <= self.reserved_kv_tokens < self.kv_tokens:
            raise ValueError("reserved_kv_tokens must be ≥ 0 and < kv_tokens")

    @property
    def total_sequences(self) -> int:
        """Sequences the engine holds: routine's batch plus the reserve on top."""
        return self.max_sequences + self.reserved_sequences


@dataclass(frozen=True)
class Candidate:
    """A sequence as the scheduler sees it: who, how urgent, since when, how many cells."""

    key: int
    rank: int
    arrival: int
    kv_tokens: int


@dataclass(frozen=True)
class Plan:
    admit: tuple[int, ...]
    active: tuple[int, ...]
    paused: tuple[int, ...]


def plan_step(
    running: Sequence[Candidate], waiting: Sequence[Candidate], settings: SchedulerSettings
) -> Plan:
    """Admit what fits, most urgent first, then choose who steps.

    ``running`` holds admitted sequences (with their reserved KV cells); ``waiting`` holds
    requests not yet admitted. A waiting request bigger than the whole pool is the caller's to
    refuse before it gets here.
    """
    order = sorted(waiting, key=lambda c: (c.rank, c.arrival))
    seqs = len(running)
    cells = sum(c.kv_tokens for c in running)
    routine_seqs = sum(1 for c in running if c.rank >= settings.preempt_below)
    routine_cells = sum(c.kv_tokens for c in running if c.rank >= settings.preempt_below)
    top = min((c.rank for c in running), default=len(PRECEDENCES))
    admit: list[Candidate] = []
    for cand in order:
        if seqs >= settings.total_sequences:
            break
        urgent = cand.rank < settings.preempt_below
        if not urgent and top < settings.preempt_below:
            break  # an urgent sequence is running: lower work would be paused at once
        if cells + cand.kv_tokens > settings.kv_tokens:
            # Later (smaller) requests might fit, but letting them pass would starve this one.
            break
        if not urgent and (
            routine_seqs >= settings.max_sequences
            or routine_cells + cand.kv_tokens > settings.kv_tokens - settings.reserved_kv_tokens
        ):
            break
        admit.append(cand)
        seqs += 1
        cells += cand.kv_tokens
        if not urgent:
            routine_seqs += 1
            routine_cells += cand.kv_tokens
        top = min(top, cand.rank)
    members = [*running, *admit]
    if top < settings.preempt_below:
        active = [c for c in members if c.rank <= top]
    else:
        active = list(members)
    active_keys = {c.key for c in active}
    return Plan(
        admit=tuple(c.key for c in admit),
        active=tuple(c.key for c in sorted(active, key=lambda c: (c.rank, c.arrival))),
        paused=tuple(c.key for c in members if c.key not in active_keys),
    )


@dataclass(frozen=True)
class PrefillNeed:
    """A sequence of the step whose prompt is not all computed yet."""

    key: int
    rank: int
    #: Prompt tokens already in its KV cells, and all of them.
    consumed: int
    length: int
    #: A position its chunk must stop at when it gets there (a prefix to keep), or None.
    stop_at: int | None = None


@dataclass(frozen=True)
class PrefillLimits:
    #: Prompt tokens one step may compute, and the grid chunks are cut on (multiples of it).
    tokens: int
    #: Seconds one step may spend on prompts, and the measured prompt rate that converts
    #: them into tokens (0 = not measured yet: the token bound alone).
    seconds: float
    tokens_per_s: float = 0.0
    #: Fewest prompt tokens a step computes when any prompt waits, whatever the time bound
    #: (so a long prompt always advances, in chunks not so small that each costs as much as
    #: a bigger one).
    floor: int = 64


def plan_prefill(
    needs: Sequence[PrefillNeed], limits: PrefillLimits, *, decoding: int
) -> list[tuple[int, int]]:
    """Prompt chunks of one step as ``(key, end)``: the most urgent prompts first (FLASH and
    IMMEDIATE before routine work, then in the order given), within a budget of tokens that
    is the smaller of ``limits.tokens`` and what ``limits.seconds`` buys at the measured rate.

    A decode step that carries a long prompt chunk is as slow as the chunk: bounding the
    chunk by time keeps the step time of the ``decoding`` sequences, an urgent one's
    included, close to what it is without prompts (with none decoding, only the token bound
    holds: there is nobody to keep waiting). Each chunk stops at the next multiple of
    ``limits.tokens`` and at a sequence's ``stop_at``.
    """
    budget = limits.tokens
    if decoding and limits.tokens_per_s > 0:
        by_time = int(limits.seconds * limits.tokens_per_s)
        budget = min(budget, max(limits.floor, by_time))
    plan: list[tuple[int, int]] = []
    for need in sorted(needs, key=lambda n: n.rank):  # stable: equal ranks keep their order
        if budget <= 0:
            break
        if need.consumed >= need.length:
            continue
        end = min(
            need.length,
            (need.consumed // limits.tokens + 1) * limits.tokens,
            need.consumed + budget,
        )
        if need.stop_at is not None and need.consumed < need.stop_at < end:
            end = need.stop_at
        plan.append((need.key, end))
        budget -= end - need.consumed
    return plan
