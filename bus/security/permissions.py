"""Who may publish and subscribe to what, GENERATED from the topology (no hand-kept lists).

Pure: no I/O. Every allow list below is built from ``bus.topology`` — its streams, its durable
consumers and its subject builders — so a change to the topology changes the permissions with it.
Anything not allowed is denied by the server (a user with allow lists may touch nothing else).

Identities:

- a **service** (``ingest``, each task of the topology, ``inference``, ``collate``: the
  topology's ``stages``), for every label or for one label (``ingest-s``): pull from ITS consumers
  (``$JS.API.CONSUMER.MSG.NEXT.<stream>.<durable>``, their info, both ack subject forms of
  nats-server 2.15), publish its outputs and dead letters, use its key-value buckets, and
  receive replies on its own inbox prefix ``_INBOX_<identity>``;
- ``provisioner``: creates and updates the topology's streams and consumers, purges them, shows
  their state (``vigie ops provision``, ``vigie purge``, ``vigie status``);
- ``analyst-<label>``: reads the enriched, feedback, dead-letter and audit streams of every
  label up to its clearance (consumer create/next/ack, message get), publishes corrections
  (``feedback.<label>.*.*``) and records in the audit stream what it viewed and corrected
  at its own label only — no write-down: an ``s`` analyst cannot write into ``feedback.dr``
  or ``audit.dr``, whose readers are not cleared for what an ``s`` analyst knows —, asks
  the services for their health (``$SRV.STATS``: figures, no report data); nothing else;
- ``publisher-<label>``: publishes feeds of that label only.

Reading a stream needs no subscription (stream message get, direct get and consumer create all
reach stored messages), so every JetStream API grant names one stream of one label.
"""

from __future__ import annotations

from dataclasses import dataclass

from bus.topology import (
    KINDS,
    ConsumerSpec,
    Topology,
    audit_subject,
    collate_subject,
    dlq_subject,
    enriched_subject,
    feed_subject,
    infer_subject,
    inferred_subject,
    kv_bucket,
    result_subject,
    stream_name,
    work_subject,
)
from schemas.v1 import LABEL_ORDER, LABELS

PROVISIONER = "provisioner"
API = "$JS.API"
#: Any precedence (and, in ``work_subject``, any token): subject builders accept a wildcard.
ANY = "*"


@dataclass(frozen=True)
class Permissions:
    """The allow lists of one identity; the server denies everything else."""

    identity: str
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    #: Lets the identity answer requests it received (the NATS service API's ping/info/stats).
    allow_responses: bool = False


@dataclass
class UnknownIdentity(ValueError):
    """An identity name no rule here covers; not recoverable without renaming it."""

    identity: str
    services: tuple[str, ...] = ()
    recoverable: bool = False

    def __str__(self) -> str:
        return (
            f"unknown identity {self.identity!r}: use a service ({', '.join(self.services)}), "
            f"a service-<label>, {PROVISIONER}, analyst-<label> or publisher-<label> "
            f"(labels: {', '.join(LABELS)})"
        )


def inbox_prefix(identity: str) -> str:
    """The inbox prefix of an identity (nats-py ``inbox_prefix``): replies reach only it."""
    return f"_INBOX_{identity}"


def ack_subjects(stream: str, consumer: str) -> tuple[str, ...]:
    """Both ack subject forms: ``$JS.ACK.<stream>.<consumer>.>`` and the one nats-server 2.15
    uses by default, ``$JS.ACK.<domain>.<account hash>.<stream>.<consumer>.>``."""
    return (f"$JS.ACK.{stream}.{consumer}.>", f"$JS.ACK.*.*.{stream}.{consumer}.>")


def consumer_grants(spec: ConsumerSpec) -> tuple[str, ...]:
    """What pulling from one durable consumer needs: next, info, ack/nak/term/in-progress."""
    return (
        f"{API}.CONSUMER.MSG.NEXT.{spec.stream}.{spec.durable}",
        f"{API}.CONSUMER.INFO.{spec.stream}.{spec.durable}",
        *ack_subjects(spec.stream, spec.durable),
    )


def kv_grants(bucket: str) -> tuple[str, ...]:
    """Get, create, update of one key-value bucket (and the stream info that opens it)."""
    stream = f"KV_{bucket}"
    return (
        f"$KV.{bucket}.>",
        f"{API}.STREAM.INFO.{stream}",
        f"{API}.DIRECT.GET.{stream}",
        f"{API}.DIRECT.GET.{stream}.>",
        f"{API}.STREAM.MSG.GET.{stream}",
    )


