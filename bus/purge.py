"""Removing data that must not outlive its need: purge a stream's messages older than T.

Method: ``$JS.API.STREAM.MSG.GET.<stream>`` with ``{"start_time": T}`` returns the first message
stored at or after T (its sequence S; the answer's own time is checked, as past the last
message the server answers with the last one); ``$JS.API.STREAM.PURGE.<stream>`` with ``{"seq": S}``
then removes every message below S. When no message is that recent, the whole stream is
purged. Stream timestamps are the server's clock at store time: they rise with the sequence
unless that clock is set back.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass

from nats.aio.client import Client

API = "$JS.API"
#: JetStream's error code for "no message found".
_NO_MESSAGE = 10037


@dataclass
class PurgeError(Exception):
    """The server refused or did not answer; retrying may help when ``recoverable``."""

    stream: str
    detail: str
    recoverable: bool = True

    def __str__(self) -> str:
        return (
            f"cannot purge {self.stream}: {self.detail} — purge needs the provisioner identity "
            "(stream info, message get, purge) and a reachable server"
        )


@dataclass(frozen=True)
class Purged:
    stream: str
    #: Messages removed (0 when nothing was older than T).
    removed: int
    #: First sequence kept; None when the stream was emptied.
    first_kept: int | None


async def _request(nc: Client, stream: str, subject: str, body: object) -> dict[str, object]:
    try:
        msg = await nc.request(subject, json.dumps(body).encode(), timeout=5.0)
    except Exception as exc:  # timeout, no responders, permissions (seen as a timeout)
        raise PurgeError(stream, f"{type(exc).__name__} {exc}".strip()) from exc
    answer: dict[str, object] = json.loads(msg.data)
    return answer


def _error(answer: dict[str, object]) -> dict[str, object] | None:
    err = answer.get("error")
    return err if isinstance(err, dict) else None


def _parse_time(text: str) -> dt.datetime:
    """RFC 3339 with up to nanoseconds (the server's) → aware datetime (microseconds)."""
    m = re.fullmatch(r"(.+?T[\d:]+)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    if m is None:
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    frac = (m[2] or "0")[:6].ljust(6, "0")
    zone = "+00:00" if m[3] == "Z" else m[3]
    return dt.datetime.fromisoformat(f"{m[1]}.{frac}{zone}")


async def purge_before(
    nc: Client, stream: str, before: dt.datetime, *, dry_run: bool = False
) -> Purged:
    """Remove every message of ``stream`` stored before ``before`` (timezone-aware)."""
    if before.tzinfo is None:
        raise ValueError("before must be timezone-aware")
    info = await _request(nc, stream, f"{API}.STREAM.INFO.{stream}", {})
    if err := _error(info):
        raise PurgeError(stream, str(err.get("description")), recoverable=False)
    state = info.get("state")
    messages = int(state.get("messages", 0)) if isinstance(state, dict) else 0
    if messages == 0:
        return Purged(stream, 0, None)
    stamp = before.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    found = await _request(nc, stream, f"{API}.STREAM.MSG.GET.{stream}", {"start_time": stamp})
    err = _error(found)
    if err is not None and err.get("err_code") != _NO_MESSAGE:
        raise PurgeError(stream, str(err.get("description")), recoverable=False)
    message = found.get("message")
    keep_from = int(message["seq"]) if isinstance(message, dict) else None
    # Past the last message the server answers with the last one: trust only its own time.
    if isinstance(message, dict) and _parse_time(str(message.get("time", ""))) < before:
        keep_from = None
    body: dict[str, int] = {} if keep_from is None else {"seq": keep_from}
    if dry_run:
        first = int(state.get("first_seq", 0)) if isinstance(state, dict) else 0
        older = messages if keep_from is None else max(0, keep_from - first)
        return Purged(stream, min(older, messages), keep_from)
    done = await _request(nc, stream, f"{API}.STREAM.PURGE.{stream}", body)
    if err := _error(done):
        raise PurgeError(stream, str(err.get("description")), recoverable=False)
    purged = done.get("purged", 0)
    return Purged(stream, int(purged) if isinstance(purged, int) else 0, keep_from)
