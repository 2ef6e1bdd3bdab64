"""Protected tokens out of the model's hands: masked before generation, restored after; and the
glossary methods a translation can use (annotation, post-edit, placeholders)."""

from __future__ import annotations

import dataclasses

import pytest

from schemas.v1 import Flag
from services.config.schema import Config
from services.tasks.prompting import OutputInvalid, Retry
from services.translate.glossary import Glossary, GlossaryTerm
from services.translate.methods import annotate, postedit
from services.translate.placeholders import mask, mask_example, restore
from services.translate.prompts import VERSION
from services.translate.task import TranslateTask, build
from tests.unit.test_translate_task import report

SOURCE = (
    "Патруль заметил 3 БТР-82А у 37U DQ 1234 5678 в 260600ZNOV26. "
    "В 261200ZNOV26 колонна снова у 37U DQ 1234 5678."
)
GRID, DTG1, DTG2 = "37U DQ 1234 5678", "260600ZNOV26", "261200ZNOV26"


def codes(flags: list[Flag]) -> list[str]:
    return [f.code for f in flags]


def test_every_occurrence_gets_its_own_marker_and_the_model_sees_no_token() -> None:
    masked = mask(SOURCE)
    assert masked is not None
    for token in (GRID, DTG1, DTG2, "БТР-82А"):
        assert token not in masked.text
    grid_markers = masked.marker_of(GRID)
    assert len(grid_markers) == 2 and grid_markers[0] != grid_markers[1]
    assert len(set(masked.markers)) == len(masked.markers)


def test_restoring_puts_back_each_token_byte_for_byte() -> None:
    masked = mask(SOURCE)
    assert masked is not None
    output = masked.text.replace("Патруль заметил", "La patrouille a vu")
    restored = restore(output, masked)
    assert restored.text == SOURCE.replace("Патруль заметил", "La patrouille a vu")
    assert not restored.missing and not restored.repeated and not restored.unknown


def test_a_marker_written_loosely_is_still_restored() -> None:
    masked = mask("Contact at 31U DQ 4825 1193.")
    assert masked is not None and masked.markers == ["[P1]"]
    assert restore("Contact à [ p1 ].", masked).text == "Contact à 31U DQ 4825 1193."


def test_a_dropped_marker_is_missing_and_a_duplicated_one_restored_twice() -> None:
    masked = mask(SOURCE)
    assert masked is not None
    first, *_ = masked.marker_of(GRID)
    dropped = restore(masked.text.replace(first, "", 1), masked)
    assert [s.marker for s in dropped.missing] == [first]
    assert dropped.text.count(GRID) == 1
    doubled = restore(masked.text + " " + first, masked)
    assert [s.marker for s in doubled.repeated] == [first]
    assert doubled.text.count(GRID) == 3
    unknown = restore(masked.text + " [P99]", masked)
    assert unknown.unknown == ("[P99]",) and "[P99]" not in unknown.text


def test_a_report_holding_a_marker_of_its_own_is_not_masked() -> None:
    assert mask("Voir note [P1] à 31U DQ 4825 1193.") is None


def test_worked_examples_show_the_same_markers_on_both_sides() -> None:
    src, tgt = mask_example(
        "3e RIMa observed trucks near 31U DQ 4825 1193.",
        "Le 3e RIMa a observé des camions près de 31U DQ 4825 1193.",
    )
    assert src == "[P1] observed trucks near [P2]."
    assert tgt == "Le [P1] a observé des camions près de [P2]."


# --- the task on the placeholder path -----------------------------------------------------


@pytest.fixture(scope="module")
def task() -> TranslateTask:
    return build(Config(), "few-shot")


def test_the_prompt_holds_markers_not_tokens(task: TranslateTask) -> None:
    assert task.protect_method == "placeholders"
    spec = task.prompt(report(SOURCE, "ru"), None)
    assert spec.prompt is not None
    tail = spec.prompt.rsplit("<<<REPORT", 1)[1]
    assert GRID not in tail and "[P1]" in tail
    # The worked examples are masked too: no grid of theirs is shown to be copied.
    assert "37U DQ 1234 5678" not in spec.prompt and "31U DQ" not in spec.prompt


def test_a_retry_names_the_markers_of_the_altered_tokens(task: TranslateTask) -> None:
    retry = Retry("protected_altered", items=(GRID,))
    spec = task.prompt(report(SOURCE, "ru"), retry)
    assert spec.prompt is not None
    masked = mask(SOURCE)
    assert masked is not None
    line = next(x for x in spec.prompt.splitlines() if x.startswith("Copy exactly"))
    assert all(m in line for m in masked.marker_of(GRID)) and GRID not in line


def _french(masked_text: str) -> str:
    return (
        masked_text.replace("Патруль заметил", "La patrouille a vu")
        .replace("В ", "À ")
        .replace("колонна снова у", "la colonne est de nouveau près de")
        .replace(" у ", " près de ")
        .replace(" в ", " à ")
    )


