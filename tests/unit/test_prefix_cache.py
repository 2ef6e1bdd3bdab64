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
    cache.lookup(SHARED, step=1)
    match = cache.lookup(SHARED, step=2)  # the same prompt again
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
