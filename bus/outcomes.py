"""What a handler gets and what it may answer: plain values, no client, no tracing.

Pure code (parsers, task logic, checks) raises :class:`Reject` for bad input without pulling in
the transport: this module imports nothing but the wire schemas. ``bus.worker`` turns these
answers into acknowledgements, redeliveries and dead letters.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import msgspec

from schemas.v1 import DeadLetterReason, Label, readable

_T = TypeVar("_T")
_T_co = TypeVar("_T_co", covariant=True)


@dataclass(frozen=True)
class Delivery:
    """One delivered message, as plain values (handlers never see the client's objects)."""

    subject: str
    data: bytes
    headers: dict[str, str]
    stream: str
    stream_seq: int
    num_delivered: int
    consumer: str
    label: Label


@dataclass(frozen=True)
class Ack:
    """Done: acknowledge."""


@dataclass(frozen=True)
class Defer:
    """Not done, not failed: hand the message back to be delivered again after ``delay``."""

    delay: float


Outcome = Ack | Defer


@dataclass
class Reject(Exception):
    """Bad input: dead-letter it with this reason; retrying would not help."""

    reason: DeadLetterReason
    message: str
    fields: dict[str, str] = field(default_factory=dict)
    report_id: str | None = None
    recoverable: bool = False

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


@dataclass
class Retry(Exception):
    """A transient failure (a full stream, a timeout): try again later."""

    message: str
    recoverable: bool = True

    def __str__(self) -> str:
        return self.message


Handler = Callable[[Delivery], Awaitable[Outcome]]
#: How many deliveries a message may use before a failure dead-letters it. A service whose
#: handler defers messages (each deferral is a delivery) allows for them here.
DeliveryBudget = Callable[[Delivery, int], int]


def fixed_budget(_delivery: Delivery, max_deliveries: int) -> int:
    return max_deliveries


class _Decoder(Protocol[_T_co]):
    def decode(self, data: bytes | str) -> _T_co: ...


def decode_or_reject(decoder: _Decoder[_T], data: bytes | str, what: str) -> _T:
    """``data`` decoded as ``what`` (e.g. "an IngestedReport"), else a :class:`Reject` saying why:
    not JSON, not that type, or a ``schema_version`` of a major this reader does not know."""
    try:
        value = decoder.decode(data)
    except msgspec.ValidationError as exc:
        raise Reject("schema_violation", f"not {what}: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise Reject("invalid_json", f"not JSON: {exc}") from exc
    version = getattr(value, "schema_version", None)
    if isinstance(version, str) and not readable(version):
        raise Reject("unsupported_version", f"schema_version {version} unreadable")
    return value
