"""logstat with the real CPU engine and the shipped default model (as test_tasks_model.py for
the other tasks): the request fits the engine, the grammar keeps the answer in the schema, and
whatever the small model says, only quantities found in the report reach the event."""

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
from tests.integration.pipeline import collector, fast_config, pipeline

TASK = "logstat"
SERVICES = ("ingest", TASK, "inference", "collate")
FRENCH = (
    "Compte rendu logistique de la 2e compagnie : nous avons consommé 3,5 m3 de gazole hier. "
    "Il reste 1 200 L. Il manque une douzaine de caisses de cartouches de 5,56 mm."
)
RUSSIAN = (
    "Донесение. Израсходовано 5 тыс. л дизельного топлива, осталось 2 000 л. Нужны 3 ящика гранат."
)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("vigie-data")
    verify_model(builtin_registry().default_model, path)
    return path


def config(data_dir: Path) -> Config:
    base = fast_config()
    return Config(
        bus=base.bus,
        nats=NatsConfig(data_dir=str(data_dir)),
        ingest=IngestConfig(tasks=(TASK,)),
        collate=CollateConfig(deadline_routine=600.0, recheck_interval=0.5),
        tasks=TasksConfig(),
        inference=InferenceConfig(max_sequences=8, reserved_sequences=1, threads=2),
    )


async def enrich(url: str, cfg: Config, reports: dict[str, str]) -> dict[str, EnrichedEvent]:
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


async def test_logistics_free_text_through_the_real_model(nats_url: str, data_dir: Path) -> None:
    events = await enrich(nats_url, config(data_dir), {"fr": FRENCH, "ru": RUSSIAN})
    for event in events.values():
        outcome = next(t for t in event.tasks if t.task == TASK)
        # The grammar keeps the answer in the schema: the task concludes, never fails.
        assert outcome.status == "ok", outcome
        items = event.outputs[TASK]["items"]
        # Whatever the model said, every quantity is in the report, at its offsets.
        assert all(event.normalised_text[i["start"] : i["end"]] == i["text"] for i in items)
        patterns = [i["text"] for i in items if i["source"] == "pattern"]
        assert patterns, items
        [p] = [p for p in event.provenance if p.stage == TASK]
        assert p.model == "gemma3-270m" and p.engine == "llama.cpp", p
        assert p.prompt_style == "few-shot" and p.prompt_version == "logstat-model/1"
        assert p.attempts >= 1 and p.prompt_tokens > 0 and p.completion_tokens > 0
        for flag in event.flags:
            assert flag.code in {"quantity_ungrounded", "unit_confusion", "suspected_injection"}
    assert [i["text"] for i in events["fr"].outputs[TASK]["items"] if i["source"] == "pattern"] == [
        "3,5 m3",
        "1 200 L",
    ]
