"""Publish the hostile-input corpus through the real pipeline and say what became of each input.

    python -m tests.hostile.run_corpus [--sample N] [--json]

Every service runs in-process (ingest, extract, translate, summarise, inference on the no-model
stand-in engine, collate) against an embedded nats-server. Each input must be refused at
publish with a clear error, dead-lettered by the right stage with the right reason and its bytes,
or processed into an enriched event (flagged ``suspected_injection`` where it addresses the
model). No handler may fail unexpectedly (a retry, an ERROR log, a ``max_deliveries`` dead
letter), and afterwards a normal report must still become an enriched event promptly.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import nats
from nats.aio.client import Client
from nats.errors import BadHeaderError, MaxPayloadError
from nats.errors import Error as NatsError

from bus.embedded import EmbeddedNats
from bus.outcomes import Delivery, Handler, Outcome, Reject, Retry
from bus.publish import JetStreamPublisher, PublishError
from schemas.v1 import DeadLetter, EnrichedEvent
from services.cli.common import check_size
from services.config.schema import BusConfig, CollateConfig, Config, IngestConfig, TasksConfig
from services.inference.standin import StandInEngine
from services.runtime import service_names
from tests.hostile.corpus import Item, load
from tests.integration.pipeline import Collector, collector, pipeline

#: Every service of the shipped task registry.
SERVICES = service_names(Config())
PROBE = "SPOTREP. 251430ZNOV26. Patrol observed 3 BTR-82A moving north at 31U DQ 48251 11932."
#: Classes of outcome, as reported.
CLASSES = ("refused", "dead_letter", "processed", "absorbed")


def corpus_config() -> Config:
    """Short timers; streams large enough for the corpus's megabyte inputs and their dead
    letters (a full stream would be a refusal the corpus does not intend)."""
    return Config(
        bus=BusConfig(
            ack_wait=2.0,
            nak_backoff=(0.2, 0.5, 1.0),
            drain_timeout=3.0,
            # Room for transient failures (a timeout on a loaded machine) to heal by retry.
            max_deliveries=10,
            stream_max_bytes=512 * 1024 * 1024,
        ),
        collate=CollateConfig(deadline_routine=60.0, recheck_interval=0.5),
        ingest=IngestConfig(tasks=("extract", "translate", "summarise")),
        tasks=TasksConfig(prompt_style="few-shot"),
    )


class _Errors(logging.Handler):
    """ERROR records of the services while the corpus runs: each one is a handler failure."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.name}: {record.getMessage()}"[:500])


@dataclass
class Report:
    tried: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    #: Unexpected exceptions of a handler (bugs), and failures of the bus (timeouts, a full
    #: stream) that were retried.
    crashes: list[str] = field(default_factory=list)
    transient: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stats: dict[str, dict[str, int]] = field(default_factory=dict)
    publish_s: float = 0.0
    settle_s: float = 0.0
    probe_s: float = 0.0

    def lines(self) -> list[str]:
        out = [f"inputs tried: {self.tried}"]
        out += [f"  {c}: {self.outcomes[c]}" for c in CLASSES]
        out += [f"    {r}: {n}" for r, n in sorted(self.reasons.items())]
        out.append(f"crashes: {len(self.crashes)}")
        out += [f"  {c}" for c in self.crashes[:20]]
        out.append(f"transient failures (retried): {len(self.transient)}")
        out += [f"  {c}" for c in self.transient[:10]]
        out.append(f"ERROR logs: {len(self.errors)}")
        out += [f"  {c}" for c in self.errors[:10]]
        out.append(f"problems: {len(self.problems)}")
        out += [f"  {p}" for p in self.problems[:40]]
        out.append(
            f"publish {self.publish_s:.1f}s, settle {self.settle_s:.1f}s, probe {self.probe_s:.2f}s"
        )
        return out


async def _publish(js: JetStreamPublisher, nc: Client, item: Item) -> str | None:
    """None when stored, else the error the publisher got."""
    try:
        check_size(
            nc,
            item.subject,
            item.data + b"".join(k.encode() + v.encode() for k, v in item.headers.items()),
        )
        await js.publish(item.subject, item.data, msg_id=None, headers=item.headers or None)
    except (PublishError, BadHeaderError, MaxPayloadError) as exc:
        return str(exc) or type(exc).__name__
    return None


def _source(subject: str) -> str:
    return subject.split(".")[3]


def _check(items: list[Item], seen: Collector, refusals: dict[int, str | None], r: Report) -> None:
    dead: dict[tuple[str, bytes], list[DeadLetter]] = {}
    for letter in seen.dead:
        dead.setdefault((letter.subject, letter.data), []).append(letter)
    events: dict[str, list[EnrichedEvent]] = {}
    for event in seen.events:
        events.setdefault(event.source, []).append(event)
    for item in items:
        cls = item.cls
        refusal = refusals[item.n]
        tag = f"#{item.n} {item.category} {item.subject} {item.data[:40]!r}"
        if cls == "refused":
            if refusal is None:
                r.problems.append(f"{tag}: stored, expected refusal {item.expect['refusal']}")
            continue
        if refusal is not None:
            r.problems.append(f"{tag}: refused at publish ({refusal}), expected {cls}")
            continue
        if cls == "dead_letter":
            letters = dead.get((item.subject, item.data), [])
            if not letters:
                r.problems.append(f"{tag}: no dead letter keeping its bytes")
                continue
            letter = letters[0]
            if (letter.stage, letter.reason) != (item.expect["stage"], item.expect["reason"]):
                r.problems.append(
                    f"{tag}: dead-lettered {letter.stage}/{letter.reason} ({letter.message[:80]})"
                    f", expected {item.expect['stage']}/{item.expect['reason']}"
                )
            elif not letter.message:
                r.problems.append(f"{tag}: dead letter without a message")
            r.reasons[f"{letter.stage}/{letter.reason}"] += 1
        elif cls == "processed":
            got = events.get(_source(item.subject), [])
            if not got:
                r.problems.append(f"{tag}: no enriched event")
                continue
            flagged = any(f.code == "suspected_injection" for f in got[-1].flags)
            if flagged != item.expect["flagged"]:
                r.problems.append(f"{tag}: flagged={flagged}, expected {item.expect['flagged']}")
            if dead.get((item.subject, item.data)):
                r.problems.append(f"{tag}: processed AND dead-lettered")
    transient = {cls.__name__ for cls in EXPECTED_FAILURES} | {"MaxPayloadError"}
    for letter in seen.dead:
        if letter.reason in ("max_deliveries", "internal_error"):
            line = f"dead letter {letter.stage}/{letter.reason}: {letter.message[:200]}"
            if letter.fields.get("error_type") in transient or "timeout" in letter.message:
                r.transient.append(line)
            else:
                r.crashes.append(line)


