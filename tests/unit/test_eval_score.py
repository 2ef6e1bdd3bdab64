"""One event against its gold, the aggregate, the Markdown and the progress bar
(services/evaluation/score.py, aggregate.py, markdown.py, progress.py), on plain values."""

from __future__ import annotations

import datetime as dt
import io

from schemas.v1 import EnrichedEvent, Entity, Flag, Provenance, Quality, TaskOutcome
from services.evaluation.aggregate import aggregate, run_key
from services.evaluation.gold import GoldEntity, GoldQuantity, GoldReport, GoldTerm
from services.evaluation.markdown import headline, render_markdown
from services.evaluation.progress import Progress, clock_text
from services.evaluation.score import Roles, score_report

NOW = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)
TEXT = "251430ZNOV26: 3 BTR-82A at 31U DQ 48251 11932, near the enemy. 2000 L of diesel."
GOLD = GoldReport(
    id="en-spotrep-900",
    split="dev",
    language="en",
    form="spotrep",
    label="np",
    precedence="FLASH",
    text=TEXT,
    reference_language="fr",
    reference_text="251430ZNOV26 : 3 BTR-82A en 31U DQ 48251 11932, près de l'ennemi. "
    "2000 L de gazole.",
    entities=(
        GoldEntity("DateTime", "251430ZNOV26", 0, 12, "2026-11-25T14:30:00Z"),
        GoldEntity("MilitaryPlatform", "BTR-82A", 16, 23),
        GoldEntity("Location", "31U DQ 48251 11932", 27, 45, "31UDQ4825111932"),
    ),
    quantities=(GoldQuantity("diesel", 2000, "litres", "on_hand", "2000 L", 64, 70),),
    summary_facts=("3 BTR-82A en 31U DQ 48251 11932", "2000 litres de gazole"),
    glossary_terms=(GoldTerm("diesel", "gazole"),),
    protected_tokens=("251430ZNOV26", "BTR-82A", "31U DQ 48251 11932"),
    injection=True,
)
FILLS = {"ex": ("entities",), "tr": ("translation",), "su": ("summary",), "lo": ("outputs",)}
TASKS = ("ex", "tr", "su", "lo")
ROLES = Roles.of(FILLS, TASKS)


def french(text: str) -> str:
    return "fr"


def event(**changes: object) -> EnrichedEvent:
    fields: dict[str, object] = {
        "report_id": "r1",
        "revision": 1,
        "partial": False,
        "label": "np",
        "kind": "report",
        "source": "gold",
        "precedence": "FLASH",
        "original_text": TEXT,
        "normalised_text": TEXT,
        "language": "en",
        "language_confidence": 0.99,
        "entities": [
            Entity(
                type="DateTime", text="251430ZNOV26", start=0, end=12, value="2026-11-25T14:30:00Z"
            ),
            Entity(type="MilitaryPlatform", text="BTR-82A", start=16, end=23, source="model"),
            Entity(
                type="Location",
                text="31U DQ 48251 11932",
                start=27,
                end=45,
                value="31UDQ4825111932",
            ),
            Entity(type="Unit", text="en", start=52, end=54, source="model"),  # in "enemy"
        ],
        "tasks": [
            TaskOutcome(
                task="ex", status="ok", quality=Quality(entities_proposed=3, entities_grounded=2)
            ),
            TaskOutcome(task="tr", status="ok"),
            TaskOutcome(task="su", status="ok"),
            TaskOutcome(task="lo", status="ok"),
        ],
        "ingested_at": NOW,
        "published_at": NOW,
        "trace_id": "0" * 32,
        "provenance": [
            Provenance(
                stage=t,
                version=f"{t}/1",
                started_at=NOW,
                finished_at=NOW,
                model="m",
                engine="e",
                prompt_version=f"{t}/1",
                prompt_style="few-shot",
            )
            for t in ("ex", "tr", "su")
        ],
        # The translation lost a BTR-82A and the glossary term; nothing flags it.
        "translation": "La patrouille a vu 3 BTR 82A en 31U DQ 48251 11932 le 251430ZNOV26, "
        "près de l'ennemi, avec 2000 L de diesel.",
        "summary": "3 BTR-82A en 31U DQ 48251 11932 ; 500 chars.",
        "target_language": "fr",
        "flags": [
            Flag(code="suspected_injection", detail="x"),
            Flag(code="entities_dropped", detail="x", task="ex", items=["Paris", "BTR-82A"]),
            Flag(code="truncated", detail="x", task="su"),
        ],
        "outputs": {
            "lo": {
                "items": [
                    {
                        "quantity": 2000,
                        "unit": "litres",
                        "status": "on_hand",
                        "start": 64,
                        "end": 70,
                    }
                ]
            }
        },
    }
    fields.update(changes)
    return EnrichedEvent(**fields)  # type: ignore[arg-type]


def test_roles_come_from_what_each_task_fills() -> None:
    assert Roles.of(FILLS, TASKS) == Roles("tr", "su", "ex", ("lo",))
    assert Roles.of(FILLS, ("ex",)) == Roles(entities="ex")


