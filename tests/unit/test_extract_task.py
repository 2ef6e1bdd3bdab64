"""extract's task logic with plain values: the model is asked only for its configured types;
the other types come from the patterns and the domain's finders."""

from __future__ import annotations

import json

from services.config.schema import Config, TasksConfig
from services.extract.model import ENTITY_TYPES
from services.extract.task import build
from tests.reports import ingested_report

TEXT = "Le 2e REP voit deux T-72B3 près de Kharkiv, indicatif RAVEN 3, à 251430ZNOV26."


REPORT = ingested_report(TEXT, ["extract"], language="fr")


def _answer(*entities: tuple[str, str]) -> str:
    return json.dumps({"entities": [{"type": t, "text": x} for t, x in entities]})


def test_the_model_types_are_the_configured_ones() -> None:
    task = build(Config(), "few-shot")
    assert task.model_types == ("Location", "MilitaryPlatform")
    assert task.version.endswith("+types:Location,MilitaryPlatform")
    alternatives = task.prompt(REPORT, None).json_schema
    assert alternatives is not None
    items = alternatives["properties"]["entities"]["items"]["anyOf"]
    assert {a["properties"]["type"]["const"] for a in items} == {"Location", "MilitaryPlatform"}


def test_a_model_entity_of_a_type_not_asked_for_is_left_out() -> None:
    task = build(Config(), "few-shot")
    answer = _answer(("Unit", "2e REP"), ("Location", "Kharkiv"), ("MilitaryPlatform", "T-72B3"))
    output = task.conclude(REPORT, answer, "stop", final=True)
    found = {(e.type, e.text, e.source) for e in output.entities}
    assert ("Location", "Kharkiv", "model") in found
    assert ("MilitaryPlatform", "T-72B3", "model") in found
    # The unit and the callsign come from the domain's finders, the DTG from the patterns.
    assert ("Unit", "2e REP", "pattern") in found
    assert ("CommsIdentifier", "RAVEN 3", "pattern") in found
    assert ("DateTime", "251430ZNOV26", "pattern") in found
    assert not any(e.type == "Unit" and e.source == "model" for e in output.entities)


def test_every_type_may_be_asked_for() -> None:
    every = TasksConfig(extract_model_types=ENTITY_TYPES)
    task = build(Config(tasks=every), "few-shot")
    assert "+types:" not in task.version
    answer = _answer(("Person", "Kharkiv"))
    output = task.conclude(REPORT, answer, "stop", final=True)
    assert ("Person", "Kharkiv") in {(e.type, e.text) for e in output.entities}