async def run(url: str, items: list[Item], settle_within: float = 120.0) -> Report:
    report = Report(tried=len(items))
    report.outcomes.update(item.cls for item in items)
    errors = _Errors()
    logging.getLogger().addHandler(errors)
    try:
        async with (
            pipeline(url, corpus_config(), SERVICES, StandInEngine()) as running,
            collector(url) as seen,
        ):
            for name, worker in running.workers.items():
                worker._handler = _watch(name, worker._handler, report)
            nc = await nats.connect(url, max_reconnect_attempts=1)
            publisher = JetStreamPublisher(nc.jetstream(), timeout=10.0)
            started = time.perf_counter()
            refusals = {item.n: await _publish(publisher, nc, item) for item in items}
            report.publish_s = time.perf_counter() - started

            want_dead = {
                (i.subject, i.data)
                for i in items
                if i.cls == "dead_letter" and refusals[i.n] is None
            }
            want_events = {
                _source(i.subject) for i in items if i.cls == "processed" and not refusals[i.n]
            }

            def settled() -> bool:
                have_dead = {(d.subject, d.data) for d in seen.dead}
                have_events = {e.source for e in seen.events}
                return want_dead <= have_dead and want_events <= have_events

            try:
                await seen.wait_for(settled, within=settle_within)
            except TimeoutError:
                report.problems.append(f"corpus not settled within {settle_within:.0f}s")
            report.settle_s = time.perf_counter() - started - report.publish_s

            # No stall: a normal report still goes all the way, promptly.
            before = len(seen.events)
            probe_at = time.perf_counter()
            await publisher.publish("feeds.np.report.probe", PROBE.encode(), msg_id=None)
            try:
                await seen.wait_for(
                    lambda: any(e.source == "probe" for e in seen.events[before:]), within=15
                )
            except TimeoutError:
                report.crashes.append("a normal report after the corpus got no event in 15 s")
            report.probe_s = time.perf_counter() - probe_at
            await nc.close()

            for name, worker in running.workers.items():
                s = worker.stats
                report.stats[name] = {
                    "handled": s.handled,
                    "dead_lettered": s.dead_lettered,
                    "retried": s.retried,
                }
            _check(items, seen, refusals, report)
    finally:
        logging.getLogger().removeHandler(errors)
    report.errors = errors.records
    return report


#: What a handler may raise without it being a bug: bad input (Reject), and the bus or the
#: server failing for a while (retried with backoff, then dead-lettered).
EXPECTED_FAILURES = (Reject, Retry, PublishError, NatsError, TimeoutError, ConnectionError)


def _watch(name: str, handler: Handler, report: Report) -> Handler:
    """``handler``, with every exception it raises recorded: a crash, or a transient failure."""

    async def watched(d: Delivery) -> Outcome:
        try:
            return await handler(d)
        except Reject:
            raise
        except EXPECTED_FAILURES as exc:
            report.transient.append(f"{name}: {type(exc).__name__}: {exc}"[:300])
            raise
        except Exception as exc:
            report.crashes.append(
                f"{name} on {d.subject} ({d.data[:40]!r}): {type(exc).__name__}: {exc}"[:500]
            )
            raise

    return watched


def sample(items: list[Item], n: int, seed: int = 7) -> list[Item]:
    """A deterministic sample that keeps every category."""
    rng = random.Random(seed)
    by_cat: dict[str, list[Item]] = {}
    for item in items:
        by_cat.setdefault(item.category, []).append(item)
    picked = [group[0] for group in by_cat.values()]
    rest = [i for i in items if i not in picked]
    picked += rng.sample(rest, max(0, min(len(rest), n - len(picked))))
    return sorted(picked, key=lambda i: i.n)


async def _main(args: argparse.Namespace) -> int:
    items = load()
    if args.sample:
        items = sample(items, args.sample)
    with tempfile.TemporaryDirectory() as tmp:
        async with EmbeddedNats(data_dir=Path(tmp) / "nats") as server:
            report = await run(server.url, items)
    if args.json:
        print(
            json.dumps(
                {
                    **report.__dict__,
                    "outcomes": dict(report.outcomes),
                    "reasons": dict(report.reasons),
                },
                indent=2,
            )
        )
    else:
        print("\n".join(report.lines()))
    return 1 if report.crashes or report.problems else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    p.add_argument("--sample", type=int, default=0, help="a deterministic sample of N inputs")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    return anyio.run(_main, args)


if __name__ == "__main__":
    sys.exit(main())
