"""logstat on a real nats-server, with the model's TEXT scripted.

Ingest, the logstat service, the inference service, collate and the subjects are the real ones;
only the engine is the no-model stand-in answering each request with the text a test scripts:
the way to make a model cite what the report does not say, confuse units, or answer outside the
schema, on demand.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import nats

from schemas.v1 import EnrichedEvent
from services.config.schema import CollateConfig, Config, IngestConfig, TasksConfig
from services.inference.engine import GenerationRequest
from services.inference.standin import StandInEngine
from tests.integration.pipeline import collector, fast_config, pipeline

TASK = "logstat"
SERVICES = ("ingest", TASK, "inference", "collate")
FREE = (
    "Compte rendu logistique, 2e compagnie. Nous avons consommé 3,5 m3 de gazole hier. "
    "Il reste 1 200 L. Il manque une douzaine de caisses de grenades. Citerne d'eau : 12 m3."
)
LINES = (
    "LOGSTAT\nA. UNIT: 1-22 IN BN\nB. DTG: 261200ZNOV26\nC. CL I: 4 DOS (GREEN)\n"
    "D. CL III (DIESEL): 18,500 L ON HAND / 6,000 L REQ (AMBER)\nE. CL IX: 3 VEH NMC"
)
SPOTREP = "SPOTREP. 251430ZNOV26. Patrol observed 3 BTR-82A moving north at 31U DQ 48251 11932."
FUEL_ONLY = "Point carburant : il reste 900 L de gazole, besoin urgent de munitions."

Item = tuple[str, str, float, str, str]


def items(*entries: Item) -> str:
    keys = ("text", "item", "quantity", "unit", "status")
    return json.dumps({"items": [dict(zip(keys, e, strict=True)) for e in entries]})


class Script:
    """The model's text per report (recognised in the prompt) and attempt."""

    def __init__(self, answers: dict[str, Callable[[int], str]]) -> None:
        self.answers = answers
        self.requests: list[GenerationRequest] = []

    def __call__(self, request: GenerationRequest) -> str:
        self.requests.append(request)
        _, task, attempt = request.request_id.rsplit(":", 2)
        assert task == TASK
        prompt = request.prompt or ""
        report = next(key for key in self.answers if key in prompt)
        return self.answers[report](int(attempt))

    def prompts(self) -> list[str]:
        return [r.prompt or "" for r in self.requests]


def config() -> Config:
    return fast_config(
        ingest=IngestConfig(tasks=(TASK,)),
        tasks=TasksConfig(prompt_style="few-shot"),
        collate=CollateConfig(recheck_interval=0.3, deadline_routine=60.0),
    )


async def run_reports(nats_url: str, script: Script, reports: list[str]) -> list[EnrichedEvent]:
    """Publish the reports; the last complete event of each, in publishing order."""
    async with (
        pipeline(nats_url, config(), SERVICES, StandInEngine(script)),
        collector(nats_url) as seen,
    ):
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        for i, text in enumerate(reports):
            await js.publish(
                f"feeds.np.report.l{i}", text.encode(), headers={"Nats-Msg-Id": f"m{i}"}
            )
        await nc.close()
        await seen.wait_for(
            lambda: len({e.report_id for e in seen.events if not e.partial}) == len(reports),
            within=30,
        )
        assert seen.dead == []
    final = {e.publisher_id: e for e in seen.events if not e.partial}
    return [final[f"m{i}"] for i in range(len(reports))]


def status(event: EnrichedEvent) -> str:
    return next(t.status for t in event.tasks if t.task == TASK)


def grounded(event: EnrichedEvent) -> list[dict[str, object]]:
    found = event.outputs[TASK]["items"]
    assert all(event.normalised_text[i["start"] : i["end"]] == i["text"] for i in found)
    return list(found)


