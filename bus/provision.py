"""Create or update every stream and consumer of the topology so the server matches it."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext, api
from nats.js.errors import APIError, NotFoundError

from bus.topology import ConsumerSpec, StreamSpec, Topology

log = logging.getLogger("vigie.provision")


def stream_config(spec: StreamSpec) -> api.StreamConfig:
    cfg = api.StreamConfig(
        name=spec.name,
        description=spec.description or None,
        subjects=list(spec.subjects),
        retention=(
            api.RetentionPolicy.WORK_QUEUE
            if spec.retention == "workqueue"
            else api.RetentionPolicy.LIMITS
        ),
        # Publishers are refused when a stream is full rather than old data being dropped.
        discard=api.DiscardPolicy.NEW,
        max_age=spec.max_age,
        max_bytes=spec.max_bytes,
        max_msg_size=spec.max_msg_size,
        max_msgs_per_subject=spec.max_msgs_per_subject,
        storage=api.StorageType.FILE,
        max_msgs=spec.max_msgs,
        num_replicas=spec.replicas,
        duplicate_window=min(spec.duplicate_window, spec.max_age),
    )
    if spec.kv:
        cfg.allow_rollup_hdrs = True
        cfg.deny_delete = True
        cfg.allow_direct = True
        cfg.max_consumers = -1
        cfg.max_msgs = -1
    return cfg


def consumer_config(spec: ConsumerSpec) -> api.ConsumerConfig:
    return api.ConsumerConfig(
        durable_name=spec.durable,
        description=spec.description or None,
        filter_subject=spec.filter_subject,
        ack_policy=api.AckPolicy.EXPLICIT,
        deliver_policy=api.DeliverPolicy.ALL,
        ack_wait=spec.ack_wait,
        # Deliveries are counted by the worker, which dead-letters after its own maximum; a
        # server-side limit would strand a message in the stream with nobody to answer for it.
        max_deliver=-1,
        max_ack_pending=spec.max_ack_pending,
        max_waiting=512,
    )


@dataclass
class ProvisionError(Exception):
    """The server refused to create or update part of the topology."""

    what: str
    detail: str
    recoverable: bool = False

    def __str__(self) -> str:
        return (
            f"cannot provision {self.what}: {self.detail} — some settings (retention, storage) "
            "cannot change in place: remove that stream or consumer, or restore its settings"
        )


@dataclass(frozen=True)
class ProvisionReport:
    created: list[str]
    updated: list[str]
    unchanged: list[str]


async def provision(js: JetStreamContext, topology: Topology) -> ProvisionReport:
    """Idempotent: run it at every start; it creates what is missing and updates what drifted."""
    done: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": []}
    for spec in topology.streams:
        try:
            done[await _ensure_stream(js, spec)].append(f"stream {spec.name}")
        except APIError as exc:
            raise ProvisionError(f"stream {spec.name}", _describe(exc)) from exc
    for cspec in topology.consumers:
        what = f"consumer {cspec.stream}/{cspec.durable}"
        try:
            done[await _ensure_consumer(js, cspec)].append(what)
        except APIError as exc:
            raise ProvisionError(what, _describe(exc)) from exc
    if done["created"] or done["updated"]:
        log.info("provisioned: %d created, %d updated", len(done["created"]), len(done["updated"]))
    return ProvisionReport(**done)


async def _ensure_stream(js: JetStreamContext, spec: StreamSpec) -> str:
    want = stream_config(spec)
    try:
        info = await js.stream_info(spec.name)
    except NotFoundError:
        await js.add_stream(want)
        return "created"
    if _stream_differs(info.config, want):
        await js.update_stream(want)
        return "updated"
    return "unchanged"


async def _ensure_consumer(js: JetStreamContext, spec: ConsumerSpec) -> str:
    want = consumer_config(spec)
    try:
        info = await js.consumer_info(spec.stream, spec.durable)
    except NotFoundError:
        await js.add_consumer(spec.stream, want)
        return "created"
    if _consumer_differs(info.config, want):
        await js.add_consumer(spec.stream, want)  # same durable name: an update
        return "updated"
    return "unchanged"


def _describe(exc: APIError) -> str:
    return str(getattr(exc, "description", None) or exc)


_STREAM_FIELDS = (
    "subjects",
    "retention",
    "discard",
    "max_age",
    "max_bytes",
    "max_msgs",
    "max_msg_size",
    "max_msgs_per_subject",
    "duplicate_window",
    "description",
    "num_replicas",
)
_CONSUMER_FIELDS = ("filter_subject", "ack_wait", "max_ack_pending", "max_deliver", "description")


def _stream_differs(have: api.StreamConfig, want: api.StreamConfig) -> bool:
    return any(_norm(getattr(have, f)) != _norm(getattr(want, f)) for f in _STREAM_FIELDS)


def _consumer_differs(have: api.ConsumerConfig, want: api.ConsumerConfig) -> bool:
    return any(_norm(getattr(have, f)) != _norm(getattr(want, f)) for f in _CONSUMER_FIELDS)


def _norm(value: object) -> object:
    # The server reports durations in ns and echoes floats back slightly rounded.
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, list):
        return sorted(value)
    return value


@dataclass
class NotProvisioned(ProvisionError):
    """An identity that may not create streams found the topology missing or different."""

    recoverable: bool = True

    def __str__(self) -> str:
        return (
            f"{self.what} not as declared: {self.detail} — provision it with the provisioner "
            "identity (`vigie ops provision`) using the same configuration"
        )


async def verify(js: JetStreamContext, topology: Topology) -> None:
    """Check, with stream and consumer info only, that the server holds ``topology`` as declared
    (a least-privilege service's start: it may not create anything)."""
    problems: list[str] = []
    for spec in topology.streams:
        try:
            info = await js.stream_info(spec.name)
        except NotFoundError:
            problems.append(f"stream {spec.name} missing")
            continue
        except (APIError, TimeoutError, NatsTimeout) as exc:
            problems.append(f"stream {spec.name}: {type(exc).__name__} (not permitted?)")
            continue
        if _stream_differs(info.config, stream_config(spec)):
            problems.append(f"stream {spec.name} differs")
    for cspec in topology.consumers:
        what = f"consumer {cspec.stream}/{cspec.durable}"
        try:
            cinfo = await js.consumer_info(cspec.stream, cspec.durable)
        except NotFoundError:
            problems.append(f"{what} missing")
            continue
        except (APIError, TimeoutError, NatsTimeout) as exc:
            problems.append(f"{what}: {type(exc).__name__} (not permitted?)")
            continue
        if _consumer_differs(cinfo.config, consumer_config(cspec)):
            problems.append(f"{what} differs")
    if problems:
        more = f" and {len(problems) - 3} more" if len(problems) > 3 else ""
        raise NotProvisioned("topology", "; ".join(problems[:3]) + more)
