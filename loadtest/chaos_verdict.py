"""The verdict BY ID: read the ENRICHED and DLQ streams back and match them to what was published.

Every published report must end as exactly one enriched event per revision (revisions 1..n, no
gap) or as one ingest dead letter. ``lost`` counts published ids with neither, plus missing
revisions; ``duplicated`` counts every extra copy of a revision or dead letter, and an id that
has both.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import msgspec
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from bus.topology import stream_name
from schemas.headers import MSG_ID
from schemas.v1 import DeadLetter, enriched_decoder

_dead_letter_decoder = msgspec.json.Decoder(DeadLetter)


@dataclass
class Verdict:
    published: int = 0
    events: int = 0
    dead_letters: int = 0
    lost: int = 0
    duplicated: int = 0
    #: Ids whose last event is partial (a task missed the deadline): not lost, but reported.
    partial_only: int = 0
    #: Ids with more than one revision (partial at the deadline, completed later).
    revised: int = 0
    other_dead_letters: Counter[str] = field(default_factory=Counter)
    unknown: int = 0
    lost_ids: list[str] = field(default_factory=list)
    duplicated_ids: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicated == 0

    def line(self) -> str:
        return f"lost={self.lost} duplicated={self.duplicated}"


async def read_stream(js: JetStreamContext, stream: str, subject: str) -> list[bytes]:
    """Every message stored in ``stream`` (an ephemeral consumer from the first one)."""
    info = await js.stream_info(stream)
    expected = info.state.messages
    if expected == 0:
        return []
    sub = await js.pull_subscribe(
        subject,
        stream=stream,
        config=ConsumerConfig(
            ack_policy=AckPolicy.NONE,
            deliver_policy=DeliverPolicy.ALL,
            inactive_threshold=60.0,
        ),
    )
    out: list[bytes] = []
    idle = 0
    try:
        while len(out) < expected and idle < 3:
            try:
                batch = await sub.fetch(512, timeout=2.0)
            except (NatsTimeoutError, TimeoutError):
                idle += 1
                continue
            idle = 0
            out += [m.data for m in batch]
    finally:
        await sub.unsubscribe()
    return out


async def judge(js: JetStreamContext, published: set[str], labels: tuple[str, ...]) -> Verdict:
    v = Verdict(published=len(published))
    revisions: dict[str, Counter[int]] = defaultdict(Counter)
    last_partial: dict[str, tuple[int, bool]] = {}
    for label in labels:
        for data in await read_stream(js, stream_name("enriched", label), f"enriched.{label}.>"):
            event = enriched_decoder.decode(data)
            v.events += 1
            pid = event.publisher_id or ""
            if pid not in published:
                v.unknown += 1
                continue
            revisions[pid][event.revision] += 1
            if event.revision >= last_partial.get(pid, (0, False))[0]:
                last_partial[pid] = (event.revision, event.partial)
    dead: Counter[str] = Counter()
    for label in labels:
        for data in await read_stream(js, stream_name("dlq", label), f"dlq.*.{label}"):
            letter = _dead_letter_decoder.decode(data)
            v.dead_letters += 1
            pid = letter.headers.get(MSG_ID, "")
            if letter.stage == "ingest" and pid in published:
                dead[pid] += 1
            else:
                v.other_dead_letters[f"{letter.stage}:{letter.reason}"] += 1
    for pid in sorted(published):
        revs, letters = revisions.get(pid, Counter()), dead.get(pid, 0)
        extra = sum(n - 1 for n in revs.values()) + max(letters - 1, 0)
        extra += 1 if revs and letters else 0
        missing = 0 if letters else (max(revs, default=0) - len(revs) if revs else 1)
        if extra:
            v.duplicated += extra
            v.duplicated_ids.append(pid)
        if missing:
            v.lost += missing
            v.lost_ids.append(pid)
        if len(revs) > 1:
            v.revised += 1
        if revs and last_partial.get(pid, (0, False))[1]:
            v.partial_only += 1
    return v