def service_consumers(
    topology: Topology, service: str, labels: tuple[str, ...]
) -> list[ConsumerSpec]:
    """The durable consumers ``service`` pulls from (as ``services.runtime`` wires them)."""
    if service in topology.tasks:
        return topology.consumers_for(f"inferred-{service}", labels) + topology.consumers_for(
            service, labels
        )
    if service == "collate":
        return topology.consumers_for("collate", labels) + topology.consumers_for("result", labels)
    if service in ("ingest", "inference"):
        return topology.consumers_for(service, labels)
    raise UnknownIdentity(service, topology.stages)


def service_outputs(topology: Topology, service: str, labels: tuple[str, ...]) -> list[str]:
    """The subjects ``service`` publishes to: its products and its dead letters."""
    out: list[str] = []
    for label in labels:
        if service == "ingest":
            out += [work_subject(label, task, ANY) for task in topology.tasks]
            out.append(collate_subject(label, ANY))
        elif service in topology.tasks:
            out += [infer_subject(label, ANY), result_subject(label, ANY)]
        elif service == "inference":
            out += [inferred_subject(label, client, ANY) for client in topology.tasks]
        elif service == "collate":
            out += [enriched_subject(label, kind, ANY) for kind in KINDS]
        else:
            raise UnknownIdentity(service, topology.stages)
        out.append(dlq_subject(service, label))
    return out


def service_buckets(service: str, labels: tuple[str, ...]) -> list[str]:
    if service in ("ingest", "collate"):
        return [kv_bucket(service, label) for label in labels]  # type: ignore[arg-type]
    return []


def service_streams(topology: Topology, service: str, labels: tuple[str, ...]) -> list[str]:
    """Every stream the service reads or writes (it checks them at start: stream info only)."""
    names = {c.stream for c in service_consumers(topology, service, labels)}
    names |= {f"KV_{b}" for b in service_buckets(service, labels)}
    outputs = service_outputs(topology, service, labels)
    for spec in topology.streams:
        if spec.label in labels and any(_captures(spec.subjects, s) for s in outputs):
            names.add(spec.name)
    return sorted(names)


def service_topology(topology: Topology, service: str, labels: tuple[str, ...]) -> Topology:
    """The part of the topology a service touches: what it verifies at start."""
    streams = set(service_streams(topology, service, labels))
    return Topology(
        streams=tuple(s for s in topology.streams if s.name in streams),
        consumers=tuple(service_consumers(topology, service, labels)),
        settings=topology.settings,
    )


def _captures(stream_subjects: tuple[str, ...], subject: str) -> bool:
    return any(subject_matches(pattern, subject) for pattern in stream_subjects)


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS wildcard match; ``subject`` may hold wildcards too (then: pattern covers it)."""
    p, s = pattern.split("."), subject.split(".")
    for i, token in enumerate(p):
        if token == ">":
            return len(s) > i
        if i >= len(s) or (token != "*" and token != s[i]):
            return False
    return len(p) == len(s)


def service_permissions(
    topology: Topology, service: str, labels: tuple[str, ...], identity: str | None = None
) -> Permissions:
    identity = identity or service
    publish: list[str] = []
    for spec in service_consumers(topology, service, labels):
        publish += consumer_grants(spec)
    publish += service_outputs(topology, service, labels)
    for bucket in service_buckets(service, labels):
        publish += kv_grants(bucket)
    publish += [f"{API}.STREAM.INFO.{s}" for s in service_streams(topology, service, labels)]
    subscribe = [f"{inbox_prefix(identity)}.>", *_service_api(identity)]
    return Permissions(identity, _unique(publish), _unique(subscribe), allow_responses=True)


def _service_api(identity: str) -> list[str]:
    # The NATS service API (nats-py micro): ping/info/stats requests carry no report data; the
    # answers go to the asker's reply subject (allow_responses).
    return ["$SRV.>"]


def provisioner_permissions(topology: Topology) -> Permissions:
    """Create, update, inspect and purge the topology's streams and consumers — no others."""
    publish = [f"{API}.INFO", f"{API}.STREAM.NAMES", f"{API}.STREAM.LIST"]
    for spec in topology.streams:
        s = spec.name
        publish += [
            f"{API}.STREAM.CREATE.{s}",
            f"{API}.STREAM.UPDATE.{s}",
            f"{API}.STREAM.INFO.{s}",
            f"{API}.STREAM.PURGE.{s}",
            # `vigie purge --before T` finds the first message at or after T by its time.
            f"{API}.STREAM.MSG.GET.{s}",
            f"{API}.CONSUMER.CREATE.{s}.>",
            f"{API}.CONSUMER.DURABLE.CREATE.{s}.*",
            f"{API}.CONSUMER.INFO.{s}.*",
            f"{API}.CONSUMER.NAMES.{s}",
            f"{API}.CONSUMER.LIST.{s}",
        ]
    return Permissions(PROVISIONER, _unique(publish), (f"{inbox_prefix(PROVISIONER)}.>",))


