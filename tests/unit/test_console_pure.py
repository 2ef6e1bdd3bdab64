"""The console's pure parts: who may reach it, what an event shows, the bounded stores, the
HTTP it parses, and the page's own code (text nodes only)."""

from __future__ import annotations

import datetime as dt
import re
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.v1 import EnrichedEvent, Entity, MgrsPosition, SensorReading
from services.console.access import (
    ConsoleRefused,
    Sessions,
    Users,
    allowed_hosts,
    basic_credentials,
    check_bind,
    hash_password,
    host_ok,
    is_loopback,
    origin_ok,
)
from services.console.feed import Feed, Log, replay_start
from services.console.http import HttpError, parse_head, sse_event
from services.console.views import escape_bytes, feed_item, points, report_view, segments

T = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def event(report_id: str = "r1", revision: int = 1, **fields: object) -> EnrichedEvent:
    base: dict[str, object] = dict(
        report_id=report_id, revision=revision, partial=False, label="dr", kind="report",
        source="s", precedence="ROUTINE", original_text="x", normalised_text="x",
        language="fr", language_confidence=0.9, entities=[], tasks=[], ingested_at=T,
        published_at=T, trace_id="0" * 32, provenance=[],
    )  # fmt: skip
    base.update(fields)
    return EnrichedEvent(**base)  # type: ignore[arg-type]


# ---------------------------------------------------------------- access


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_loopback_binds_need_nothing_more(host: str) -> None:
    assert is_loopback(host)
    check_bind(host, tls=False, logins=False)


@pytest.mark.parametrize(("tls", "logins"), [(False, False), (True, False), (False, True)])
def test_any_other_bind_needs_tls_and_logins(tls: bool, logins: bool) -> None:
    for host in ("0.0.0.0", "10.1.2.3", "::", "console.example"):
        with pytest.raises(ConsoleRefused, match="not loopback"):
            check_bind(host, tls=tls, logins=logins)
    check_bind("0.0.0.0", tls=True, logins=True)


def test_host_and_origin_must_name_the_console() -> None:
    hosts = allowed_hosts("127.0.0.1", 8470)
    assert host_ok("127.0.0.1:8470", hosts) and host_ok("LOCALHOST:8470", hosts)
    assert not host_ok("127.0.0.1:8471", hosts)
    assert not host_ok("attacker.example:8470", hosts) and not host_ok(None, hosts)
    assert origin_ok(None, hosts, "http")
    assert origin_ok("http://localhost:8470", hosts, "http")
    assert not origin_ok("https://localhost:8470", hosts, "http")
    assert not origin_ok("http://localhost:8470.evil.example", hosts, "http")
    assert not origin_ok("null", hosts, "http")
    assert allowed_hosts("::1", 1) >= {"[::1]:1"}


def test_sessions_are_bounded_and_expire() -> None:
    sessions = Sessions(ttl=10.0, limit=3)
    first = sessions.open("alice", now=0.0)
    assert sessions.check(first.token, now=5.0) == first
    assert sessions.check(first.token, now=11.0) is None
    assert sessions.check(first.token + "x", now=1.0) is None and sessions.check(None) is None
    for _ in range(3):
        sessions.open(None, now=1.0)
    assert len(sessions) == 3 and sessions.check(first.token, now=2.0) is None


def test_logins_are_checked_against_scrypt_hashes() -> None:
    users = Users.parse(f"# analysts\nalice:{hash_password('s3cret')}\n")
    assert users.verify("alice", "s3cret")
    assert not users.verify("alice", "S3cret") and not users.verify("bob", "s3cret")
    with pytest.raises(ConsoleRefused, match="line 1"):
        Users.parse("alice:plaintext\n")
    with pytest.raises(ConsoleRefused, match="no login"):
        Users.parse("# nobody\n")
    assert basic_credentials("Basic YWxpY2U6czNjcmV0") == ("alice", "s3cret")
    assert basic_credentials("Basic !!!") is None and basic_credentials("Bearer x") is None


# ---------------------------------------------------------------- views


