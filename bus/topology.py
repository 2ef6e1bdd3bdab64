"""The one declaration of Vigie's streams, subjects, key-value buckets and consumers.

Everything that names a subject, a stream or a consumer derives it from here: the provisioner,
the services, the CLI, the generated AsyncAPI document and (later) the per-service permissions.

Every stream holds ONE protection label, so that an identity can be granted exactly the streams of
its clearance: no stream exists in which a ``dr`` reader could fetch an ``s`` message by sequence.

Subjects (``<label>`` ∈ np, dr, s, ts; ``<prec>`` ∈ flash, immediate, priority, routine):

==========================================  ==================  =================================
subject                                      stream              written by → read by
==========================================  ==================  =================================
``feeds.<label>.<kind>.<source>``            FEEDS_<LABEL>       publishers → ingest
``work.<label>.<task>.<prec>``               WORK_<LABEL>        ingest → task service
``work.<label>.collate.<prec>``              WORK_<LABEL>        ingest → collate (report + tasks)
``work.<label>.result.<prec>``               WORK_<LABEL>        task services → collate
``work.<label>.infer.<prec>``                WORK_<LABEL>        task services → inference
``work.<label>.inferred.<client>.<prec>``    WORK_<LABEL>        inference → the requesting client
``enriched.<label>.<kind>.<source>``         ENRICHED_<LABEL>    collate → analysts, downstream
``dlq.<stage>.<label>``                      DLQ_<LABEL>         any stage → operators, analysts
``feedback.<label>.<kind>.<source>``         FEEDBACK_<LABEL>    analysts → ``vigie dataset``
``audit.<label>.<action>``                   AUDIT_<LABEL>       the analyst console → audit readers
``$KV.ingest_<label>.<id>``                  KV_ingest_<label>   ingest's dedupe horizon
``$KV.collate_<label>.<id>``                 KV_collate_<label>  collate's per-report state
==========================================  ==================  =================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Literal, get_args

from schemas.v1 import LABELS as LABELS
from schemas.v1 import PRECEDENCES as PRECEDENCES
from schemas.v1 import Kind

#: Precedences that get reserved capacity and pause routine work (workers' slots, the engine).
URGENT: tuple[str, ...] = PRECEDENCES[:2]

KINDS: tuple[str, ...] = get_args(Kind)

SOURCE_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

Retention = Literal["limits", "workqueue"]
Role = Literal["feeds", "work", "enriched", "dlq", "feedback", "audit", "kv"]
#: What the analyst console records on ``audit.<label>.<action>`` (who viewed, who corrected).
AUDIT_ACTIONS: tuple[str, ...] = ("viewed", "corrected")

SECOND = 1.0
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
MiB = 1024 * 1024

#: Largest payload the server accepts. Feeds are capped lower so that a dead letter carrying
#: a refused input (base64, 4/3 of its size, plus headers) always fits.
SERVER_MAX_PAYLOAD = 8 * MiB
FEED_MAX_MSG_SIZE = 5 * MiB
#: The same bound on internal work: whatever a work stream holds can be dead-lettered whole (a
#: larger message there could never be, and would be retried forever).
WORK_MAX_MSG_SIZE = FEED_MAX_MSG_SIZE


def prec_token(precedence: str) -> str:
    """Subject token of a precedence: ``FLASH`` → ``flash``."""
    return precedence.lower()


def feed_subject(label: str, kind: str, source: str) -> str:
    return f"feeds.{label}.{kind}.{source}"


def work_subject(label: str, task: str, precedence: str) -> str:
    return f"work.{label}.{task}.{prec_token(precedence)}"


def collate_subject(label: str, precedence: str) -> str:
    return f"work.{label}.collate.{prec_token(precedence)}"


def result_subject(label: str, precedence: str) -> str:
    return f"work.{label}.result.{prec_token(precedence)}"


def infer_subject(label: str, precedence: str) -> str:
    return f"work.{label}.infer.{prec_token(precedence)}"


def inferred_subject(label: str, client: str, precedence: str) -> str:
    return f"work.{label}.inferred.{client}.{prec_token(precedence)}"


def enriched_subject(label: str, kind: str, source: str) -> str:
    return f"enriched.{label}.{kind}.{source}"


def dlq_subject(stage: str, label: str) -> str:
    return f"dlq.{stage}.{label}"


def feedback_subject(label: str, kind: str, source: str) -> str:
    """Where an analyst's correction of an event of ``enriched.<label>.<kind>.<source>`` goes."""
    return f"feedback.{label}.{kind}.{source}"


def audit_subject(label: str, action: str) -> str:
    return f"audit.{label}.{action}"


@dataclass(frozen=True)
class FeedSubject:
    label: str
    kind: str
    source: str


def parse_feed_subject(subject: str) -> FeedSubject | None:
    """Split ``feeds.<label>.<kind>.<source>``; None when it does not follow the contract."""
    parts = subject.split(".")
    if len(parts) != 4 or parts[0] != "feeds":
        return None
    _, label, kind, source = parts
    if label not in LABELS or kind not in KINDS or not SOURCE_RE.match(source):
        return None
    return FeedSubject(label, kind, source)


