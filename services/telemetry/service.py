"""Telemetry of the services: providers and exporters from ``[telemetry]``, and what the
services measure on top of the bus's messaging spans (``bus.telemetry``).

* :func:`service_telemetry` sets a service up (resource ``service.name = vigie-<service>``,
  the JSON-lines file export, OTLP when configured) and flushes and shuts it down on exit.
* Inference: a span per request (:func:`request_span`, :func:`record_answer`) and a span per
  group of engine steps over the same sequences (:class:`BatchSpans`) LINKED to the request
  span of each sequence in it; the engine thread only hands finished spans to a
  ``BatchSpanProcessor``, whose own thread exports them.
* Metrics: engine gauges (:func:`observe_engine`), end-to-end latency per precedence, flags by
  code, dropped entities, inference outcomes.

Nothing here reads text: ids, counts, timings and statuses only.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import anyio.to_thread
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Meter, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Link, Span, SpanContext, SpanKind, get_current_span

from bus import telemetry as bus_telemetry
from bus.telemetry import LABEL, PRECEDENCE, REPORT_ID
from schemas.v1 import EnrichedEvent, InferenceRequest, InferenceResult
from services.config.schema import Config
from services.telemetry.export import (
    METRICS_SUFFIX,
    SPANS_SUFFIX,
    FileMetricExporter,
    FileSpanExporter,
)

log = logging.getLogger("vigie.telemetry")
SCOPE = "vigie.services"


def telemetry_dir(cfg: Config) -> Path:
    return Path(cfg.telemetry.dir or Path(cfg.nats.data_dir) / "telemetry").expanduser()


@dataclass
class Telemetry:
    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None
    sinks: list[str] = field(default_factory=list)

    def shutdown(self) -> None:
        """Flush what is buffered, then stop the export threads (blocking: call in a thread)."""
        if self.tracer_provider is not None:
            self.tracer_provider.force_flush(5000)
            self.tracer_provider.shutdown()
        if self.meter_provider is not None:
            self.meter_provider.force_flush(5000)
            self.meter_provider.shutdown(5000)


def build(
    service: str,
    cfg: Config,
    *,
    span_exporters: Iterable[SpanExporter] = (),
    metric_readers: Iterable[MetricReader] = (),
) -> Telemetry:
    """Providers for ``service`` from ``cfg.telemetry``, plus the given exporters (tests)."""
    t = cfg.telemetry
    result = Telemetry()
    if not t.enabled:
        return result
    exporters = list(span_exporters)
    readers = list(metric_readers)
    interval_ms = t.metric_interval * 1000
    if t.file_export:
        directory = telemetry_dir(cfg)
        exporters.append(FileSpanExporter(directory / f"{service}{SPANS_SUFFIX}", t.file_max_bytes))
        metrics_file = FileMetricExporter(
            directory / f"{service}{METRICS_SUFFIX}", t.file_max_bytes
        )
        readers.append(PeriodicExportingMetricReader(metrics_file, interval_ms))
        result.sinks.append(f"file:{directory}")
    if t.otlp_endpoint:
        span_otlp, metric_otlp = _otlp(t.otlp_protocol, t.otlp_endpoint)
        exporters.append(span_otlp)
        readers.append(PeriodicExportingMetricReader(metric_otlp, interval_ms))
        result.sinks.append(f"otlp-{t.otlp_protocol}:{t.otlp_endpoint}")
    resource = Resource.create(
        {
            "service.name": f"vigie-{service}",
            "service.namespace": "vigie",
            "service.instance.id": f"{socket.gethostname()}:{os.getpid()}",
        }
    )
    result.tracer_provider = TracerProvider(
        resource=resource, sampler=ParentBased(TraceIdRatioBased(t.sample_ratio))
    )
    for exporter in exporters:
        result.tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
    result.meter_provider = MeterProvider(metric_readers=readers, resource=resource)
    return result


def _otlp(protocol: str, endpoint: str) -> tuple[Any, Any]:
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=endpoint), OTLPMetricExporter(endpoint=endpoint)
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as HttpMetricExporter,
    )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpSpanExporter,
    )

    base = endpoint.rstrip("/")
    return (
        HttpSpanExporter(endpoint=f"{base}/v1/traces"),
        HttpMetricExporter(endpoint=f"{base}/v1/metrics"),
    )


@asynccontextmanager
async def service_telemetry(service: str, cfg: Config) -> AsyncIterator[Telemetry]:
    """Installed for the service's lifetime; flushed and shut down when it ends."""
    # Importing the OTLP exporters (gRPC) takes a while: not on the event loop.
    tel = await anyio.to_thread.run_sync(build, service, cfg)
    bus_telemetry.install(tel.tracer_provider, tel.meter_provider)
    if tel.sinks:
        log.info("%s telemetry: %s", service, ", ".join(tel.sinks))
    try:
        yield tel
    finally:
        bus_telemetry.install(None, None)
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(tel.shutdown)