def test_the_model_cannot_misspell_a_token_it_never_writes(task: TranslateTask) -> None:
    masked = mask(SOURCE, extra_protected=task.glossary.protected)
    assert masked is not None
    out = task.conclude(report(SOURCE, "ru"), _french(masked.text), "stop", final=True)
    assert out.text is not None and out.text.count(GRID) == 2
    assert DTG1 in out.text and DTG2 in out.text and "БТР-82А" in out.text
    assert "protected_altered" not in codes(out.flags)
    assert out.quality is not None and out.quality.protected_kept == out.quality.protected_tokens


def test_a_lost_marker_is_retried_then_flagged_never_silent(task: TranslateTask) -> None:
    masked = mask(SOURCE, extra_protected=task.glossary.protected)
    assert masked is not None
    second = masked.marker_of(GRID)[1]
    lossy = _french(masked.text).replace(second, "là")
    with pytest.raises(OutputInvalid) as caught:
        task.conclude(report(SOURCE, "ru"), lossy, "stop", final=False)
    assert caught.value.problem == "protected_altered" and GRID in caught.value.items
    out = task.conclude(report(SOURCE, "ru"), lossy, "stop", final=True)
    flag = next(f for f in out.flags if f.code == "protected_altered")
    assert any(GRID in item and "2 in the source, 1 kept" in item for item in flag.items)


def test_the_prompt_method_keeps_todays_behaviour() -> None:
    before = build(Config(), "few-shot")
    before = dataclasses.replace(before, protect_method="prompt", glossary_method="prompt")
    spec = before.prompt(report(SOURCE, "ru"), None)
    assert spec.prompt is not None and GRID in spec.prompt.rsplit("<<<REPORT", 1)[1]
    assert before.version == VERSION  # the prompt's own version, no method suffix
    assert build(Config(), "few-shot").version != before.version


# --- glossary methods ---------------------------------------------------------------------

TANK = GlossaryTerm("ru", "танк", "fr", "char", source_forms=("танк*",))
GLOSSARY = Glossary([TANK])


def test_annotation_writes_the_target_after_the_term() -> None:
    text = "Два танка у моста."
    assert annotate(text, GLOSSARY.term_spans(text, "ru", "fr")) == "Два танка [= char] у моста."


def test_postedit_replaces_a_term_left_untranslated_and_nothing_else() -> None:
    assert postedit("Deux танка près du pont.", [TANK], GLOSSARY, "ru", "fr") == (
        "Deux char près du pont."
    )
    # Translated otherwise: no alignment says which French word to replace.
    assert postedit("Deux blindés près du pont.", [TANK], GLOSSARY, "ru", "fr") == (
        "Deux blindés près du pont."
    )


def test_glossary_placeholders_restore_the_required_target() -> None:
    text = "Два танка у 37U DQ 1234 5678."
    masked = mask(text, terms=GLOSSARY.term_spans(text, "ru", "fr"))
    assert masked is not None and masked.text == "Два [G1] у [P1]."
    assert restore("Deux [G1] près de [P1].", masked).text == "Deux char près de 37U DQ 1234 5678."
    only_terms = mask(text, terms=GLOSSARY.term_spans(text, "ru", "fr"), protect=False)
    assert only_terms is not None and only_terms.text == "Два [G1] у 37U DQ 1234 5678."


@pytest.mark.parametrize("method", ["prompt", "annotate", "postedit", "placeholders"])
def test_every_glossary_method_follows_a_model_that_obeys_it(method: str) -> None:
    task = dataclasses.replace(build(Config(), "few-shot"), glossary_method=method)  # type: ignore[arg-type]
    source = "Колонна из трёх танков движется на север."
    spec = task.prompt(report(source, "ru"), None)
    assert spec.prompt is not None
    framed = spec.prompt.rsplit("<<<REPORT", 1)[1]
    terms = task.glossary.terms_in(source, "ru", "fr")
    assert terms
    if method == "annotate":
        assert all(f"[= {t.target}]" in framed for t in terms)
    if method == "placeholders":
        assert "[G1]" in framed
    # An answer that leaves the terms in Russian: only the post-edit and placeholders fix it.
    answer = framed.split("\n")[1].replace("движется на север", "se déplace vers le nord")
    for t in terms:
        answer = answer.replace(f" [= {t.target}]", "")
    out = task.conclude(report(source, "ru"), answer, "stop", final=True)
    missed = "glossary_missed" in codes(out.flags)
    assert missed == (method in ("prompt", "annotate"))


def test_postedit_never_rewrites_inside_a_protected_token() -> None:
    btr = GlossaryTerm("ru", "БТР", "fr", "BTR")
    out = postedit("Deux БТР-82А et un БТР.", [btr], Glossary([btr]), "ru", "fr", ["БТР-82А"])
    assert out == "Deux БТР-82А et un BTR."
