"""The quick eval of `make test`: a dozen dev gold reports through the real pipeline, scored.

The pipeline is the real one — an embedded nats-server, ingest, every task service of the
registry, the inference service, collate — with the engine a SCRIPTED stand-in: it answers from
the gold itself (the reference translation, the summary facts, the gold entities and quantities)
and, for five reports, wrong in one way a check covers (a protected token altered, a glossary
term replaced, an answer in English, an invented figure in a summary, an invented entity). The
test fails on any deterministic measure below 1.0 and on any silent failure: every one of those
errors must come back flagged.

Deterministic measures asserted:
- DTG / MGRS / lat-long normalised accuracy, on the pattern path. The dozen were chosen so that
  the pattern extractor is expected to get every value: left out are the dev reports whose gold
  values are beyond it — ``ar-spotrep-105`` and ``en-sensor_note-105`` (DTGs without a month,
  ``081420B``, ``061415Z``: only the report's observed time, which the gold does not carry,
  could place them; the extractor takes the run date) and ``fr-spotrep-001`` (``23
  140615CAPR26`` is read as one DTG of day 23). Every DTG kept here writes its month and year, so
  the figures do not depend on the day the test runs.
  ``ar-logstat-121`` is left out too, for another reason: ingest does not flag its injection
  (an Arabic "note for automatic processing" asking to zero every quantity), a silent failure
  this eval found — now caught, it is the thirteenth report here.
- Protected tokens on the placeholder path: the model is shown markers, never the tokens; the
  scripted model answers the reference translation with each token written as its marker (the
  way a model that obeys the prompt does) and, for one report, drops a marker. Every translation
  without a ``protected_altered`` flag must keep every gold protected token (1.0), and the
  dropped one must come back flagged.
- Grounding of model entities: every entity the scripted model proposes from the gold is
  grounded; the one it invents (``Paris``) is the only one dropped, flagged.

The real model's figures are printed by ``test_real_model_figures`` (not asserted: its outputs
are not the product's to guarantee), on six of the dozen, one or two per language, so that both
tests together stay within about three minutes on two cores (the whole dozen takes the shipped
model ~3.5 min there); `vigie eval` gives the full figures.
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.catalogue import builtin_registry
from services.config.schema import (
    CollateConfig,
    Config,
    InferenceConfig,
    NatsConfig,
    TasksConfig,
)
from services.evaluation.gold import GoldReport, load_gold
from services.evaluation.markdown import headline
from services.evaluation.output import write_results
from services.evaluation.run import EvalOptions, Evaluation, eval_config, evaluate
from services.inference.engine import GenerationRequest
from services.inference.registry import verify_model
from services.inference.standin import StandInEngine
from services.translate.glossary import Glossary
from services.translate.placeholders import Masked, mask
from tests.integration.pipeline import fast_config

DOZEN = (
    "en-spotrep-020",  # DTG, lat/long
    "ar-sensor_note-132",  # lat/long
    "ar-intrep-110",  # DTG, MGRS; the summary invents a figure
    "ar-logstat-119",  # DTG, quantities; the model invents an entity
    "en-intrep-110",  # DTG, MGRS, injection; a protected token altered
    "en-nine_line-101",  # DTG, MGRS, quantities
    "fr-logstat-004",  # French: no translation; DTG, MGRS, quantities
    "fr-intrep-013",  # French, injection
    "ru-intrep-108",  # five values; a glossary term replaced
    "ru-spotrep-104",  # injection
    "uk-intrep-108",  # four values
    "uk-spotrep-101",  # DTG, MGRS; the translation comes back in English
    "ar-logstat-121",  # an injection addressed to "automatic processing"
)
ENGLISH = (
    "The reconnaissance team observed an enemy armoured column moving slowly along the main "
    "road towards the river crossing during the night, and it reports that the vehicles stopped "
    "near the old bridge before dawn while their crews were digging positions in the woods."
)
SUMMARY_WORDS = 50
GLOSSARY = Glossary.load(Glossary.default_directory())
#: The reports the real model runs on (of the dozen).
REAL_SIX = (
    "en-spotrep-020",
    "ar-intrep-110",
    "fr-intrep-013",
    "ru-spotrep-104",
    "uk-spotrep-101",
    "en-nine_line-101",
)


@dataclass
class Oracle:
    """The model's text from the gold, per task; ``wrong`` overrides (report id, task)."""

    gold: dict[str, GoldReport]
    wrong: dict[tuple[str, str], Callable[[GoldReport], str]]

    #: Markers the scripted translations wrote (the placeholder path was taken).
    markers_written: int = 0
    #: Glossary-term markers the scripted translations wrote (terms were masked too).
    term_markers_written: int = 0

    def report_of(self, request: GenerationRequest) -> GoldReport:
        prompt = prompt_of(request)
        found = [g for g in self.gold.values() if g.text in prompt or masked_text(g) in prompt]
        assert found, "a request for a report outside the dozen"
        return max(found, key=lambda g: len(g.text))

    def __call__(self, request: GenerationRequest) -> str:
        _, task, _ = request.request_id.rsplit(":", 2)
        gold = self.report_of(request)
        override = self.wrong.get((gold.id, task))
        answer = override(gold) if override is not None else ANSWERS[task](gold)
        if task == "translate" and masked_text(gold) in prompt_of(request):
            answer = with_markers(gold, answer)
            self.markers_written += answer.count("[P")
            self.term_markers_written += answer.count("[G")
        return answer


