"""Telemetry without a server: spans and context in headers, engine batch spans and their
links, each metric family, the JSON-lines export and the `vigie trace` waterfall."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from bus import telemetry
from bus.telemetry import parse_traceparent
from schemas.headers import TRACEPARENT
from schemas.v1 import Flag, InferenceRequest, InferenceResult
from services.cli.trace import find_traces, render_html, render_text
from services.config.schema import Config, TelemetryConfig
from services.inference.standin import StandInEngine
from services.telemetry.export import FileSpanExporter, RotatingFile, read_spans
from services.telemetry.service import (
    build,
    observe_engine,
    record_answer,
    record_dropped,
    record_published,
    request_span,
)
from tests.unit.test_runner import ScriptedCore, engine, req


class Installed:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider(
            resource=Resource.create({"service.name": "vigie-test"})
        )
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def metrics(self) -> dict[str, list[Any]]:
        """Metric name → its data points, from one collection."""
        data = self.reader.get_metrics_data()
        found: dict[str, list[Any]] = {}
        if data is None:
            return found
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    found.setdefault(metric.name, []).extend(metric.data.data_points)
        return found


@pytest.fixture
def otel() -> Iterator[Installed]:
    installed = Installed()
    telemetry.install(installed.tracer_provider, installed.meter_provider)
    try:
        yield installed
    finally:
        telemetry.install(None, None)
        installed.tracer_provider.shutdown()
        installed.meter_provider.shutdown()


def test_send_span_is_a_producer_whose_context_the_headers_carry(otel: Installed) -> None:
    parent = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    headers = {TRACEPARENT: parent}
    with telemetry.send_span("work.np.extract.routine", headers, "r1:work:extract"):
        pass
    [span] = otel.spans.get_finished_spans()
    assert span.name == "send work.np.extract.routine" and span.kind == SpanKind.PRODUCER
    assert span.attributes is not None
    assert span.attributes["messaging.system"] == "nats"
    assert span.attributes["messaging.message.id"] == "r1:work:extract"
    assert span.parent is not None and f"{span.parent.span_id:016x}" == "b" * 16
    carried = parse_traceparent(headers[TRACEPARENT])
    assert carried is not None and carried.trace_id == "a" * 32
    assert carried.span_id == f"{span.context.span_id:016x}"


def test_process_span_continues_the_message_trace_and_records_settlement(
    otel: Installed,
) -> None:
    headers = {TRACEPARENT: "00-" + "c" * 32 + "-" + "d" * 16 + "-01", "Nats-Msg-Id": "m-1"}
    with telemetry.process_span(
        "feeds.np.report.a",
        headers,
        consumer="ingest_np",
        stream="FEEDS_NP",
        stream_seq=7,
        delivery_count=2,
        attributes={telemetry.LABEL: "np"},
    ):
        telemetry.annotate(**{telemetry.REPORT_ID: "rep-1"})
        telemetry.event("ack")
        assert telemetry.current_trace().trace_id == "c" * 32
    [span] = otel.spans.get_finished_spans()
    assert span.kind == SpanKind.CONSUMER and span.name == "process feeds.np.report.a"
    attrs = dict(span.attributes or {})
    assert attrs["messaging.consumer.group.name"] == "ingest_np"
    assert attrs["messaging.message.id"] == "m-1"
    assert attrs["messaging.nats.message.delivery_count"] == 2
    assert attrs[telemetry.REPORT_ID] == "rep-1"
    assert [e.name for e in span.events] == ["ack"]
    assert "messaging.process.duration" in otel.metrics()


def test_without_telemetry_headers_still_carry_one_trace() -> None:
    telemetry.install(None, None)
    headers = {TRACEPARENT: "00-" + "e" * 32 + "-" + "f" * 16 + "-01"}
    with telemetry.process_span(
        "x", headers, consumer="c", stream="S", stream_seq=1, delivery_count=1
    ):
        out: dict[str, str] = {}
        with telemetry.send_span("y", out, None):
            pass
    carried = parse_traceparent(out[TRACEPARENT])
    assert carried is not None and carried.trace_id == "e" * 32
    assert carried.span_id != "f" * 16 and carried.flags == "01"  # a hop of its own


async def test_engine_batch_spans_link_to_each_request_span(otel: Installed) -> None:
    eng = engine(ScriptedCore())
    tracer = telemetry.tracer("test")

    async def one(rid: str) -> int:
        with tracer.start_as_current_span(f"request {rid}") as span:
            await eng.generate(req(rid, 4))
            return span.get_span_context().span_id

    ids = await asyncio.gather(*(one(f"r{i}") for i in range(3)))
    await eng.aclose()
    spans = otel.spans.get_finished_spans()
    batches = [s for s in spans if s.name.startswith("engine batch")]
    assert batches, [s.name for s in spans]
    linked = {link.context.span_id for b in batches for link in b.links}
    assert linked == set(ids)
    assert sum(int(str((b.attributes or {})["vigie.engine.steps"])) for b in batches) >= 4
    assert all(b.parent is None for b in batches)  # links, not parents


def answer(status: str, **kw: Any) -> InferenceResult:
    return InferenceResult(
        request_id="r:extract:1",
        client="extract",
        label="np",
        precedence="FLASH",
        status=status,  # type: ignore[arg-type]
        engine="stand-in",
        model="stand-in",
        **kw,
    )


def test_each_metric_family_is_observed(otel: Installed) -> None:
    eng = StandInEngine()
    observe_engine(eng)
    asyncio.run(eng.generate(req("g1", 2)))
    request = InferenceRequest(
        request_id="r:extract:1",
        client="extract",
        label="np",
        precedence="FLASH",
        created_at=dt.datetime.now(dt.UTC),
        max_tokens=8,
        prompt="secret words",
        report_id="rep-9",
    )
    with request_span(request, "stand-in"):
        record_answer(answer("ok", prompt_tokens=5, completion_tokens=3, ttft_ms=12.0))
    record_answer(answer("expired"))
    now = dt.datetime.now(dt.UTC)
    event = SimpleNamespace(
        partial=False,
        ingested_at=now - dt.timedelta(seconds=2),
        published_at=now,
        precedence="FLASH",
        label="np",
        flags=[
            Flag(code="unfaithful_summary", detail="d", task="summarise"),
            Flag(code="suspected_injection", detail="d"),
        ],
    )
    record_published(event)  # type: ignore[arg-type]
    record_dropped("extract", "np", 2)
    telemetry.count_dead_letter("ingest", "invalid_json", "np")
    # The consumer table is process-wide: another test's poller may have left entries in it.
    telemetry._consumer_info.clear()
    telemetry._consumer_info[("WORK_NP", "extract_np_flash")] = {
        "num_pending": 4,
        "num_ack_pending": 1,
        "num_redelivered": 2,
    }
    try:
        telemetry.instruments(telemetry._BusInstruments)
        found = otel.metrics()
    finally:
        telemetry._consumer_info.clear()
    for name in (
        "vigie.consumer.pending",
        "vigie.consumer.ack_pending",
        "vigie.consumer.redelivered",
        "vigie.engine.batch.occupancy",
        "vigie.engine.batch.size",
        "vigie.engine.tokens_per_second",
        "vigie.engine.tokens",
        "vigie.engine.paused_sequences",
        "vigie.inference.ttft",
        "vigie.inference.expired",
        "vigie.report.latency",
        "vigie.dead_letters",
        "vigie.entities.dropped",
        "vigie.flags",
    ):
        assert name in found, name
    assert {p.attributes["vigie.flag.code"] for p in found["vigie.flags"]} == {
        "unfaithful_summary",
        "suspected_injection",
    }
    [latency] = found["vigie.report.latency"]
    assert latency.attributes["vigie.precedence"] == "FLASH" and latency.sum == pytest.approx(2)
    [dead] = found["vigie.dead_letters"]
    assert dead.attributes["vigie.dead_letter.reason"] == "invalid_json"
    [pending] = found["vigie.consumer.pending"]
    assert pending.value == 4
    assert any(p.value >= 1 for p in found["vigie.engine.batch.size"])
    [request_span_] = [
        s for s in otel.spans.get_finished_spans() if s.name == "text_completion stand-in"
    ]
    attrs = dict(request_span_.attributes or {})
    assert attrs["gen_ai.usage.output_tokens"] == 3 and attrs["vigie.inference.ttft_ms"] == 12.0
    assert "secret" not in json.dumps(attrs)


def test_rotating_file_keeps_one_previous_file(tmp_path: Path) -> None:
    f = RotatingFile(tmp_path / "x.spans.jsonl", max_bytes=1000)
    for i in range(50):
        f.write([json.dumps({"i": i, "pad": "p" * 80})])
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["x.spans.jsonl", "x.spans.jsonl.1"]
    assert all(p.stat().st_size <= 1000 for p in tmp_path.iterdir())


def test_file_export_round_trips_into_the_waterfall(tmp_path: Path) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "vigie-ingest"}))
    provider.add_span_processor(
        SimpleSpanProcessor(FileSpanExporter(tmp_path / "a.spans.jsonl", 1 << 20))
    )
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("process feeds.np.report.a") as root:
        root.set_attribute(telemetry.REPORT_ID, "rep-1")
        with tracer.start_as_current_span("send work.np.extract.routine"):
            pass
    with tracer.start_as_current_span("unrelated"):
        pass
    provider.shutdown()
    [trace] = find_traces(read_spans(tmp_path), "rep-1")
    text = render_text(trace, width=30)
    assert "process feeds.np.report.a" in text and "  send work.np.extract.routine" in text
    assert "unrelated" not in text and "ingest" in text
    page = render_html([trace], "rep-1")
    assert page.startswith("<!doctype html>") and "send work.np.extract.routine" in page
    assert "http" not in page.replace("http://www.w3.org/2000/svg", "")  # no external assets


def test_build_writes_files_and_sends_nothing_unless_configured(tmp_path: Path) -> None:
    cfg = Config(telemetry=TelemetryConfig(dir=str(tmp_path), metric_interval=1.0))
    tel = build("collate", cfg)
    assert tel.sinks == [f"file:{tmp_path}"]
    assert tel.tracer_provider is not None
    with tel.tracer_provider.get_tracer("t").start_as_current_span("s"):
        pass
    assert tel.meter_provider is not None
    histogram = tel.meter_provider.get_meter("t").create_histogram("h", unit="s")
    histogram.record(0.25, {"vigie.precedence": "FLASH"})
    tel.shutdown()  # flushes both
    record = json.loads((tmp_path / "collate.spans.jsonl").read_text().splitlines()[0])
    assert record["service"] == "vigie-collate" and record["name"] == "s"
    lines = (tmp_path / "collate.metrics.jsonl").read_text().splitlines()
    metric = [m for m in map(json.loads, lines) if m["name"] == "h"][-1]  # cumulative
    [point] = metric["points"]
    assert point["attributes"] == {"vigie.precedence": "FLASH"} and point["sum"] == 0.25
    off = build("collate", Config(telemetry=TelemetryConfig(enabled=False)))
    assert off.tracer_provider is None and off.sinks == []