# ----------------------------------------------------------------------------- inference


@contextmanager
def request_span(req: InferenceRequest, model: str) -> Iterator[Span]:
    """A span per generation request, a child of the message's ``process`` span; the engine
    links its batch spans to it (it is current while the engine is awaited)."""
    operation = "chat" if req.messages is not None else "text_completion"
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": operation,
        "gen_ai.request.model": req.model or model,
        "gen_ai.request.max_tokens": req.max_tokens,
        "vigie.inference.request_id": req.request_id,
        "vigie.inference.client": req.client,
        PRECEDENCE: req.precedence,
        LABEL: req.label,
    }
    if req.report_id is not None:
        attributes[REPORT_ID] = req.report_id
    tracer = bus_telemetry.tracer(SCOPE)
    with tracer.start_as_current_span(
        f"{operation} {req.model or model}", kind=SpanKind.INTERNAL, attributes=attributes
    ) as span:
        yield span


def record_answer(answer: InferenceResult) -> None:
    """The answer's numbers on the current request span, and in the inference metrics."""
    span = get_current_span()
    if span.is_recording():
        span.set_attributes(
            {
                "vigie.inference.status": answer.status,
                "gen_ai.response.model": answer.model or "",
                "vigie.engine": answer.engine or "",
                "gen_ai.usage.input_tokens": answer.prompt_tokens,
                "gen_ai.usage.cache_read_input_tokens": answer.cached_prompt_tokens,
                "gen_ai.usage.output_tokens": answer.completion_tokens,
                "gen_ai.response.finish_reasons": [answer.finish_reason or answer.status],
                "vigie.inference.queue_wait_ms": round(answer.queue_ms, 3),
                "vigie.inference.ttft_ms": round(answer.ttft_ms, 3),
                "vigie.inference.total_ms": round(answer.total_ms, 3),
            }
        )
    m = bus_telemetry.instruments(_ServiceInstruments, SCOPE)
    attrs = {PRECEDENCE: answer.precedence, "vigie.engine": answer.engine or ""}
    m.requests.add(1, {**attrs, "vigie.inference.status": answer.status})
    if answer.status == "expired":
        m.expired.add(1, attrs)
    if answer.status == "ok":
        m.ttft.record(answer.ttft_ms, attrs)
        m.queue_wait.record(answer.queue_ms, attrs)


class BatchSpans:
    """One span per run of consecutive engine steps over the same sequences (a batch),
    linked to each sequence's request span. Engine thread only; does nothing when no tracer
    provider is installed."""

    def __init__(self, engine: str, model: str, max_sequences: int) -> None:
        self._attrs = {"vigie.engine": engine, "gen_ai.request.model": model}
        self._max = max_sequences
        self._span: Span | None = None
        self._keys: frozenset[int] = frozenset()
        self._steps = 0
        self._tokens = 0
        self._last_end = 0

    def step(self, keys: frozenset[int], links: Callable[[], list[Any]], paused: int) -> None:
        """Before a step over ``keys``; ``links`` gives their request span contexts."""
        if keys == self._keys and self._span is not None:
            return
        self.close()
        if bus_telemetry._Installed.tracer_provider is None:
            return
        contexts = [c for c in links() if isinstance(c, SpanContext) and c.is_valid]
        self._span = bus_telemetry.tracer(SCOPE).start_span(
            f"engine batch {self._attrs['vigie.engine']}",
            context=Context(),  # a root of its own: it links to its requests, not under one
            kind=SpanKind.INTERNAL,
            links=[Link(c) for c in contexts],
            attributes={
                **self._attrs,
                "vigie.engine.batch.size": len(keys),
                "vigie.engine.batch.occupancy": round(len(keys) / max(1, self._max), 3),
                "vigie.engine.paused_sequences": paused,
            },
        )
        self._keys = keys
        self._steps = self._tokens = 0

    def stepped(self, tokens: int) -> None:
        if self._span is not None:
            self._steps += 1
            self._tokens += tokens
            self._last_end = time.time_ns()

    def close(self) -> None:
        span, self._span, self._keys = self._span, None, frozenset()
        if span is not None:
            span.set_attribute("vigie.engine.steps", self._steps)
            span.set_attribute("vigie.engine.tokens_generated", self._tokens)
            span.end(end_time=self._last_end or None)


# ----------------------------------------------------------------------------- metrics


class _ObservedEngine(Protocol):
    name: str
    model: str

    @property
    def stats(self) -> Any: ...

    def capacity(self) -> Any: ...


_engines: weakref.WeakSet[Any] = weakref.WeakSet()
#: Per engine, at its previous observation: (time, tokens generated) and steps.
_rate_marks: weakref.WeakKeyDictionary[Any, tuple[float, int]] = weakref.WeakKeyDictionary()
_step_marks: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()


