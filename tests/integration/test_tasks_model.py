"""The three model tasks with the real CPU engine and the shipped default model."""

from __future__ import annotations

from pathlib import Path

import nats
import pytest

from schemas.v1 import EnrichedEvent
from services.catalogue import builtin_registry
from services.config.schema import (
    CollateConfig,
    Config,
    InferenceConfig,
    IngestConfig,
    NatsConfig,
    TasksConfig,
)
from services.inference.registry import verify_model
from services.runtime import service_names
from tests.integration.pipeline import collector, fast_config, pipeline

#: Every service of the shipped task registry.
SERVICES = service_names(Config())
FRENCH = (
    "COMPTE RENDU — 3e RIMa, 2e compagnie. Le 251430ZNOV26, la patrouille observe trois BTR-82A "
    "en mouvement vers le nord, position 31U DQ 48251 11932. Aucun tir."
)
ENGLISH = (
    "SPOTREP. At 260400ZNOV26 an enemy company with four T-72B3 tanks was observed at "
    "37U DQ 12345 67890 moving west. Assessment: probable attack on the bridge."
)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("vigie-data")
    verify_model(builtin_registry().default_model, path)
    return path


def config(data_dir: Path, **inference: object) -> Config:
    base = fast_config()
    return Config(
        bus=base.bus,
        nats=NatsConfig(data_dir=str(data_dir)),
        ingest=IngestConfig(tasks=("extract", "translate", "summarise")),
        collate=CollateConfig(deadline_routine=600.0, recheck_interval=0.5),
        tasks=TasksConfig(),
        inference=InferenceConfig(
            **{"max_sequences": 8, "reserved_sequences": 1, "threads": 2, **inference}  # type: ignore[arg-type]
        ),
    )


async def enrich(url: str, cfg: Config, reports: dict[str, str]) -> dict[str, EnrichedEvent]:
    """Publish each report (keyed by its id); its first complete event."""
    async with pipeline(url, cfg, SERVICES), collector(url) as seen:
        nc = await nats.connect(url)
        js = nc.jetstream()
        for rid, text in reports.items():
            await js.publish("feeds.np.report.model", text.encode(), headers={"Nats-Msg-Id": rid})
        await nc.close()
        await seen.wait_for(
            lambda: len({e.publisher_id for e in seen.events if not e.partial}) == len(reports),
            within=300,
        )
        assert seen.dead == []
        complete = [e for e in seen.events if not e.partial]
    return {e.publisher_id or "": e for e in complete}


async def test_french_and_english_reports_are_enriched_by_the_real_model(
    nats_url: str, data_dir: Path
) -> None:
    events = await enrich(nats_url, config(data_dir), {"fr": FRENCH, "en": ENGLISH})
    assert len(events) == 2
    for rid, event in events.items():
        statuses = {t.task: t.status for t in event.tasks}
        assert statuses["translate"] == ("skipped" if rid == "fr" else "ok"), event.tasks
        assert statuses["summarise"] == "ok", event.tasks
        assert statuses["extract"] == "ok", event.tasks
        assert event.summary, event.tasks
        assert event.target_language == "fr"
        if rid == "en":
            assert event.translation
        else:
            assert event.translation is None
        # Every entity, the model's included, is located in the text.
        assert event.entities
        assert all(event.normalised_text[e.start : e.end] == e.text for e in event.entities)
        by_stage = {p.stage: p for p in event.provenance}
        for task in ("extract", "summarise") + (("translate",) if rid == "en" else ()):
            p = by_stage[task]
            assert p.model == "gemma3-270m" and p.engine == "llama.cpp", p
            assert p.prompt_style == "few-shot" and p.prompt_version
            assert p.attempts >= 1 and p.prompt_tokens > 0 and p.completion_tokens > 0
            # Every attempt's tokens, the last one's among them.
            u = p.usage
            assert u is not None and u.generated_tokens >= p.completion_tokens, p
            assert u.prompt_tokens_computed + u.prompt_tokens_reused >= p.prompt_tokens, p
            assert u.discarded_tokens <= u.generated_tokens - p.completion_tokens, p
        assert event.usage is not None
        assert event.usage.generated_tokens == sum(
            p.usage.generated_tokens for p in event.provenance if p.usage
        )


async def test_a_report_too_long_for_the_model_fails_its_tasks_and_keeps_patterns(
    nats_url: str, data_dir: Path
) -> None:
    long_report = " ".join([FRENCH] * 40)
    cfg = config(data_dir, sequence_tokens=512)
    events = await enrich(nats_url, cfg, {"long": long_report})
    event = events["long"]
    statuses = {t.task: t.status for t in event.tasks}
    assert statuses == {"extract": "failed", "translate": "skipped", "summarise": "failed"}
    detail = next(t.detail for t in event.tasks if t.task == "summarise")
    assert detail and "exceeds" in detail and "context" in detail
    # What extraction knows without the model still reaches the event.
    assert {e.type for e in event.entities} >= {"DateTime", "Location"}
