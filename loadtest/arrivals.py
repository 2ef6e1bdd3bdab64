"""Open-loop arrival schedules, computed before the first send.

A load generator that waits for the system before sending the next message measures the system
at the rate it chooses to accept (coordinated omission). Here every send time is fixed in
advance from the process, the rate and the seed; the sender keeps to it whatever happens, and
latency counts from the *scheduled* time, so a stall shows as the latency of everything that
should have left during it.

* ``constant`` — one arrival every ``1/rate`` seconds;
* ``poisson`` — exponential inter-arrival times of mean ``1/rate`` (a memoryless feed);
* ``bursts`` — bursts of ``burst_size`` arrivals spread over ``burst_spread`` seconds, the burst
  starts themselves a Poisson process of rate ``rate / burst_size``: the same mean rate,
  delivered in surges.
"""

from __future__ import annotations

import random
from typing import Literal

Process = Literal["constant", "poisson", "bursts"]
PROCESSES: tuple[Process, ...] = ("constant", "poisson", "bursts")


def schedule(
    process: Process,
    rate: float,
    duration: float,
    *,
    max_count: int | None = None,
    seed: int = 1,
    burst_size: int = 20,
    burst_spread: float = 0.05,
) -> list[float]:
    """Send offsets in seconds from the start, sorted, all ``< duration``, at most ``max_count``."""
    if rate <= 0 or duration <= 0:
        raise ValueError(f"rate and duration must be positive, got {rate} and {duration}")
    limit = max_count if max_count is not None else int(rate * duration * 4) + 16
    rng = random.Random(seed)
    times: list[float] = []
    if process == "constant":
        step = 1.0 / rate
        times = [i * step for i in range(min(limit, int(duration * rate - 1e-9) + 1))]
    elif process == "poisson":
        t = rng.expovariate(rate)
        while t < duration and len(times) < limit:
            times.append(t)
            t += rng.expovariate(rate)
    elif process == "bursts":
        if burst_size < 1 or burst_spread < 0:
            raise ValueError("burst_size must be ≥ 1 and burst_spread ≥ 0")
        t = rng.expovariate(rate / burst_size)
        while t < duration and len(times) < limit:
            times += sorted(t + rng.uniform(0, burst_spread) for _ in range(burst_size))
            t += rng.expovariate(rate / burst_size)
        times = sorted(x for x in times if x < duration)[:limit]
    else:
        raise ValueError(f"unknown arrival process {process!r}; choose from {PROCESSES}")
    return times
