"""Which prompt prefixes the engine keeps computed, and which one a new prompt reuses.

The engine knows no task, so it finds shared prefixes itself, by tokens: a new prompt is
compared with the prefixes held and with the latest prompts seen. When its longest common
prefix with an earlier prompt is long enough and not held yet, the sequence that computes it
stops its prompt chunk there once and the engine keeps a copy of its KV cells (a *holder*);
later prompts that start with a held prefix copy it instead of computing it, and prompts that
start with a prefix another sequence is computing right now wait for it rather than compute it
again (a wave of requests arriving together computes its shared prefix once, not once each).
Prompts built as
"instructions + examples + the report" share their instructions and examples this way across
reports, and tasks or precedences that send the same prefix share it too, with no boundary
sent by anyone.

Pure bookkeeping (no model here): holders are slots the backend maps to KV storage; a
bounded pool, the least recently used evicted first. A prefix's key holds the model and the
adapter (name@sha256) besides its tokens, so a prefix computed by other weights is never reused.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Shortest prefix worth a holder: copying one costs about what computing a few dozen
#: prompt tokens does.
MIN_PREFIX_TOKENS = 32
#: Latest prompts a new prompt is compared with to find a prefix worth keeping.
HISTORY = 64


@dataclass(frozen=True)
class PrefixKey:
    model: str
    #: The LoRA adapter applied with the model (None: the base weights).
    adapter: str | None
    tokens: tuple[int, ...]


@dataclass
class Holder:
    slot: int
    key: PrefixKey
    #: Lookup counter value when it was last reused or stored (LRU order).
    used: int
    #: Until this step the holder's KV may still be copied (a copy is applied lazily).
    pinned_until: int = -1


@dataclass(frozen=True)
class Match:
    #: Holder to copy (None: compute the prompt from its start).
    holder: Holder | None
    #: Position at which to keep a new prefix while computing this prompt (None: none).
    keep_at: int | None
    #: A prefix of this prompt that another sequence is computing now: wait until it is held
    #: and copy it (:meth:`PrefixCache.take`) instead of computing it (None: nothing to wait for).
    wait_for: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Pending:
    """A prefix a sequence is computing and will keep: who computes it, at which precedence."""

    owner: int
    rank: int


@dataclass
class PrefixStats:
    lookups: int = 0
    hits: int = 0
    tokens_reused: int = 0
    stored: int = 0
    evicted: int = 0

    @property
    def hit_rate(self) -> float:
        return self.hits / self.lookups if self.lookups else 0.0


def common_prefix(a: np.ndarray, b: np.ndarray) -> int:
    n = min(len(a), len(b))
    if n == 0:
        return 0
    differ = np.flatnonzero(a[:n] != b[:n])
    return int(differ[0]) if len(differ) else n


class PrefixCache:
    """Holders over ``slots``; :meth:`lookup` on admission, :meth:`store` when a sequence's
    prompt reaches its ``keep_at``."""

    def __init__(
        self,
        slots: Sequence[int],
        *,
        model: str,
        adapter: str | None = None,
        min_tokens: int = MIN_PREFIX_TOKENS,
        history: int = HISTORY,
        wait: bool = True,
    ) -> None:
        self.model, self.adapter = model, adapter
        self.min_tokens = min_tokens
        #: Whether a prompt waits for a prefix another sequence is computing (False: it
        #: computes it too, as when nothing is pending).
        self.wait = wait
        self._free = list(slots)
        self.capacity = len(self._free)
        self._holders: OrderedDict[tuple[int, ...], Holder] = OrderedDict()  # LRU first
        #: Prefixes being computed now (at most one per admitted sequence: bounded by them).
        self._pending: dict[tuple[int, ...], Pending] = {}
        self._history: deque[np.ndarray] = deque(maxlen=history)
        self._clock = 0
        self.stats = PrefixStats()

    def __len__(self) -> int:
        return len(self._holders)

    def lookup(
        self,
        prompt: Sequence[int],
        step: int,
        *,
        owner: int | None = None,
        rank: int = 0,
        again: bool = False,
    ) -> Match:
        """The longest held prefix of ``prompt`` (leaving its last token to compute: its
        logits give the first output token), and where to keep a longer one.

        With ``owner`` (the sequence's key; ``rank`` its precedence rank), a longer prefix
        that a sequence at least as urgent is computing now is waited for instead
        (``Match.wait_for``) — never one computed by a less urgent sequence, which a preempting
        precedence pauses — and the prefix this prompt will keep is recorded as pending until
        :meth:`store` or :meth:`abandon`. ``again``: the same prompt looked up once more (what
        it waited for will not come), not counted or remembered a second time.
        """
        self._clock += 1
        self.stats.lookups += not again
        tokens = np.asarray(prompt, dtype=np.int64)
        usable = len(tokens) - 1
        best: Holder | None = None
        longest_shared = 0
        for held, holder in self._holders.items():
            if holder.key.model != self.model or holder.key.adapter != self.adapter:
                continue
            shared = common_prefix(tokens, np.asarray(held, dtype=np.int64))
            longest_shared = max(longest_shared, shared)
            if shared == len(held) <= usable and (best is None or len(held) > len(best.key.tokens)):
                best = holder
        for earlier in self._history:
            shared = common_prefix(tokens, earlier)
            if shared == len(tokens) == len(earlier):
                # The same prompt again (a retry): a holder for all of it would serve only a
                # third attempt, and evict a prefix that a family of prompts shares.
                continue
            longest_shared = max(longest_shared, shared)
        if not again:
            self._history.append(tokens)
        reused = len(best.key.tokens) if best is not None else 0
        waits = owner is not None and self.wait
        wait_for = self._pending_prefix(tokens, rank, reused) if waits else None
        if wait_for is not None:
            best, reused = None, len(wait_for)
        if best is not None:
            self._hit(best, step)
        keep = min(longest_shared, usable)
        keep_at = keep if keep >= max(self.min_tokens, reused + self.min_tokens) else None
        if keep_at is not None:
            kept = tuple(prompt[:keep_at])
            if kept in self._holders:
                keep_at = None
            elif owner is not None and self.wait:
                known = self._pending.get(kept)
                if known is None or rank < known.rank:
                    self._pending[kept] = Pending(owner, rank)
        return Match(best, keep_at, wait_for)

    def _pending_prefix(self, tokens: np.ndarray, rank: int, reused: int) -> tuple[int, ...] | None:
        """The longest prefix of ``tokens`` being computed by a sequence at least as urgent,
        worth waiting for: longer than what is held by ``min_tokens``."""
        found: tuple[int, ...] | None = None
        for pending, who in self._pending.items():
            n = len(pending)
            if who.rank > rank or n >= len(tokens) or n < reused + self.min_tokens:
                continue
            if (found is None or n > len(found)) and common_prefix(
                tokens, np.asarray(pending, dtype=np.int64)
            ) == n:
                found = pending
        return found

    def _hit(self, holder: Holder, step: int) -> None:
        self.stats.hits += 1
        self.stats.tokens_reused += len(holder.key.tokens)
        holder.used = self._clock
        holder.pinned_until = step + 1
        self._holders.move_to_end(holder.key.tokens)

    def take(self, prefix: tuple[int, ...], step: int) -> Holder | bool:
        """A waited-for prefix: its holder once held (pinned for the copy ``step`` applies),
        True while it is still being computed, False when it will not be held (its sequence
        ended first, or no holder was free): look the prompt up ``again`` then."""
        holder = self._holders.get(prefix)
        if holder is not None:
            self._clock += 1
            self._hit(holder, step)
            return holder
        return prefix in self._pending

    def abandon(self, owner: int) -> None:
        """``owner`` ends: the prefixes it was to keep will not come."""
        for prefix in [p for p, who in self._pending.items() if who.owner == owner]:
            del self._pending[prefix]

    @property
    def pending(self) -> int:
        return len(self._pending)

    def store(self, tokens: Sequence[int], step: int) -> Holder | None:
        """A holder for ``tokens`` (the caller copies their KV into its slot), evicting the
        least recently used holder not pinned by a copy in flight; None when the prefix is
        already held or every holder is pinned."""
        key = tuple(tokens)
        self._pending.pop(key, None)
        if key in self._holders:
            return None
        if self._free:
            slot = self._free.pop()
        else:
            victim = next((h for h in self._holders.values() if h.pinned_until < step), None)
            if victim is None:
                return None
            del self._holders[victim.key.tokens]
            self.stats.evicted += 1
            slot = victim.slot
        self._clock += 1
        holder = Holder(slot, PrefixKey(self.model, self.adapter, key), self._clock, step + 1)
        self._holders[key] = holder
        self.stats.stored += 1
        return holder

    def holders(self) -> list[Holder]:
        """Least recently used first."""
        return list(self._holders.values())
