"""One report through the whole pipeline on a real nats-server is ONE trace: the publisher's
context, ingest, each task, inference (engine batches linked to the request spans), collate and
the enriched publish — with no report text in any span, every metric family observed, and the
file export drawn by `vigie trace`."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import nats
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from bus import telemetry
from bus.telemetry import REPORT_ID, ConsumerPoller
from bus.topology import build_topology
from schemas.headers import TRACEPARENT
from services.config.schema import TelemetryConfig, topology_settings
from services.inference.standin import StandInEngine
from services.telemetry.service import build
from tests.integration.pipeline import collector, pipeline
from tests.integration.test_tasks_scripted import (
    EN_REPORT,
    SERVICES,
    Script,
    entities,
    good_summary,
    good_translation,
    task_config,
)

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PUBLISHER = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
#: Words of the report and of the model's outputs: none may appear in telemetry.
WORDS = ("Patrol", "observed", "moving", "BTR-82A", "contact", "patrouille", "Paris", "nord")


def metric_points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    found: dict[str, list[Any]] = {}
    assert data is not None
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                found.setdefault(metric.name, []).extend(metric.data.data_points)
    return found


def telemetry_text(spans: list[ReadableSpan]) -> str:
    return json.dumps(
        [
            [
                s.name,
                s.status.description,
                dict(s.attributes or {}),
                [[e.name, dict(e.attributes or {})] for e in s.events],
            ]
            for s in spans
        ],
        default=str,
    )


async def test_a_report_is_one_trace_through_every_stage(nats_url: str, tmp_path: Path) -> None:
    spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
    cfg = task_config()
    cfg = type(cfg)(
        **{
            **{f: getattr(cfg, f) for f in cfg.__struct_fields__},
            "telemetry": TelemetryConfig(dir=str(tmp_path)),
        }
    )
    tel = build("pipeline", cfg, span_exporters=[spans], metric_readers=[reader])
    telemetry.install(tel.tracer_provider, tel.meter_provider)
    script = Script(
        {
            "translate": good_translation,
            "summarise": good_summary,
            "extract": entities(("MilitaryPlatform", "BTR-82A"), ("Location", "Paris")),
        }
    )
    try:
        async with (
            pipeline(nats_url, cfg, SERVICES, StandInEngine(script)) as running,
            collector(nats_url) as seen,
        ):
            nc = await nats.connect(nats_url)
            js = nc.jetstream()
            await js.publish(
                "feeds.np.report.t0", EN_REPORT.encode(), headers={TRACEPARENT: PUBLISHER}
            )
            await js.publish(
                "feeds.np.report.bad", b"{not json", headers={"Content-Type": "application/json"}
            )
            topology = build_topology(topology_settings(cfg))
            poller = ConsumerPoller(js, [(c.stream, c.durable) for c in topology.consumers], 10.0)
            await poller.poll_once()
            await nc.close()
            await seen.wait_for(lambda: any(not e.partial for e in seen.events) and seen.dead)
            assert running.workers
        [event] = [e for e in seen.events if not e.partial]
    finally:
        telemetry.install(None, None)
        await anyio.to_thread.run_sync(tel.shutdown)

    assert event.trace_id == TRACE_ID
    finished = list(spans.get_finished_spans())
    ours = [s for s in finished if (s.attributes or {}).get(REPORT_ID) == event.report_id]
    trace = [s for s in finished if f"{s.context.trace_id:032x}" == TRACE_ID]
    assert ours and all(s in trace for s in ours)
    names = Counter(s.name for s in trace)
    for stage in ("extract", "translate", "summarise"):
        assert names[f"process work.np.{stage}.routine"] == 1
        assert names[f"process work.np.inferred.{stage}.routine"] == 1
        assert names[f"send work.np.inferred.{stage}.routine"] == 1
    assert names["process feeds.np.report.t0"] == 1
    assert names["send work.np.infer.routine"] == 3
    assert names["process work.np.infer.routine"] == 3
    assert names["text_completion stand-in"] == 3
    assert names["send enriched.np.report.t0"] >= 1
    by_id = {s.context.span_id: s for s in trace}

    def ancestry(span: ReadableSpan) -> list[str]:
        chain = []
        while span.parent is not None and span.parent.span_id in by_id:
            span = by_id[span.parent.span_id]
            chain.append(span.name)
        return chain

    [enriched] = [s for s in trace if s.name == "send enriched.np.report.t0"][:1]
    assert enriched.kind == SpanKind.PRODUCER
    chain = ancestry(enriched)
    assert chain[-1] == "process feeds.np.report.t0"  # the publisher's span is its parent
    ingest = by_id[next(s.context.span_id for s in trace if s.name == chain[-1])]
    assert ingest.kind == SpanKind.CONSUMER and ingest.parent is not None
    assert f"{ingest.parent.span_id:016x}" == "00f067aa0ba902b7"
    # Inference: each request span is a child of its message's process span, and the engine's
    # batch spans (own traces) link to them.
    requests = {s.context.span_id for s in trace if s.name == "text_completion stand-in"}
    for rid in requests:
        parent = by_id[rid].parent
        assert parent is not None
        assert by_id[parent.span_id].name == "process work.np.infer.routine"
    batches = [s for s in finished if s.name.startswith("engine batch")]
    linked = {link.context.span_id for b in batches for link in b.links}
    assert requests <= linked
    assert all(f"{b.context.trace_id:032x}" != TRACE_ID for b in batches)
    # Labels apply to telemetry: no word of the report or of the outputs anywhere.
    text = telemetry_text(finished)
    assert not [w for w in WORDS if w.lower() in text.lower()]

    found = metric_points(reader)
    for name in (
        "vigie.report.latency",
        "vigie.flags",
        "vigie.entities.dropped",
        "vigie.dead_letters",
        "vigie.inference.ttft",
        "vigie.inference.requests",
        "vigie.consumer.pending",
        "vigie.consumer.ack_pending",
        "vigie.consumer.redelivered",
        "messaging.process.duration",
    ):
        assert name in found, name
    assert {p.attributes["vigie.flag.code"] for p in found["vigie.flags"]} == {"entities_dropped"}
    assert sum(p.value for p in found["vigie.entities.dropped"]) == 1
    [dead] = found["vigie.dead_letters"]
    assert dead.attributes["vigie.stage"] == "ingest"

    # The file export round-trips into `vigie trace`.
    page = tmp_path / "trace.html"
    result = await anyio.run_process(
        [
            sys.executable,
            "-m",
            "services.cli.main",
            "trace",
            event.report_id,
            "--dir",
            str(tmp_path),
            "--html",
            str(page),
            "--width",
            "40",
        ],
        check=False,
    )
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()
    assert f"trace {TRACE_ID}" in out
    for line in (
        "process feeds.np.report.t0",
        "process work.np.summarise.routine",
        "text_completion stand-in",
        "↔ engine batch stand-in",
        "send enriched.np.report.t0",
    ):
        assert line in out, line
    html = page.read_text()
    assert "send enriched.np.report.t0" in html and "<svg" in html