def test_segments_cut_the_text_at_the_entity_offsets() -> None:
    text = "Vu à 0800Z près de 31U DQ 48251 11932, deux BMP."
    ents = [
        Entity(type="DateTime", text="0800Z", start=5, end=10),
        Entity(type="Location", text="31U DQ 48251 11932", start=19, end=37),
        # Overlapping the first, and one outside the text: neither is marked.
        Entity(type="Quantity", text="0Z", start=8, end=10),
        Entity(type="Quantity", text="?", start=60, end=70),
    ]
    segs = segments(text, ents)
    assert "".join(s["text"] for s in segs) == text
    marked = [
        (s["entity"], s["start"], s["end"], s["text"]) for s in segs if s["entity"] is not None
    ]
    assert marked == [(0, 5, 10, "0800Z"), (1, 19, 37, "31U DQ 48251 11932")]


@given(st.text(max_size=60), st.lists(st.tuples(st.integers(0, 70), st.integers(0, 70))))
def test_segments_always_rebuild_the_text(text: str, spans: list[tuple[int, int]]) -> None:
    ents = [Entity(type="Unit", text="", start=a, end=b) for a, b in spans]
    segs = segments(text, ents)
    assert "".join(s["text"] for s in segs) == text
    for s in segs:
        if s["entity"] is not None:
            assert text[s["start"] : s["end"]] == s["text"] and s["text"]


def test_points_come_from_entities_and_a_sensors_mgrs_position() -> None:
    sensor = SensorReading(
        sensor_id="radar-7", sensor_type="radar", position=MgrsPosition(mgrs="31UDQ4825111932"),
        time=T, detection_class="vehicle", confidence=0.8,
    )  # fmt: skip
    located = Entity(type="Location", text="48.85N 2.35E", start=0, end=12, lat=48.85, lon=2.35)
    pts = points(event(entities=[located], sensor=sensor))
    assert pts[0]["lat"] == 48.85 and pts[1]["type"] == "Sensor"
    assert 48.0 < pts[1]["lat"] < 49.5 and 2.0 < pts[1]["lon"] < 3.0


def test_the_views_carry_text_as_text() -> None:
    hostile = "<script>alert(1)</script>"
    view = report_view(event(normalised_text=hostile, original_text=hostile, summary=hostile))
    assert view["segments"] == [{"text": hostile, "entity": None}]
    assert view["summary"] == hostile
    assert feed_item(event(normalised_text="a" * 500))["snippet"].endswith("…")
    # Task outputs become tables, whatever the task: lists of records as rows.
    tables = report_view(
        event(outputs={"stock": {"items": [{"item": "fuel", "qty": 3}], "total": 3}})
    )["tables"]
    assert {"task": "stock", "name": "items", "columns": ["item", "qty"],
            "rows": [["fuel", "3"]]} in tables  # fmt: skip


def test_dead_letter_bytes_are_escaped_visibly() -> None:
    assert escape_bytes(b"ok\n\x00\x1b[31m\xff") == "ok\n\\x00\\x1b[31m\\xff"
    assert escape_bytes("é\u202e".encode()) == "é\\u202e"


# ---------------------------------------------------------------- stores


def test_the_feed_keeps_the_latest_revision_in_place_and_is_bounded() -> None:
    feed = Feed(limit=2)
    assert feed.add(event("a")) == "new"
    assert feed.add(event("b", precedence="FLASH")) == "new"
    assert feed.add(event("a", revision=2)) == "revised"
    assert feed.add(event("a", revision=1)) == "stale"
    assert [(e.report_id, e.revision) for e in feed.newest_first()] == [("b", 1), ("a", 2)]
    assert feed.counts() == {"FLASH": 1, "IMMEDIATE": 0, "PRIORITY": 0, "ROUTINE": 1}
    feed.add(event("c"))
    assert len(feed) == 2 and feed.get("a") is None
    # Bounded in bytes too: the oldest go until the rest fits.
    sized = Feed(limit=10, max_bytes=100)
    for name, size in (("a", 40), ("b", 40), ("c", 40)):
        sized.add(event(name), size)
    assert [e.report_id for e in sized.newest_first()] == ["c", "b"] and sized.bytes == 80
    sized.add(event("b", revision=2), 50)
    assert sized.bytes == 90 and len(sized) == 2
    log = Log(limit=2)
    for i in range(3):
        log.add({"i": i})
    assert log.newest_first() == [{"i": 2}, {"i": 1}]


