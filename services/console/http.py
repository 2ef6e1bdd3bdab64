"""The little HTTP/1.1 the console speaks: one request per connection, GET and POST.

Pure: parsing a request head, building responses. Every response carries a Content Security
Policy that allows nothing but the console's own files and connections: no inline script can
run, nothing can be fetched from elsewhere (defence in depth behind the page's text-only
rendering).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import orjson

MAX_HEAD = 8192
MAX_BODY = 64 * 1024

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cache-Control", "no-store"),
)
REASONS = {
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    421: "Misdirected Request",
    503: "Service Unavailable",
}


@dataclass
class HttpError(Exception):
    status: int
    message: str
    recoverable: bool = False

    def __str__(self) -> str:
        return f"{self.status} {self.message}"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    #: The path as sent (percent-escapes kept): a report id may hold a ``/``.
    raw_path: str = ""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def content_length(self) -> int:
        raw = self.header("content-length") or "0"
        if not raw.isdigit():
            raise HttpError(400, "bad Content-Length")
        return int(raw)


def parse_head(head: bytes) -> Request:
    """A request line and headers (``head`` without the blank line)."""
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError as exc:  # pragma: no cover - latin-1 decodes any byte
        raise HttpError(400, "undecodable head") from exc
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise HttpError(400, "bad request line")
    method, target, _ = parts
    if not target.startswith("/"):
        raise HttpError(400, "bad target")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise HttpError(400, "bad header line")
        key = name.lower()
        if key in headers and key in ("host", "origin", "authorization", "content-length"):
            raise HttpError(400, f"repeated {name}")
        headers[key] = value.strip()
    split = urlsplit(target)
    query = {k: v[0] for k, v in parse_qs(split.query, max_num_fields=20).items()}
    return Request(method, unquote(split.path), query, headers, split.path)


def response(
    status: int,
    body: bytes = b"",
    content_type: str = "application/json",
    extra: tuple[tuple[str, str], ...] = (),
) -> bytes:
    lines = [
        f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{k}: {v}" for k, v in (*SECURITY_HEADERS, *extra)),
    ]
    return "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + body


def json_response(status: int, doc: Any) -> bytes:
    return response(status, orjson.dumps(doc))


def error_response(error: HttpError, extra: tuple[tuple[str, str], ...] = ()) -> bytes:
    return response(error.status, orjson.dumps({"error": error.message}), extra=extra)


def sse_head() -> bytes:
    lines = [
        "HTTP/1.1 200 OK",
        "Content-Type: text/event-stream; charset=utf-8",
        "Connection: close",
        *(f"{k}: {v}" for k, v in SECURITY_HEADERS),
    ]
    return "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n"


def sse_event(kind: str, doc: Any) -> bytes:
    """One server-sent event: JSON on one ``data:`` line (JSON escapes every newline)."""
    return b"event: " + kind.encode("ascii") + b"\ndata: " + orjson.dumps(doc) + b"\n\n"
