"""What a service reports about itself (services.health) and how `vigie health` judges the
answers (services.cli.health), without a server."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bus.worker import WorkerStats
from services.cli.health import _instance, format_health, verdict
from services.health import Vitals, engine_mode, http_response
from services.inference.engine import Capacity, Health
from services.inference.standin import StandInEngine


@dataclass
class FakeClient:
    is_connected: bool = True


@dataclass
class FakeSpec:
    durable: str


@dataclass
class FakeSettings:
    concurrency: int = 8


@dataclass
class FakeWorker:
    stopping: bool = False
    stats: WorkerStats = field(default_factory=lambda: WorkerStats(handled=5, acked=4, retried=1))
    in_flight: int = 2
    settings: FakeSettings = field(default_factory=FakeSettings)
    consumers: list[FakeSpec] = field(default_factory=lambda: [FakeSpec("a"), FakeSpec("b")])


class SickEngine(StandInEngine):
    def health(self) -> Health:
        return Health(ok=False, engine="exllamav2-paged", model="m", detail="CUDA error")

    def capacity(self) -> Capacity:
        return Capacity(
            max_sequences=8, running=3, paused=1, waiting=2, kv_tokens=0, kv_tokens_reserved=0
        )


def vitals(**kw: Any) -> Vitals:
    worker = kw.pop("worker", FakeWorker())
    client = kw.pop("client", FakeClient())
    return Vitals(service="inference", client=client, worker=lambda: worker, **kw)


def test_serving_with_a_healthy_engine_is_ready() -> None:
    engine = StandInEngine()
    snap = vitals(engine=lambda: engine).snapshot()
    assert snap["state"] == "serving" and snap["ready"] and snap["problems"] == []
    assert snap["worker"] == {
        "handled": 5,
        "acked": 4,
        "deferred": 0,
        "retried": 1,
        "dead_lettered": 0,
        "in_flight": 2,
        "concurrency": 8,
        "consumers": ["a", "b"],
    }
    assert snap["engine"]["ok"] and snap["engine"]["engine"] == "stand-in"
    json.dumps(snap)  # what the service API and the HTTP probe send


def test_each_reason_not_to_be_ready_is_named() -> None:
    assert vitals(worker=None).snapshot()["problems"] == ["starting"]
    assert vitals(worker=FakeWorker(stopping=True)).snapshot()["state"] == "draining"
    assert vitals(drained=lambda: True).snapshot()["state"] == "stopped"
    offline = vitals(client=FakeClient(is_connected=False)).snapshot()
    assert not offline["ready"] and offline["problems"] == ["not connected to NATS"]
    engine = SickEngine()
    sick = vitals(engine=lambda: engine).snapshot()
    assert not sick["ready"] and sick["problems"] == ["engine: CUDA error"]
    assert sick["engine"]["mode"] == "paged"
    assert (sick["engine"]["running"], sick["engine"]["paused"], sick["engine"]["waiting"]) == (
        3,
        1,
        2,
    )
    broken = vitals(failure=lambda: "engine failed").snapshot()
    assert broken["state"] == "broken" and broken["problems"] == ["engine failed"]


def test_engine_modes() -> None:
    assert engine_mode("exllamav2-static") == "static"
    assert engine_mode("llama.cpp") == "continuous"


def test_http_probe_answers() -> None:
    v = vitals()
    live = http_response(v, b"GET /livez HTTP/1.1\r\nHost: x")
    assert live.startswith(b"HTTP/1.1 200 OK\r\n")
    assert json.loads(live.partition(b"\r\n\r\n")[2]) == {"service": "inference", "live": True}
    assert http_response(v, b"GET /readyz?x=1 HTTP/1.1").startswith(b"HTTP/1.1 200 ")
    not_ready = vitals(worker=None)
    assert http_response(not_ready, b"GET /readyz HTTP/1.1").startswith(b"HTTP/1.1 503 ")
    assert http_response(v, b"HEAD /livez HTTP/1.1").endswith(b"\r\n\r\n")
    assert http_response(v, b"POST /livez HTTP/1.1").startswith(b"HTTP/1.1 405 ")
    assert http_response(v, b"GET /metrics HTTP/1.1").startswith(b"HTTP/1.1 404 ")


def stats_answer(name: str, ident: str, status: dict[str, Any] | None) -> bytes:
    endpoints = [{"name": "status", "data": status}] if status is not None else []
    return json.dumps(
        {"name": name, "id": ident, "version": "0.1.0", "started": None, "endpoints": endpoints}
    ).encode()


def test_verdict_names_the_missing_and_the_unhealthy() -> None:
    ready = vitals().snapshot()
    draining = vitals(worker=FakeWorker(stopping=True)).snapshot()
    answers = [
        stats_answer("vigie-inference", "A", ready),
        stats_answer("vigie-inference", "B", draining),
        stats_answer("other-service", "C", ready),
        b"not json",
    ]
    instances = [i for i in map(_instance, answers) if i is not None]
    assert [i["id"] for i in instances] == ["A", "B"]
    doc = verdict(["inference", "collate"], instances)
    assert not doc["ok"]
    assert doc["missing"] == ["vigie-collate"]
    assert doc["unhealthy"] == ["vigie-inference B (draining)"]
    text = format_health(doc)
    assert "vigie-collate: no instance answered" in text
    assert verdict(["inference"], instances[:1])["ok"]


def test_an_answer_without_status_is_not_healthy() -> None:
    instance = _instance(stats_answer("vigie-ingest", "X", None))
    assert instance is not None and instance["status"] is None
    assert verdict(["ingest"], [instance])["unhealthy"] == [
        "vigie-ingest X (no status in its stats)"
    ]