async def test_free_text_is_grounded_merged_retried_and_flagged(nats_url: str) -> None:
    first = items(
        ("3,5 m3 de gazole", "gazole", 3.5, "m3", "consumed"),  # the patterns read it too
        ("douzaine de caisses", "grenades", 12, "boxes", "required"),
        ("900 L de kérosène", "kérosène", 900, "litres", "on_hand"),  # not in the report
    )
    second = items(
        ("3,5 m3 de gazole", "gazole", 3.5, "m3", "consumed"),
        ("douzaine de caisses", "grenades", 12, "rounds", "required"),  # the report says boxes
    )
    script = Script({FREE: lambda attempt: first if attempt == 1 else second})
    [event] = await run_reports(nats_url, script, [FREE])
    assert status(event) == "ok"
    assert [
        (i["text"], i["quantity"], i["unit"], i["status"], i["source"]) for i in grounded(event)
    ] == [
        ("3,5 m3", 3.5, "m3", "consumed", "pattern"),
        ("1 200 L", 1200, "litres", "on_hand", "pattern"),
        ("douzaine de caisses", 12, "boxes", "required", "model"),
        ("12 m3", 12, "m3", "on_hand", "pattern"),
    ]
    # The invented quantity got one retry that named it; the second answer dropped it.
    one, two = script.prompts()
    assert one != two and "900 litres" in two and "900 litres" not in one
    codes = {f.code: f for f in event.flags}
    assert set(codes) == {"unit_confusion"}
    assert codes["unit_confusion"].task == TASK
    assert codes["unit_confusion"].items == ["douzaine de caisses"]
    [provenance] = [p for p in event.provenance if p.stage == TASK]
    assert (provenance.attempts, provenance.model, provenance.prompt_style) == (
        2,
        "stand-in",
        "few-shot",
    )
    outcome = next(t for t in event.tasks if t.task == TASK)
    assert outcome.quality is not None
    assert (outcome.quality.entities_proposed, outcome.quality.entities_grounded) == (2, 2)


async def test_quantities_invented_twice_are_dropped_and_flagged(nats_url: str) -> None:
    invented = items(
        ("900 L de gazole", "gazole", 900, "litres", "on_hand"),
        ("4 000 L de kérosène", "kérosène", 4000, "litres", "required"),
    )
    script = Script({FUEL_ONLY: lambda attempt: invented})
    [event] = await run_reports(nats_url, script, [FUEL_ONLY])
    assert status(event) == "ok" and len(script.requests) == 2
    assert [(i["text"], i["source"]) for i in grounded(event)] == [("900 L", "pattern")]
    [flag] = [f for f in event.flags if f.code == "quantity_ungrounded"]
    assert flag.task == TASK and len(flag.items) == 1 and "4000 litres" in flag.items[0]


async def test_a_complete_logstat_and_a_spotrep_cost_the_engine_nothing(nats_url: str) -> None:
    script = Script({})
    logstat, spotrep = await run_reports(nats_url, script, [LINES, SPOTREP])
    assert script.requests == []
    assert status(logstat) == "ok"
    output = logstat.outputs[TASK]
    assert (output["unit"], output["dtg"]) == ("1-22 IN BN", "2026-11-26T12:00:00Z")
    assert [(i["quantity"], i["unit"], i["status"], i["rating"]) for i in grounded(logstat)] == [
        (4, "days_of_supply", "on_hand", "green"),
        (18500, "litres", "on_hand", "amber"),
        (6000, "litres", "required", "amber"),
        (3, "vehicles", "unserviceable", None),
    ]
    assert status(spotrep) == "skipped" and TASK not in spotrep.outputs
    detail = next(t.detail for t in spotrep.tasks if t.task == TASK)
    assert detail == "not a logistics report"


async def test_output_outside_the_schema_twice_fails_the_task(nats_url: str) -> None:
    script = Script({FUEL_ONLY: lambda attempt: '{"items": [], "verdict": "ignore the schema"}'})
    [event] = await run_reports(nats_url, script, [FUEL_ONLY])
    assert status(event) == "failed" and len(script.requests) == 2
    [flag] = [f for f in event.flags if f.code == "output_invalid"]
    assert flag.task == TASK
