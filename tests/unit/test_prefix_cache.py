"""The prompt-prefix cache's bookkeeping, with plain token lists."""

from __future__ import annotations

import numpy as np

from services.inference.prefix import PrefixCache, common_prefix

SHARED = list(range(100, 200))  # 100 tokens of instructions and examples


def prompt(*report: int) -> list[int]:
    return [*SHARED, *report]


def test_common_prefix() -> None:
    a = np.array([1, 2, 3, 4])
    assert common_prefix(a, np.array([1, 2, 9])) == 2
    assert common_prefix(a, np.array([1, 2])) == 2
    assert common_prefix(a, np.array([], dtype=np.int64)) == 0
    assert common_prefix(a, np.array([7])) == 0


def test_second_prompt_keeps_the_shared_prefix_third_reuses_it() -> None:
    cache = PrefixCache([10, 11], model="m", min_tokens=32)
    first = cache.lookup(prompt(1, 2, 3), step=1)
    assert first.holder is None and first.keep_at is None  # nothing to compare with yet
    second = cache.lookup(prompt(4, 5, 6), step=2)
    assert second.holder is None and second.keep_at == len(SHARED)
    holder = cache.store(prompt(4, 5, 6)[: len(SHARED)], step=2)
    assert holder is not None and holder.slot in (10, 11)
    third = cache.lookup(prompt(7, 8), step=3)
    assert third.holder is holder and third.keep_at is None
    assert cache.stats.hits == 1 and cache.stats.tokens_reused == len(SHARED)
    assert round(cache.stats.hit_rate, 3) == round(1 / 3, 3)


def test_short_shared_prefixes_are_not_kept() -> None:
    cache = PrefixCache([10], model="m", min_tokens=32)
    cache.lookup([*range(20), 1], step=1)
    assert cache.lookup([*range(20), 2], step=2).keep_at is None


def test_the_last_prompt_token_is_always_computed() -> None:
    cache = PrefixCache([10], model="m", min_tokens=4)
    cache.lookup([*SHARED, 5], step=1)
    match = cache.lookup(SHARED, step=2)  # all of it shared with a longer earlier prompt
    assert match.keep_at == len(SHARED) - 1
    cache.store(SHARED[:-1], step=2)
    again = cache.lookup(SHARED, step=3)
    assert again.holder is not None and len(again.holder.key.tokens) == len(SHARED) - 1
    # A held prefix as long as the prompt itself is not usable: no logits would be left.
    cache2 = PrefixCache([10], model="m", min_tokens=4)
    cache2.store(SHARED, step=1)
    assert cache2.lookup(SHARED, step=2).holder is None


def test_a_longer_prefix_is_kept_beside_a_shorter_one_and_preferred() -> None:
    cache = PrefixCache([10, 11], model="m", min_tokens=8)
    cache.store(SHARED[:50], step=1)
    cache.lookup(prompt(1, 2), step=2)
    match = cache.lookup(prompt(3, 4), step=3)
    assert match.holder is not None and len(match.holder.key.tokens) == 50
    assert match.keep_at == len(SHARED)  # 50 more shared tokens: worth a holder of its own
    cache.store(SHARED, step=3)
    best = cache.lookup(prompt(5), step=4).holder
    assert best is not None and len(best.key.tokens) == len(SHARED)


def test_least_recently_used_is_evicted_and_pinned_holders_are_not() -> None:
    cache = PrefixCache([10, 11], model="m", min_tokens=4)
    a, b, c = [1] * 40, [2] * 40, [3] * 40
    cache.store(a, step=1)
    b_holder = cache.store(b, step=1)
    assert b_holder is not None
    assert cache.lookup([*a, 9], step=5).holder is not None  # a is now the most recent
    held = cache.store(c, step=6)
    assert held is not None and held.slot == b_holder.slot
    assert [h.key.tokens[0] for h in cache.holders()] == [1, 3]
    assert cache.stats.evicted == 1
    # Both holders are pinned by copies in flight at step 6: nothing may be evicted.
    cache.lookup([*a, 9], step=6)
    assert cache.store([4] * 40, step=6) is None
    assert cache.store([4] * 40, step=8) is not None
    # A prefix already held is not stored twice.
    assert cache.store([4] * 40, step=9) is None


def test_the_key_holds_the_model_and_adapter() -> None:
    cache = PrefixCache([10], model="gemma", adapter="logstat-v1", min_tokens=4)
    holder = cache.store(SHARED, step=1)
    assert holder is not None
    assert (holder.key.model, holder.key.adapter) == ("gemma", "logstat-v1")
    # Another cache (another model or adapter) never matches it: holders are per engine, and
    # a holder whose key names other weights is skipped.
    holder.key = type(holder.key)("other", None, holder.key.tokens)
    assert cache.lookup(prompt(1), step=2).holder is None


def test_a_wave_waits_for_the_prefix_one_sequence_computes() -> None:
    cache = PrefixCache([10, 11], model="m", min_tokens=32)
    first = cache.lookup(prompt(1, 2), step=1, owner=1, rank=4)
    assert first.keep_at is None and first.wait_for is None  # nothing seen before it
    second = cache.lookup(prompt(3, 4), step=1, owner=2, rank=4)
    assert second.keep_at == len(SHARED) and second.wait_for is None and cache.pending == 1
    waiters = [cache.lookup(prompt(5, i), step=1, owner=3 + i, rank=4) for i in range(3)]
    assert all(w.wait_for == tuple(SHARED) and w.holder is None for w in waiters)
    assert all(w.keep_at is None for w in waiters)  # nothing longer to keep than what comes
    assert cache.take(tuple(SHARED), step=2) is True  # still being computed
    holder = cache.store(SHARED, step=3)
    assert holder is not None and cache.pending == 0
    taken = cache.take(tuple(SHARED), step=4)
    assert taken is holder and holder.pinned_until == 5
    assert cache.stats.hits == 1 and cache.stats.tokens_reused == len(SHARED)