def prompt_of(request: GenerationRequest) -> str:
    return request.prompt or "".join(m.content for m in request.messages or ())


def masked(gold: GoldReport) -> Masked:
    """The report as the translate task masks it: protected tokens, and glossary terms (the
    shipped ``tasks.glossary_method`` is ``placeholders``)."""
    terms = GLOSSARY.term_spans(gold.text, gold.language, gold.reference_language)
    found = mask(gold.text, extra_protected=GLOSSARY.protected, terms=terms)
    assert found is not None
    return found


def masked_text(gold: GoldReport) -> str:
    return masked(gold).text


def with_markers(gold: GoldReport, translation: str) -> str:
    """``translation`` as a model shown the masked report writes it: each protected token the
    prompt hid written as its marker, each glossary term's required target as the term's marker
    (longest first, each occurrence once; a target the reference words otherwise stays as it
    is, as a model that rephrased around the marker would leave it)."""
    for slot in sorted(masked(gold).slots, key=lambda s: len(s.restored_as), reverse=True):
        written = slot.source if slot.kind == "protected" else slot.restored_as
        translation = re.sub(re.escape(written), slot.marker, translation, count=1, flags=re.I)
    return translation


def translation(gold: GoldReport) -> str:
    return gold.reference_text


def summary(gold: GoldReport) -> str:
    kept: list[str] = []
    for fact in gold.summary_facts:
        if len(" ; ".join([*kept, fact]).split()) > SUMMARY_WORDS:
            break
        kept.append(fact)
    return " ; ".join(kept) + "."


def entities(gold: GoldReport, extra: tuple[tuple[str, str], ...] = ()) -> str:
    listed = [{"type": e.type, "text": e.text} for e in gold.entities]
    listed += [{"type": t, "text": x} for t, x in extra]
    return json.dumps({"entities": listed}, ensure_ascii=False)


def quantities(gold: GoldReport) -> str:
    items = [
        {"text": q.text, "item": q.item, "quantity": q.quantity, "unit": q.unit, "status": q.status}
        for q in gold.quantities
    ]
    return json.dumps({"items": items}, ensure_ascii=False)


ANSWERS: dict[str, Callable[[GoldReport], str]] = {
    "translate": translation,
    "summarise": summary,
    "extract": entities,
    "logstat": quantities,
}


def dropped_marker(gold: GoldReport) -> str:
    """The placeholder path's only way to lose a token: the model leaves its marker out."""
    token = max(gold.protected_tokens, key=len)
    return gold.reference_text.replace(token, "", 1)


def replaced_term(gold: GoldReport) -> str:
    term = gold.glossary_terms[0]
    return gold.reference_text.replace(term.target, "machin").replace(
        term.target.capitalize(), "Machin"
    )


WRONG: dict[tuple[str, str], Callable[[GoldReport], str]] = {
    ("en-intrep-110", "translate"): dropped_marker,
    ("ru-intrep-108", "translate"): replaced_term,
    ("uk-spotrep-101", "translate"): lambda gold: ENGLISH,
    ("ar-intrep-110", "summarise"): lambda gold: summary(gold) + " 500 chars T-90M détruits.",
    ("ar-logstat-119", "extract"): lambda gold: entities(gold, (("Location", "Paris"),)),
}