def test_replay_starts_n_messages_before_the_end() -> None:
    assert replay_start(1, 100, 10) == 91
    assert replay_start(95, 100, 10) == 95
    assert replay_start(0, 0, 10) == 1  # empty stream: from the first message to come
    assert replay_start(1, 100, 0) == 101  # no replay: live only


# ---------------------------------------------------------------- http


def test_request_heads_are_parsed_strictly() -> None:
    r = parse_head(b"GET /api/report/a%20b?token=t&x=1 HTTP/1.1\r\nHost: h:1\r\nOrigin: o")
    assert r.raw_path == "/api/report/a%20b"
    assert (r.method, r.path, r.query["token"], r.header("HOST")) == (
        "GET",
        "/api/report/a b",
        "t",
        "h:1",
    )
    for bad in (b"GET / HTTP/2", b"GET http://x/ HTTP/1.1", b"GET / HTTP/1.1\r\nno colon",
                b"GET / HTTP/1.1\r\nHost: a\r\nHost: b"):  # fmt: skip
        with pytest.raises(HttpError):
            parse_head(bad)
    assert sse_event("e", {"t": "a\nb"}) == b'event: e\ndata: {"t":"a\\nb"}\n\n'


def test_the_page_builds_its_dom_from_text_nodes_only() -> None:
    folder = resources.files("services.console") / "static"
    script = (folder / "console.js").read_text(encoding="utf-8")
    code = re.sub(r"//[^\n]*", "", script)  # the header comment names what it never uses
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                 "new Function", "srcdoc", "javascript:"):  # fmt: skip
        assert sink not in code, sink
    page = (folder / "index.html").read_text(encoding="utf-8")
    # Every asset is the console's own: no other origin, no inline script.
    assert not re.search(r"(src|href)=\"(?!/static/)", page)
    assert "<script>" not in page and "http" not in page.replace("http-equiv", "")
    css = (folder / "console.css").read_text(encoding="utf-8")
    assert "url(" not in css and "@import" not in css


# ---------------------------------------------------------------- trace


def span(trace: str, sid: str, parent: str | None, start: int, end: int, **extra: object) -> dict:
    return {"trace_id": trace, "span_id": sid, "parent_id": parent, "name": f"span {sid}",
            "start": start, "end": end, "service": "vigie-x", "status": "OK", **extra}  # fmt: skip


def test_a_reports_trace_shows_its_own_spans_and_counts_the_batches_it_shared() -> None:
    from bus.telemetry import REPORT_ID
    from services.cli.trace import find_traces
    from services.console.waterfall import waterfall

    ms = 1_000_000
    spans = [
        span("T1", "a", None, 0, 10 * ms, attributes={REPORT_ID: "r1"}),
        span("T1", "b", "a", 2 * ms, 8 * ms),
        # The engine batch that served b, in a trace of its own, with another report in it.
        span("B", "x", None, 3 * ms, 7 * ms, links=[{"span_id": "b"}],
             attributes={REPORT_ID: "secret-report", "batch.size": 2}),
        span("B", "y", "x", 3 * ms, 7 * ms, attributes={REPORT_ID: "secret-report"}),
        span("T2", "z", None, 0, ms, attributes={REPORT_ID: "r2"}),
    ]  # fmt: skip
    [trace] = waterfall(find_traces(spans, "r1"), "T1", "r1")
    assert [(r["name"], r["depth"], r["linked_batches"]) for r in trace["rows"]] == [
        ("span a", 0, 0), ("span b", 1, 1)]  # fmt: skip
    assert trace["rows"][1]["start_ms"] == 2.0 and trace["rows"][1]["ms"] == 6.0
    assert "secret" not in repr(trace)
    # Traces that are not the event's own are not shown.
    assert waterfall(find_traces(spans, "r1"), "other", "r1") == []