def test_a_waiter_keeps_a_longer_prefix_it_shares_with_others() -> None:
    cache = PrefixCache([10, 11], model="m", min_tokens=8)
    cache.lookup(prompt(1), step=1, owner=1, rank=4)
    cache.lookup(prompt(2), step=1, owner=2, rank=4)  # computes SHARED
    same_report = [*range(40)]
    cache.lookup(prompt(*same_report, 1), step=1, owner=3, rank=4)
    later = cache.lookup(prompt(*same_report, 2), step=1, owner=4, rank=4)
    assert later.wait_for == tuple(SHARED)
    assert later.keep_at == len(SHARED) + len(same_report)
    assert cache.pending == 2


def test_an_urgent_prompt_never_waits_for_routine_work() -> None:
    # A preempting precedence pauses routine sequences: waiting on one would never end.
    cache = PrefixCache([10], model="m", min_tokens=32)
    cache.lookup(prompt(1), step=1, owner=1, rank=4)
    cache.lookup(prompt(2), step=1, owner=2, rank=4)
    flash = cache.lookup(prompt(3), step=1, owner=3, rank=0)
    assert flash.wait_for is None and flash.keep_at == len(SHARED)
    routine = cache.lookup(prompt(4), step=1, owner=4, rank=4)
    assert routine.wait_for == tuple(SHARED)  # FLASH now computes it: routine may wait


def test_an_abandoned_prefix_is_computed_by_its_waiters() -> None:
    cache = PrefixCache([10], model="m", min_tokens=32)
    cache.lookup(prompt(1), step=1, owner=1, rank=4)
    cache.lookup(prompt(2), step=1, owner=2, rank=4)
    waiter = cache.lookup(prompt(3), step=1, owner=3, rank=4)
    assert waiter.wait_for is not None
    cache.abandon(2)  # cancelled before it got there
    assert cache.take(waiter.wait_for, step=2) is False and cache.pending == 0
    # No free holder when it gets there: not held either, and waiters compute it themselves.
    full = PrefixCache([], model="m", min_tokens=32)
    full.lookup(prompt(1), step=1, owner=1, rank=4)
    full.lookup(prompt(2), step=1, owner=2, rank=4)
    assert full.store(SHARED, step=2) is None
    assert full.take(tuple(SHARED), step=3) is False


def test_without_an_owner_nothing_is_pending_or_waited_for() -> None:
    cache = PrefixCache([10], model="m", min_tokens=32)
    cache.lookup(prompt(1), step=1)
    assert cache.lookup(prompt(2), step=1).keep_at == len(SHARED)
    assert cache.pending == 0 and cache.lookup(prompt(3), step=1).wait_for is None


def test_a_retry_of_the_same_prompt_keeps_no_holder_of_it() -> None:
    # A retry sends the same prompt again: it reuses the family's prefix, and a holder for the
    # whole prompt would only evict that prefix.
    cache = PrefixCache([10, 11], model="m", min_tokens=8)
    cache.lookup(prompt(1, 2), step=1)
    kept = cache.lookup(prompt(3, 4), step=2)
    assert kept.keep_at == len(SHARED)
    cache.store(SHARED, step=3)
    first = cache.lookup(prompt(*range(40)), step=4)
    retry = cache.lookup(prompt(*range(40)), step=5)
    assert first.holder is not None and retry.holder is not None
    assert first.keep_at is None and retry.keep_at is None


def test_a_waiter_whose_prefix_will_not_come_looks_again() -> None:
    cache = PrefixCache([10, 11], model="m", min_tokens=32)
    cache.store(SHARED[:40], step=1)  # a shorter prefix is held
    cache.lookup(prompt(1), step=2, owner=1, rank=4)
    cache.lookup(prompt(2), step=2, owner=2, rank=4)  # computes SHARED
    waiter = cache.lookup(prompt(3), step=2, owner=3, rank=4)
    assert waiter.wait_for == tuple(SHARED) and waiter.holder is None
    cache.abandon(2)
    assert cache.take(tuple(SHARED), step=3) is False
    lookups = cache.stats.lookups
    again = cache.lookup(prompt(3), step=3, owner=3, rank=4, again=True)
    # The held shorter prefix now, and it keeps the longer one itself.
    assert again.holder is not None and len(again.holder.key.tokens) == 40
    assert again.keep_at == len(SHARED) and again.wait_for is None
    assert cache.stats.lookups == lookups and cache.pending == 1


def test_waiting_can_be_turned_off() -> None:
    cache = PrefixCache([10], model="m", min_tokens=32, wait=False)
    cache.lookup(prompt(1), step=1, owner=1, rank=4)
    cache.lookup(prompt(2), step=1, owner=2, rank=4)
    third = cache.lookup(prompt(3), step=1, owner=3, rank=4)
    assert third.wait_for is None and third.keep_at == len(SHARED) and cache.pending == 0