def stream_name(role: str, label: str) -> str:
    return f"{role.upper()}_{label.upper()}"


def kv_bucket(purpose: Literal["ingest", "collate"], label: str) -> str:
    return f"{purpose}_{label}"


@dataclass(frozen=True)
class StreamSpec:
    name: str
    role: Role
    label: str
    subjects: tuple[str, ...]
    retention: Retention
    max_age: float
    duplicate_window: float = 2 * MINUTE
    max_bytes: int = -1
    max_msg_size: int = -1
    max_msgs_per_subject: int = -1
    max_msgs: int = -1
    #: Copies of the stream on a cluster (1 on a single server; 3 on a 3-node cluster).
    replicas: int = 1
    description: str = ""
    #: Key-value bucket conventions (rollups, direct get) — see nats-py's KV.
    kv: bool = False


@dataclass(frozen=True)
class ConsumerSpec:
    stream: str
    durable: str
    filter_subject: str
    ack_wait: float
    max_ack_pending: int
    description: str = ""


@dataclass(frozen=True)
class TopologySettings:
    """The tunable parts of the topology (from configuration)."""

    feed_duplicate_window: float = 2 * MINUTE
    enriched_duplicate_window: float = 1 * HOUR
    ingest_dedupe_horizon: float = 24 * HOUR
    collate_state_max_age: float = 30 * DAY
    feed_max_age: float = 7 * DAY
    enriched_max_age: float = 30 * DAY
    dlq_max_age: float = 90 * DAY
    #: Analysts' corrections are training data: kept as long as the dead letters by default.
    feedback_max_age: float = 90 * DAY
    audit_max_age: float = 365 * DAY
    stream_max_bytes: int = 1024 * MiB
    #: Message cap of the feeds, work, enriched and dead-letter streams (with ``discard: new``,
    #: a full stream refuses publishers instead of dropping data).
    stream_max_msgs: int = 1_000_000
    stream_replicas: int = 1
    ack_wait: float = 10 * SECOND
    max_ack_pending: int = 1000
    #: Collate parks each report's record until its deadline (nak with delay), so it needs room.
    collate_max_ack_pending: int = 100_000
    labels: tuple[str, ...] = LABELS
    #: (label, seconds): no stream of that label keeps a message longer (retention per label).
    label_max_age: tuple[tuple[str, float], ...] = ()
    #: The task services (the task registry's names; the bus knows no task of its own). Each
    #: gets its work consumers and is a client of the engine with its own answer consumers.
    tasks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Topology:
    streams: tuple[StreamSpec, ...]
    consumers: tuple[ConsumerSpec, ...]
    settings: TopologySettings = field(default_factory=TopologySettings)

    @property
    def tasks(self) -> tuple[str, ...]:
        return self.settings.tasks

    @property
    def stages(self) -> tuple[str, ...]:
        """Every service, in data-path order: each connects as its own identity."""
        return ("ingest", *self.settings.tasks, "inference", "collate")

    def stream(self, name: str) -> StreamSpec:
        for spec in self.streams:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def consumers_for(
        self, service: str, labels: tuple[str, ...] | None = None
    ) -> list[ConsumerSpec]:
        """The durable consumers a service pulls from, most urgent precedence first."""
        wanted = labels or self.settings.labels
        prefix = f"{service}-"
        return [
            c
            for c in self.consumers
            if c.durable.startswith(prefix) and _label_of_stream(c.stream) in wanted
        ]


def _label_of_stream(name: str) -> str:
    return name.rsplit("_", 1)[1].lower()


def consumer_precedence(consumer: ConsumerSpec) -> str:
    """The precedence a consumer serves (``ingest`` consumers serve all: ROUTINE rank)."""
    token = consumer.filter_subject.rsplit(".", 1)[1].upper()
    return token if token in PRECEDENCES else "ROUTINE"


def inferred_consumers(client: str, settings: TopologySettings | None = None) -> list[ConsumerSpec]:
    """The consumers of ``client``'s engine answers (``inferred-<client>-<label>-<prec>``),
    most urgent first — declared for the task services, built on demand by other clients."""
    s = settings or TopologySettings()
    return [
        ConsumerSpec(
            stream=stream_name("work", label),
            durable=f"inferred-{client}-{label}-{prec_token(precedence)}",
            filter_subject=inferred_subject(label, client, precedence),
            ack_wait=s.ack_wait,
            max_ack_pending=s.max_ack_pending,
            description=f"engine answers for {client}",
        )
        for label in s.labels
        for precedence in PRECEDENCES
    ]


