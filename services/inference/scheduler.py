"""Which sequences enter the next decode step: admission and precedence, as a pure function.

The engine thread calls :func:`plan_step` before every step with plain values and applies the
plan. Two rules give urgent work the engine's attention:

* **Reserve.** Routine-class work (below the preempting precedences) may hold at most
  ``max_sequences - reserved_sequences`` sequences and ``kv_tokens - reserved_kv_tokens`` KV
  cells, so a FLASH or IMMEDIATE request always finds room and is admitted at the next step
  instead of waiting for a routine sequence to finish.
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
    max_sequences: int
    kv_tokens: int
    #: Sequences and KV cells only preempting precedences may use.
    reserved_sequences: int = 1
    reserved_kv_tokens: int = 0
    #: Ranks below this one (FLASH = 0, IMMEDIATE = 1) pause lower precedences.
    preempt_below: int = 2

    def __post_init__(self) -> None:
        if self.max_sequences < 1:
            raise ValueError("max_sequences must be ≥ 1")
        if not 0 <= self.reserved_sequences < self.max_sequences:
            raise ValueError("reserved_sequences must be ≥ 0 and < max_sequences")
        if not 0 <= self.reserved_kv_tokens < self.kv_tokens:
            raise ValueError("reserved_kv_tokens must be ≥ 0 and < kv_tokens")


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
        if seqs >= settings.max_sequences:
            break
        urgent = cand.rank < settings.preempt_below
        if not urgent and top < settings.preempt_below:
            break  # an urgent sequence is running: lower work would be paused at once
        if cells + cand.kv_tokens > settings.kv_tokens:
            # Later (smaller) requests might fit, but letting them pass would starve this one.
            break
        if not urgent and (
            routine_seqs >= settings.max_sequences - settings.reserved_sequences
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
