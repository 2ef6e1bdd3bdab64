"""The hostile-input corpus: its file format, and what each input must become (the oracle).

The corpus is ``tests/hostile/corpus/corpus.jsonl``, one input a line, written ONCE by
``python -m tests.hostile.make_corpus`` (seeded) and committed. A line::

    {"n": 17, "category": "broken_json", "entry": "feeds", "subject": "feeds.np.report.h0017",
     "headers": {"Content-Type": "application/json"}, "data": "<base64>",
     "big": null, "expect": {"class": "dead_letter", "stage": "ingest",
                              "reason": "invalid_json"}}

Payloads and header values over 4 KiB are stored zlib-compressed (``{"zlib": "<base64>"}``), so
that megabyte inputs cost a few bytes of corpus.

Outcome classes (``expect.class``):

``refused``      the publish fails at once with a clear error (``expect.refusal``: no stream
                 captures the subject, too large for the stream or the server, a header the
                 client will not send); nothing is stored.
``dead_letter``  stored, then dead-lettered by ``expect.stage`` with ``expect.reason``; the dead
                 letter's ``data`` is the payload, byte for byte.
``processed``    becomes an enriched event; ``expect.flagged``: it carries ``suspected_injection``.
``absorbed``     a forged but well-formed internal message: the service takes it without failing
                 (what it makes of it downstream is not this corpus's concern).
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bus.outcomes import Delivery, Reject
from bus.topology import FEED_MAX_MSG_SIZE, KINDS, LABELS, SERVER_MAX_PAYLOAD, WORK_MAX_MSG_SIZE

CORPUS = Path(__file__).parent / "corpus" / "corpus.jsonl"
#: ingest's default text limit (IngestConfig.max_text_bytes).
MAX_TEXT_BYTES = 262_144
TASK_NAMES = ("extract", "translate", "summarise")
#: nats-server refuses a JetStream message whose headers exceed 64 KiB.
JETSTREAM_MAX_HEADER = 64 * 1024


@dataclass(frozen=True)
class Item:
    n: int
    category: str
    entry: str
    subject: str
    headers: dict[str, str]
    data: bytes
    expect: dict[str, Any] = field(default_factory=dict)

    @property
    def cls(self) -> str:
        return str(self.expect["class"])


def _unpack(value: Any) -> bytes:
    if isinstance(value, str):
        return base64.b64decode(value)
    return zlib.decompress(base64.b64decode(value["zlib"]))


def pack(data: bytes, threshold: int = 4096) -> Any:
    """Plain base64, or zlib-compressed base64 for large inputs (mostly repetitive)."""
    if len(data) <= threshold:
        return base64.b64encode(data).decode()
    return {"zlib": base64.b64encode(zlib.compress(data, 9)).decode()}


def load(path: Path = CORPUS) -> list[Item]:
    items = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            raw = json.loads(line)
            headers = {k: _unpack(v).decode("utf-8") for k, v in raw["headers"].items()}
            items.append(
                Item(
                    n=raw["n"],
                    category=raw["category"],
                    entry=raw["entry"],
                    subject=raw["subject"],
                    headers=headers,
                    data=_unpack(raw["data"]),
                    expect=raw["expect"],
                )
            )
    return items


def dump(items: list[Item], path: Path = CORPUS) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for item in items:
            line = {
                "n": item.n,
                "category": item.category,
                "entry": item.entry,
                "subject": item.subject,
                "headers": {k: pack(v.encode("utf-8")) for k, v in item.headers.items()},
                "data": pack(item.data),
                "expect": item.expect,
            }
            f.write(json.dumps(line, ensure_ascii=True, sort_keys=True) + "\n")


# ---------------------------------------------------------------- the oracle


def delivered_headers(headers: dict[str, str]) -> dict[str, str]:
    """Headers as a consumer sees them: nats-py strips values and turns newlines into spaces."""
    out = {}
    for key, value in headers.items():
        if key.strip():
            out[key.strip()] = " ".join(value.strip().splitlines()) if value.strip() else ""
    return out


def header_bytes(headers: dict[str, str]) -> int:
    return sum(len(k.encode()) + len(v.encode()) + 4 for k, v in headers.items()) + 12


def stream_captures(subject: str) -> bool:
    parts = subject.split(".")
    if parts[0] == "feeds":
        return len(parts) == 4 and parts[1] in LABELS and parts[2] in KINDS and bool(parts[3])
    if parts[0] == "work":
        return len(parts) >= 3 and parts[1] in LABELS and all(parts[1:])
    return False


def expect(item_subject: str, data: bytes, headers: dict[str, str], entry: str) -> dict[str, Any]:
    """What the pipeline must make of one input (the pure decoders decide; the corpus test
    checks that the running services agree)."""
    from nats.aio.client import _HEADER_KEY_RE

    for key in headers:
        if key.strip() and not _HEADER_KEY_RE.fullmatch(key.strip()):
            return {"class": "refused", "refusal": "bad_header_key"}
    if len(data) + header_bytes(headers) > SERVER_MAX_PAYLOAD:
        return {"class": "refused", "refusal": "too_large_server"}
    if not stream_captures(item_subject):
        return {"class": "refused", "refusal": "no_stream"}
    if header_bytes(headers) > JETSTREAM_MAX_HEADER:
        return {"class": "refused", "refusal": "headers_too_large"}
    hdrs = delivered_headers(headers)
    if entry == "feeds":
        if len(data) + header_bytes(headers) > FEED_MAX_MSG_SIZE:
            return {"class": "refused", "refusal": "too_large_stream"}
        return _expect_feed(item_subject, data, hdrs)
    if len(data) + header_bytes(headers) > WORK_MAX_MSG_SIZE:
        return {"class": "refused", "refusal": "too_large_stream"}
    label = item_subject.split(".")[1]
    delivery = Delivery(item_subject, data, hdrs, f"WORK_{label.upper()}", 1, 1, "c", label)  # type: ignore[arg-type]
    stage, decode = _internal(item_subject)
    try:
        decode(delivery)
    except Reject as rej:
        return {"class": "dead_letter", "stage": stage, "reason": rej.reason}
    return {"class": "absorbed", "stage": stage}


def _expect_feed(subject: str, data: bytes, hdrs: dict[str, str]) -> dict[str, Any]:
    from bus.topology import parse_feed_subject
    from services.ingest.injection import suspected_injection
    from services.ingest.parse import parse_feed

    feed = parse_feed_subject(subject)
    if feed is None:
        return {"class": "dead_letter", "stage": "ingest", "reason": "bad_subject"}
    try:
        accepted = parse_feed(feed.kind, data, hdrs, max_text_bytes=MAX_TEXT_BYTES)
    except Reject as rej:
        return {"class": "dead_letter", "stage": "ingest", "reason": rej.reason}
    return {"class": "processed", "flagged": bool(suspected_injection(accepted.normalised_text))}


def _internal(subject: str) -> tuple[str, Any]:
    """The stage reading ``subject`` and its pure entry-point check."""
    from services.collate.service import decode as collate_decode
    from services.inference.service import decode_request
    from services.tasks.service import check_report, decode_answer

    parts = subject.split(".")
    role = parts[2]
    if role in TASK_NAMES:
        return role, check_report
    if role == "infer":
        return "inference", decode_request
    if role == "inferred":
        task = parts[3]
        return task, lambda d: decode_answer(d, task)
    return "collate", collate_decode


def by_class(items: list[Item]) -> Iterator[tuple[str, int]]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item.cls] = counts.get(item.cls, 0) + 1
    yield from sorted(counts.items())