def test_a_report_is_scored_against_its_gold() -> None:
    score = score_report(GOLD, event(), ROLES, TASKS, target="fr", identify=french)
    assert score.event == "complete" and score.text_matches
    t = score.translation
    assert t is not None and t.produced and (t.terms, t.terms_followed) == (1, 0)
    assert [(p.token, p.kept) for p in t.protected] == [
        ("251430ZNOV26", 1),
        ("BTR-82A", 0),
        ("31U DQ 48251 11932", 1),
    ]
    s = score.summary
    assert s is not None and s.facts_recalled == 1 and s.unsupported == ("500",)
    assert score.quantities is not None and score.quantities.tp == 1
    assert score.values is not None and score.values.found == {"dtg": 1, "mgrs": 1}
    assert score.in_word == ("Unit 'en' at 52",)
    cases = {(c.task, c.code): c for c in score.cases}
    assert cases[(None, "suspected_injection")].flagged
    assert (
        cases[("tr", "protected_altered")].error and not cases[("tr", "protected_altered")].flagged
    )
    assert cases[("tr", "glossary_missed")].error
    assert cases[("su", "unfaithful_summary")].error
    dropped = cases[("ex", "entities_dropped")]
    # "Paris" is not in the text (a true drop), "BTR-82A" is; the in-word "en" was kept.
    assert dropped.error and dropped.flagged
    assert dropped.detail == "dropped: Paris; kept in a word: Unit 'en' at 52"


def test_no_event_and_a_partial_event() -> None:
    none = score_report(GOLD, None, ROLES, TASKS, target="fr", identify=french)
    assert none.event == "none" and none.statuses == dict.fromkeys(TASKS, "none")
    partial = event(
        partial=True, translation=None, tasks=[TaskOutcome(task="tr", status="missing")]
    )
    score = score_report(GOLD, partial, ROLES, TASKS, target="fr", identify=french)
    assert score.event == "partial" and score.statuses["tr"] == "missing"
    assert score.translation is not None and not score.translation.produced


def test_the_aggregate_counts_silent_failures_and_flag_quality() -> None:
    scores = [
        score_report(GOLD, event(), ROLES, TASKS, target="fr", identify=french),
        score_report(GOLD, None, ROLES, TASKS, target="fr", identify=french),
    ]
    fig = aggregate(scores, TASKS, target="fr", max_words=60)
    assert fig["events"] == {"complete": 1, "none": 1}
    t = fig["translation"]
    assert (t["due"], t["produced"], t["protected_exact"], t["term_success_rate"]) == (
        2,
        1,
        round(2 / 3, 4),
        0.0,
    )
    assert t["chrf"]["segments"] == 2 and t["chrf"]["signature"].startswith("nrefs:1")
    assert fig["entities"]["overall"]["tp"] == 3 and fig["entities"]["overall"]["fp"] == 1
    assert fig["entities"]["model_grounded"] == round(2 / 3, 4)
    assert fig["quantities"]["precision"] == 1.0 and fig["quantities"]["recall"] == 0.5
    assert fig["summary"]["precision"] == round(3 / 4, 4)
    silent = fig["flags"]["silent_failures"]
    assert silent["by_flag"] == {
        "protected_altered": 1,
        "glossary_missed": 1,
        "unfaithful_summary": 1,
    }
    assert fig["flags"]["quality"]["entities_dropped"]["precision"] == 1.0
    assert fig["flags"]["unjudged"] == ["truncated"]
    assert fig["flags"]["flagged_or_failed"]["tr"] == 0.0


def test_the_key_names_model_adapter_engine_and_prompts() -> None:
    key = run_key([event()])
    assert key["id"] == "m | adapter none | e | few-shot | ex ex/1 | su su/1 | tr tr/1"
    assert run_key([])["model"] == "none"


def test_the_markdown_shows_every_section() -> None:
    scores = [score_report(GOLD, event(), ROLES, TASKS, target="fr", identify=french)]
    fig = aggregate(scores, TASKS, target="fr", max_words=60)
    doc = {
        "command": "vigie eval --split dev",
        "started_at": "2026-11-25T15:00:00+00:00",
        "wall_s": 1.0,
        "key": run_key([event()]),
        "machine": {"cpu": "cpu", "cores": 2, "python": "3.11"},
        "options": {
            "split": "dev",
            "server": "embedded",
            "tasks": list(TASKS),
            "inflight": 4,
            "deadline_s": 3600.0,
        },
        "figures": fig,
        "calibration": {"term_success_rate_of_references": 1.0},
    }
    text = render_markdown(doc, ["flags.png"])
    for section in (
        "## Translation",
        "## Entities",
        "## Logistics quantities",
        "## Summary",
        "## Statuses",
        "## Flags against the gold",
        "## Silent failures",
        "## Method",
        "![flags.png](flags.png)",
    ):
        assert section in text, section
    assert "**3** (by flag" in text
    assert any(line.startswith("silent failures: 3") for line in headline(fig))


def test_progress_shows_done_elapsed_and_eta() -> None:
    now = [0.0]
    out = io.StringIO()
    bar = Progress(4, out, clock=lambda: now[0], width=8, in_place=False)
    assert bar.line() == "[........] 0/4 reports · 0s elapsed · ETA ?"
    now[0] = 30.0
    bar.advance("en-spotrep-001")
    assert out.getvalue() == "[##......] 1/4 reports · 30s elapsed · ETA 1m30s · en-spotrep-001\n"
    for _ in range(3):
        bar.advance()
    assert out.getvalue().splitlines()[-1] == "[########] 4/4 reports · 30s elapsed · done"
    assert clock_text(3725) == "1h02m05s"
