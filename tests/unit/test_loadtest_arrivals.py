"""The load tester's arrival processes, checked statistically with fixed seeds."""

from __future__ import annotations

import itertools
import statistics

import pytest

from loadtest.arrivals import schedule


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


def test_constant_spacing_is_exact_and_bounded() -> None:
    times = schedule("constant", 8.0, 10.0)
    assert len(times) == 80
    assert times[0] == 0.0 and times[-1] < 10.0
    assert all(g == pytest.approx(0.125) for g in gaps(times))
    assert len(schedule("constant", 8.0, 10.0, max_count=5)) == 5


def test_poisson_interarrivals_have_mean_one_over_rate_and_unit_dispersion() -> None:
    rate = 50.0
    times = schedule("poisson", rate, 400.0, seed=7)
    g = gaps(times)
    mean = statistics.fmean(g)
    # 20,000 exponential gaps: the mean is within 3 % of 1/rate, and an exponential's standard
    # deviation equals its mean (coefficient of variation 1; constant spacing would give 0).
    assert len(times) == pytest.approx(rate * 400, rel=0.03)
    assert mean == pytest.approx(1 / rate, rel=0.03)
    assert statistics.stdev(g) / mean == pytest.approx(1.0, abs=0.05)
    # Counts per one-second window: Poisson, so variance / mean (index of dispersion) ≈ 1.
    counts = [0] * 400
    for t in times:
        counts[int(t)] += 1
    assert statistics.pvariance(counts) / statistics.fmean(counts) == pytest.approx(1.0, abs=0.2)
    # Memoryless: P(gap > 1/rate) = e^-1.
    assert sum(x > 1 / rate for x in g) / len(g) == pytest.approx(0.3679, abs=0.02)


def test_poisson_is_seeded() -> None:
    assert schedule("poisson", 5, 60, seed=3) == schedule("poisson", 5, 60, seed=3)
    assert schedule("poisson", 5, 60, seed=3) != schedule("poisson", 5, 60, seed=4)


def test_bursts_keep_the_mean_rate_and_arrive_in_groups() -> None:
    rate, size, spread = 20.0, 10, 0.05
    times = schedule("bursts", rate, 500.0, seed=11, burst_size=size, burst_spread=spread)
    assert len(times) == pytest.approx(rate * 500, rel=0.06)
    assert times == sorted(times)
    # Group arrivals separated by more than the spread: most groups are whole bursts.
    groups, current = [], [times[0]]
    for a, b in itertools.pairwise(times):
        if b - a > spread:
            groups.append(current)
            current = []
        current.append(b)
    groups.append(current)
    sizes = [len(x) for x in groups]
    assert statistics.median(sizes) == size
    # A burst never splits (its arrivals are within the spread); two bursts whose starts fall
    # closer than the spread merge — rarely, at 2 bursts/s.
    assert all(len(x) % size == 0 for x in groups)
    whole = [x for x in groups if len(x) == size]
    assert len(whole) / len(groups) > 0.75
    assert all(max(x) - min(x) <= spread for x in whole)
    # Overdispersed against Poisson: counts per second vary far more than their mean.
    counts = [0] * 500
    for t in times:
        counts[int(t)] += 1
    assert statistics.pvariance(counts) / statistics.fmean(counts) > 5


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        schedule("poisson", 0, 10)
    with pytest.raises(ValueError):
        schedule("bursts", 1, 10, burst_size=0)
    with pytest.raises(ValueError):
        schedule("nope", 1, 10)  # type: ignore[arg-type]