def observe_engine(engine: _ObservedEngine) -> None:
    """The engine's gauges (occupancy, tokens/s, paused sequences…) while it lives."""
    bus_telemetry.instruments(_ServiceInstruments, SCOPE)
    _engines.add(engine)


def _engine_value(kind: str, engine: Any) -> float:
    stats = engine.stats
    if kind == "tokens":
        return float(stats.tokens_generated)
    if kind == "paused_steps":
        return float(stats.paused_sequence_steps)
    if kind == "prefix_hit_rate":
        return float(stats.prefix_hit_rate)
    if kind == "cached_tokens":
        return float(stats.tokens_prompt_cached)
    if kind == "tokens_per_second":
        now = time.monotonic()
        then, before = _rate_marks.get(engine, (now, stats.tokens_generated))
        _rate_marks[engine] = (now, stats.tokens_generated)
        return (stats.tokens_generated - before) / (now - then) if now > then else 0.0
    if kind == "batch_size":  # mean sequences per step since the previous observation
        new = min(stats.steps - _step_marks.get(engine, 0), len(stats.step_sizes))
        _step_marks[engine] = stats.steps
        recent = stats.step_sizes[-new:] if new > 0 else []
        return sum(recent) / len(recent) if recent else 0.0
    cap = engine.capacity()
    if kind == "occupancy":
        return float(cap.running / max(1, cap.max_sequences))
    return float(cap.paused if kind == "paused" else cap.waiting)


def _engine_gauge(kind: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def callback(_options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(
                _engine_value(kind, engine),
                {"vigie.engine": engine.name, "gen_ai.request.model": engine.model},
            )
            for engine in list(_engines)
        ]

    return callback


class _ServiceInstruments:
    def __init__(self, meter: Meter) -> None:
        self.latency = meter.create_histogram(
            "vigie.report.latency",
            unit="s",
            description="Ingest to enriched publish of a report's complete event",
        )
        self.flags = meter.create_counter(
            "vigie.flags", unit="{flag}", description="Flags of complete events, by code"
        )
        self.dropped_entities = meter.create_counter(
            "vigie.entities.dropped",
            unit="{entity}",
            description="Model entities not found in the text, dropped",
        )
        self.requests = meter.create_counter(
            "vigie.inference.requests", unit="{request}", description="Answers, by status"
        )
        self.expired = meter.create_counter(
            "vigie.inference.expired",
            unit="{request}",
            description="Requests whose deadline passed before they started",
        )
        self.ttft = meter.create_histogram(
            "vigie.inference.ttft", unit="ms", description="Request publish to first token"
        )
        self.queue_wait = meter.create_histogram(
            "vigie.inference.queue_wait", unit="ms", description="Request publish to admission"
        )
        for kind, name, unit, what in (
            ("occupancy", "vigie.engine.batch.occupancy", "1", "Running / max sequences"),
            ("batch_size", "vigie.engine.batch.size", "{sequence}", "Sequences per step"),
            ("paused", "vigie.engine.paused_sequences", "{sequence}", "Paused sequences"),
            ("waiting", "vigie.engine.waiting", "{request}", "Requests waiting for admission"),
            ("tokens_per_second", "vigie.engine.tokens_per_second", "{token}/s", "Decode rate"),
            (
                "prefix_hit_rate",
                "vigie.engine.prefix_cache.hit_rate",
                "1",
                "Share of admitted sequences that started from a kept prompt prefix",
            ),
        ):
            meter.create_observable_gauge(
                name, callbacks=[_engine_gauge(kind)], unit=unit, description=what
            )
        meter.create_observable_counter(
            "vigie.engine.tokens",
            callbacks=[_engine_gauge("tokens")],
            unit="{token}",
            description="Tokens generated",
        )
        meter.create_observable_counter(
            "vigie.engine.prompt_tokens.cached",
            callbacks=[_engine_gauge("cached_tokens")],
            unit="{token}",
            description="Prompt tokens reused from a kept prefix instead of computed",
        )
        meter.create_observable_counter(
            "vigie.engine.paused_sequence_steps",
            callbacks=[_engine_gauge("paused_steps")],
            unit="{step}",
            description="Steps a running sequence sat out paused",
        )


def record_published(event: EnrichedEvent) -> None:
    """A complete event: its end-to-end latency and its flags."""
    if event.partial:
        return
    m = bus_telemetry.instruments(_ServiceInstruments, SCOPE)
    latency = (event.published_at - event.ingested_at).total_seconds()
    m.latency.record(max(0.0, latency), {PRECEDENCE: event.precedence, LABEL: event.label})
    for flag in event.flags:
        m.flags.add(1, {"vigie.flag.code": flag.code, "vigie.task": flag.task or "ingest"})


def record_dropped(task: str, label: str, dropped: int) -> None:
    if dropped > 0:
        m = bus_telemetry.instruments(_ServiceInstruments, SCOPE)
        m.dropped_entities.add(dropped, {"vigie.task": task, LABEL: label})