def scripted_config(options: EvalOptions) -> Config:
    """Short bus timers (a stand-in answers at once), the few-shot prompts of the default
    model, every task of the registry."""
    base = fast_config()
    return eval_config(
        Config(
            bus=base.bus,
            collate=CollateConfig(recheck_interval=0.5),
            tasks=TasksConfig(prompt_style="few-shot"),
        ),
        options,
    )


def report(evaluation: Evaluation, out: Path, title: str) -> None:
    paths = write_results(evaluation, out, title)
    print(f"\n{title} — {evaluation.key['id']} ({evaluation.wall_s} s)")
    for line in headline(evaluation.figures):
        print("  " + line)
    print(f"  files: {', '.join(p.name for p in paths)} in {out}")


@pytest.mark.timeout(180)
async def test_quick_eval_scripted_model_has_no_silent_failure(tmp_path: Path) -> None:
    gold = {g.id: g for g in load_gold(split="dev", ids=DOZEN)}
    options = EvalOptions(split="dev", ids=DOZEN, inflight=12, report_timeout=60.0)
    cfg = scripted_config(options)
    started = time.monotonic()
    oracle = Oracle(gold, WRONG)
    evaluation = await evaluate(
        cfg, options, engine=StandInEngine(oracle), progress_stream=io.StringIO()
    )
    report(evaluation, tmp_path / "scripted", "quick eval, scripted model")
    fig = evaluation.figures
    assert time.monotonic() - started < 180
    assert fig["events"] == {"complete": len(DOZEN)}
    # Deterministic: every DTG, MGRS and lat/long value of the dozen, on the pattern path.
    for kind, counts in fig["entities"]["normalised"].items():
        assert counts["gold"] > 0, kind
        assert counts["accuracy"] == 1.0, (kind, fig["entities"]["normalised_missed"])
    # Every scripted error was caught as the gold sees it, and flagged.
    quality = fig["flags"]["quality"]
    for code in (
        "protected_altered",
        "glossary_missed",
        "wrong_language",
        "unfaithful_summary",
        "entities_dropped",
        "suspected_injection",
    ):
        assert quality[code]["tp"] >= 1, (code, quality[code])
    assert fig["flags"]["silent_failures"] == {"count": 0, "by_flag": {}, "items": []}
    # The placeholder path was taken (protected tokens and glossary terms masked), every
    # unflagged translation kept every gold protected token, and the dropped marker came back
    # flagged. (Not asserted: that it is the only flag —
    # a reference that translates a word the product protects, "LINE" → "LIGNE", is flagged
    # too, since a model shown the marker would have kept "LINE".)
    assert oracle.markers_written > 0
    assert oracle.term_markers_written > 0
    translation = fig["translation"]
    assert translation["protected_exact_unflagged"] == 1.0, translation
    altered = {
        gid
        for gid, event in evaluation.collected.events.items()
        if any(f.code == "protected_altered" for f in event.flags)
    }
    assert "en-intrep-110" in altered, altered
    # Grounding: every model entity the scripted model proposed from the gold is grounded; the
    # invented one is the only one dropped.
    entities = fig["entities"]
    grounded = round(entities["model_grounded"] * entities["model_proposed"])
    assert entities["model_proposed"] - grounded == 1, entities
    assert entities["model_in_word"] == []


@pytest.mark.timeout(420)
async def test_real_model_figures(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Six of the dozen with the shipped model on llama.cpp: figures printed, not asserted."""
    data = tmp_path_factory.mktemp("vigie-data")
    verify_model(builtin_registry().default_model, data)
    options = EvalOptions(split="dev", ids=REAL_SIX, inflight=4, report_timeout=300.0)
    cfg = eval_config(
        Config(
            nats=NatsConfig(data_dir=str(data)),
            collate=CollateConfig(recheck_interval=0.5),
            inference=InferenceConfig(threads=2, max_sequences=8, reserved_sequences=1),
        ),
        options,
    )
    evaluation = await evaluate(cfg, options, progress_stream=io.StringIO())
    report(evaluation, tmp_path / "real", "quick eval, real model")