def cleared(level: str) -> tuple[str, ...]:
    """Every label an identity cleared for ``level`` may read (``dr`` → np, dr)."""
    if level not in LABEL_ORDER:
        raise UnknownIdentity(f"analyst-{level}")
    return tuple(lb for lb in LABELS if LABEL_ORDER[lb] <= LABEL_ORDER[level])


#: The streams an analyst reads, for each label it is cleared for (the console shows them all).
ANALYST_READ_ROLES: tuple[str, ...] = ("enriched", "feedback", "dlq", "audit")
#: The role of the streams holding analysts' corrections, when the topology declares them.
FEEDBACK_ROLE = "feedback"


def analyst_permissions(topology: Topology, level: str) -> Permissions:
    """What an analyst (and the console running with its credentials) may do, up to ``level``."""
    identity = f"analyst-{level}"
    publish: list[str] = []
    subscribe = [f"{inbox_prefix(identity)}.>"]
    if level in topology.settings.labels:
        # Written at its own level only: a record or a correction by an ``s`` analyst may hold
        # what only ``s`` readers may know, so it never goes into a lower label's stream.
        publish.append(audit_subject(level, ANY))
        publish += [
            subject
            for spec in topology.streams
            if spec.role == FEEDBACK_ROLE and spec.label == level
            for subject in spec.subjects
        ]
    for label in cleared(level):
        if label not in topology.settings.labels:
            continue
        for role in ANALYST_READ_ROLES:
            if any(spec.name == stream_name(role, label) for spec in topology.streams):
                publish += stream_read_grants(stream_name(role, label))
        # Core subscription on the enriched stream's own subjects (`vigie tail`).
        subscribe += topology.stream(stream_name("enriched", label)).subjects
    # Health figures of the services (the NATS service API; answers come to the inbox).
    publish += [f"$SRV.STATS.vigie-{stage}" for stage in topology.stages]
    return Permissions(identity, _unique(publish), _unique(subscribe))


def stream_read_grants(s: str) -> list[str]:
    """Reading one stream: its info, ephemeral and durable consumers on it, message get."""
    return [
        f"{API}.STREAM.INFO.{s}",
        f"{API}.CONSUMER.CREATE.{s}",
        f"{API}.CONSUMER.CREATE.{s}.>",
        f"{API}.CONSUMER.DURABLE.CREATE.{s}.*",
        f"{API}.CONSUMER.INFO.{s}.*",
        f"{API}.CONSUMER.DELETE.{s}.*",
        f"{API}.CONSUMER.MSG.NEXT.{s}.*",
        f"{API}.STREAM.MSG.GET.{s}",
        f"{API}.DIRECT.GET.{s}",
        f"{API}.DIRECT.GET.{s}.>",
        f"$JS.ACK.{s}.>",
        f"$JS.ACK.*.*.{s}.>",
        # Flow control replies of push (ordered) consumers.
        f"$JS.FC.{s}.>",
    ]


def publisher_permissions(label: str) -> Permissions:
    """JetStream publish of feeds of one label; the PubAck comes back on its inbox."""
    identity = f"publisher-{label}"
    if label not in LABELS:
        raise UnknownIdentity(identity)
    publish = tuple(feed_subject(label, kind, ANY) for kind in KINDS)
    return Permissions(identity, publish, (f"{inbox_prefix(identity)}.>",))


def permissions_for(topology: Topology, identity: str) -> Permissions:
    """The permissions of a named identity (see the module docstring for the names)."""
    labels = topology.settings.labels
    if identity == PROVISIONER:
        return provisioner_permissions(topology)
    if identity in topology.stages:
        return service_permissions(topology, identity, labels)
    head, _, label = identity.rpartition("-")
    if label in LABELS:
        if head == "analyst":
            return analyst_permissions(topology, label)
        if head == "publisher":
            return publisher_permissions(label)
        if head in topology.stages:
            return service_permissions(topology, head, (label,), identity)
    raise UnknownIdentity(identity, topology.stages)


def identities(topology: Topology, *, per_label: bool = False) -> list[str]:
    """Every identity of the topology's deployment (services per label when ``per_label``)."""
    labels = topology.settings.labels
    names = [PROVISIONER]
    if per_label:
        names += [f"{service}-{label}" for service in topology.stages for label in labels]
    else:
        names += list(topology.stages)
    names += [f"analyst-{label}" for label in labels]
    names += [f"publisher-{label}" for label in labels]
    return names


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))
