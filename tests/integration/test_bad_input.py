"""Bad input: each refused at publish or dead-lettered with its reason and bytes; service lives."""

from __future__ import annotations

import nats
import pytest
from nats.js.errors import NoStreamResponseError

from tests.integration.pipeline import collector, fast_config, pipeline

GOOD = "Observation: deux VBCI au 251430ZNOV26 en 31U DQ 48251 11932."
BAD: list[tuple[str, bytes, dict[str, str], str]] = [
    ("feeds.dr.report.a", b'{"text": "unterminated', {}, "invalid_json"),
    ("feeds.dr.report.a", b'{"text": 5}', {}, "schema_violation"),
    ("feeds.dr.report.a", b'{"text": "x", "precedence": "URGENT"}', {}, "schema_violation"),
    ("feeds.dr.sensor.a", b"plain words about a radar", {}, "text_on_sensor_subject"),
    ("feeds.dr.report.a", b"\xff\xfe bad bytes \xc3\x28", {}, "invalid_utf8"),
    ("feeds.dr.report.a", ("A" * 2_000_000).encode(), {}, "too_large"),
    ("feeds.dr.report.a", b"   \n\t  ", {}, "empty_report"),
    ("feeds.dr.report.a", b"a picture", {"Content-Type": "image/png"}, "unsupported_content_type"),
    ("feeds.dr.report.a", b"soon enough", {"Vigie-Precedence": "SOON"}, "bad_header"),
    ("feeds.dr.report.a", b'{"text": "x", "schema_version": "2.0"}', {}, "unsupported_version"),
    ("feeds.dr.report.bad$src", b"hello there", {}, "bad_subject"),
    ("feeds.dr.report.a", b"long id", {"Nats-Msg-Id": "x" * 300}, "bad_header"),
    (
        "feeds.dr.sensor.a",
        b'{"sensor_id": "R1", "sensor_type": "radar", "position": {"type": "mgrs", '
        b'"mgrs": "31UDQ4825111932"}, "time": "2026-11-25T14:30:00Z", '
        b'"detection_class": "vehicle", "confidence": 1.5}',
        {},
        "schema_violation",
    ),
]


async def test_bad_inputs_are_dead_lettered_with_reason_and_bytes(nats_url: str) -> None:
    async with pipeline(nats_url, fast_config()), collector(nats_url) as seen:
        nc = await nats.connect(nats_url, max_reconnect_attempts=1)
        js = nc.jetstream()
        for subject, data, headers, _ in BAD:
            await js.publish(subject, data, headers=headers or None)
        await seen.wait_for(lambda: len(seen.dead) == len(BAD), within=30)
        await js.publish("feeds.dr.report.a", GOOD.encode())
        await seen.wait_for(lambda: seen.events)
        await nc.close()
    by_data = {d.data: d for d in seen.dead}
    for subject, data, headers, reason in BAD:
        dead = by_data[data]
        assert dead.reason == reason, (subject, data[:40], dead.message)
        assert dead.subject == subject
        assert dead.stage == "ingest" and dead.label == "dr"
        assert dead.message
        for name, value in headers.items():
            assert dead.headers[name] == value
    assert set(seen.dead_subjects) == {"dlq.ingest.dr"}
    assert len(seen.events) == 1 and seen.events[0].language == "fr"


@pytest.mark.parametrize(
    "subject",
    ["feeds.secret.report.a", "feeds.dr.photo.a", "feeds.dr.report", "enriched.dr.report.a"],
)
async def test_subject_no_stream_captures_is_refused_at_publish(
    nats_url: str, subject: str
) -> None:
    async with pipeline(nats_url, fast_config(), ("ingest",)):
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        if subject.startswith("enriched"):
            # Enriched streams exist but publishers are not meant to write there; the contract
            # test for that is label permissions (a later release). Here: no feeds stream.
            await nc.close()
            return
        with pytest.raises(NoStreamResponseError):
            await js.publish(subject, b"hello", timeout=2)
        await nc.close()
