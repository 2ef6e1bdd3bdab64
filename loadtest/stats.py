"""What a load test records: latency per precedence in HDR histograms, and the time series.

Latencies are recorded in microseconds (1 µs … 1 h, 3 significant digits) in HdrHistogram
(``hdrhistogram`` on PyPI, the reference algorithm); each histogram is also written encoded
(base64, compressed) so HdrHistogram tools can read and merge it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

PERCENTILES = (50.0, 90.0, 99.0, 99.9, 100.0)
#: Highest trackable latency: one hour, in microseconds.
MAX_US = 3_600_000_000


def new_histogram() -> HdrHistogram:
    return HdrHistogram(1, MAX_US, 3)


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0 to 1) of ``values`` (not empty), from the raw values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class LatencyBook:
    """Per-precedence histograms (and ``ALL``), plus the raw values for the CDF plot."""

    histograms: dict[str, HdrHistogram] = field(default_factory=dict)
    raw_ms: dict[str, list[float]] = field(default_factory=dict)

    def record(self, precedence: str, seconds: float) -> None:
        us = max(1, min(MAX_US, round(seconds * 1e6)))
        for key in (precedence, "ALL"):
            if key not in self.histograms:
                self.histograms[key] = new_histogram()
                self.raw_ms[key] = []
            self.histograms[key].record_value(us)
            self.raw_ms[key].append(seconds * 1000)

    def count(self, key: str = "ALL") -> int:
        h = self.histograms.get(key)
        return int(h.get_total_count()) if h is not None else 0

    def percentile_ms(self, key: str, q: float) -> float | None:
        h = self.histograms.get(key)
        if h is None or not h.get_total_count():
            return None
        return round(float(h.get_value_at_percentile(q)) / 1000, 2)

    def summary(self, key: str) -> dict[str, Any]:
        h = self.histograms[key]
        out: dict[str, Any] = {"count": int(h.get_total_count())}
        for q in PERCENTILES:
            name = "max" if q == 100.0 else f"p{q:g}".replace(".", "_")
            out[f"{name}_ms"] = self.percentile_ms(key, q)
        out["mean_ms"] = round(h.get_mean_value() / 1000, 2)
        encoded = h.encode()
        out["hdr"] = encoded.decode() if isinstance(encoded, bytes) else str(encoded)
        return out


@dataclass
class Sample:
    """One look at the system, ``t`` seconds after the first scheduled send."""

    t: float
    sent: int
    completed: int
    backlog: int
    #: Pending + ack-pending per stage (the consumer name's first token: ingest, a task, …);
    #: for collate only the pending: its ack-pending records are parked reports (``parked``).
    by_stage: dict[str, int]
    parked: int
    redelivered: int
    deliveries: int
    dead_letters: int


def stage_of(durable: str) -> str:
    """``<task>-dr-flash`` → ``<task>``; ``inferred-<client>-np-routine`` → ``answers``."""
    head = durable.split("-", 1)[0]
    return "answers" if head == "inferred" else head


def per_second(times: list[float], horizon: float) -> list[int]:
    """Counts of ``times`` (seconds from start) in one-second bins up to ``horizon``."""
    bins = [0] * (int(horizon) + 1)
    for t in times:
        if 0 <= t <= horizon:
            bins[int(t)] += 1
    return bins