def build_topology(settings: TopologySettings | None = None) -> Topology:
    s = settings or TopologySettings()
    streams: list[StreamSpec] = []
    consumers: list[ConsumerSpec] = []
    for label in s.labels:
        feeds = stream_name("feeds", label)
        work = stream_name("work", label)
        streams += [
            StreamSpec(
                name=feeds,
                role="feeds",
                label=label,
                subjects=tuple(f"feeds.{label}.{kind}.*" for kind in KINDS),
                retention="limits",
                max_age=s.feed_max_age,
                duplicate_window=s.feed_duplicate_window,
                max_bytes=s.stream_max_bytes,
                max_msgs=s.stream_max_msgs,
                replicas=s.stream_replicas,
                max_msg_size=FEED_MAX_MSG_SIZE,
                description=f"raw feeds, label {label}",
            ),
            StreamSpec(
                name=work,
                role="work",
                label=label,
                subjects=(f"work.{label}.>",),
                retention="workqueue",
                max_age=s.feed_max_age,
                max_bytes=s.stream_max_bytes,
                max_msg_size=WORK_MAX_MSG_SIZE,
                max_msgs=s.stream_max_msgs,
                replicas=s.stream_replicas,
                description=f"internal work and task results, label {label}",
            ),
            StreamSpec(
                name=stream_name("enriched", label),
                role="enriched",
                label=label,
                subjects=(f"enriched.{label}.>",),
                retention="limits",
                max_age=s.enriched_max_age,
                duplicate_window=s.enriched_duplicate_window,
                max_bytes=s.stream_max_bytes,
                max_msgs=s.stream_max_msgs,
                replicas=s.stream_replicas,
                description=f"enriched events, label {label}",
            ),
            StreamSpec(
                name=stream_name("dlq", label),
                role="dlq",
                label=label,
                subjects=(f"dlq.*.{label}",),
                retention="limits",
                max_age=s.dlq_max_age,
                max_bytes=s.stream_max_bytes,
                max_msgs=s.stream_max_msgs,
                replicas=s.stream_replicas,
                description=f"dead letters, label {label}",
            ),
            StreamSpec(
                name=stream_name("feedback", label),
                role="feedback",
                label=label,
                subjects=tuple(f"feedback.{label}.{kind}.*" for kind in KINDS),
                retention="limits",
                max_age=s.feedback_max_age,
                duplicate_window=s.enriched_duplicate_window,
                max_bytes=s.stream_max_bytes,
                max_msgs=s.stream_max_msgs,
                max_msg_size=FEED_MAX_MSG_SIZE,
                replicas=s.stream_replicas,
                description=f"analysts' corrections, label {label}",
            ),
            StreamSpec(
                name=stream_name("audit", label),
                role="audit",
                label=label,
                subjects=(audit_subject(label, "*"),),
                retention="limits",
                max_age=s.audit_max_age,
                max_bytes=s.stream_max_bytes,
                max_msgs=s.stream_max_msgs,
                replicas=s.stream_replicas,
                description=f"who viewed and who corrected which report, label {label}",
            ),
        ]
        for purpose, age in (
            ("ingest", s.ingest_dedupe_horizon),
            ("collate", s.collate_state_max_age),
        ):
            bucket = kv_bucket(purpose, label)  # type: ignore[arg-type]
            streams.append(
                StreamSpec(
                    name=f"KV_{bucket}",
                    role="kv",
                    label=label,
                    subjects=(f"$KV.{bucket}.>",),
                    retention="limits",
                    max_age=age,
                    max_bytes=s.stream_max_bytes,
                    replicas=s.stream_replicas,
                    max_msgs_per_subject=1,
                    description=f"{purpose} state, label {label}",
                    kv=True,
                )
            )
        consumers.append(
            ConsumerSpec(
                stream=feeds,
                durable=f"ingest-{label}",
                filter_subject=f"feeds.{label}.>",
                ack_wait=s.ack_wait,
                max_ack_pending=s.max_ack_pending,
                description="ingest reads every raw feed of the label",
            )
        )
        for precedence in PRECEDENCES:
            p = prec_token(precedence)
            for task in s.tasks:
                consumers.append(
                    ConsumerSpec(
                        stream=work,
                        durable=f"{task}-{label}-{p}",
                        filter_subject=work_subject(label, task, precedence),
                        ack_wait=s.ack_wait,
                        max_ack_pending=s.max_ack_pending,
                    )
                )
            consumers.append(
                ConsumerSpec(
                    stream=work,
                    durable=f"inference-{label}-{p}",
                    filter_subject=infer_subject(label, precedence),
                    ack_wait=s.ack_wait,
                    max_ack_pending=s.max_ack_pending,
                    description="generation requests for the engine",
                )
            )
            consumers.append(
                ConsumerSpec(
                    stream=work,
                    durable=f"collate-{label}-{p}",
                    filter_subject=collate_subject(label, precedence),
                    ack_wait=s.ack_wait,
                    max_ack_pending=s.collate_max_ack_pending,
                    description="ingested reports, parked until complete or past deadline",
                )
            )
            consumers.append(
                ConsumerSpec(
                    stream=work,
                    durable=f"result-{label}-{p}",
                    filter_subject=result_subject(label, precedence),
                    ack_wait=s.ack_wait,
                    max_ack_pending=s.max_ack_pending,
                    description="task results for collate",
                )
            )
    for client in s.tasks:
        consumers += inferred_consumers(client, s)
    caps = dict(s.label_max_age)
    streams = [
        replace(spec, max_age=min(spec.max_age, caps[spec.label])) if spec.label in caps else spec
        for spec in streams
    ]
    return Topology(streams=tuple(streams), consumers=tuple(consumers), settings=s)
