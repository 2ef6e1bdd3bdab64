"""The run's figures: every measure over the reports' scores (JSON-ready; floats rounded)."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from schemas.v1 import EnrichedEvent
from services.evaluation.entities import VALUE_KINDS, Counts
from services.evaluation.flags import ERRORS, flag_quality, silent_failures
from services.evaluation.gold import GoldReport
from services.evaluation.score import ReportScore, SummaryScore, TranslationScore
from services.evaluation.summary import check_summary, fact_recalled
from services.evaluation.translation import Identify, chrf, judge_language, term_followed

__all__ = ["aggregate", "calibration", "ratio", "run_key"]


def ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def _prf(c: Counts) -> dict[str, Any]:
    def r(x: float | None) -> float | None:
        return None if x is None else round(x, 4)

    return {
        "tp": c.tp,
        "fp": c.fp,
        "fn": c.fn,
        "precision": r(c.precision),
        "recall": r(c.recall),
        "f1": r(c.f1),
    }


def _total(counts: Iterable[Counts]) -> Counts:
    return sum(counts, Counts())


def _chrf(items: Sequence[TranslationScore]) -> dict[str, Any] | None:
    result = chrf([t.hypothesis for t in items], [t.reference for t in items])
    if result is None:
        return None
    return {"score": result.score, "segments": result.segments, "signature": result.signature}


def _translation(scores: Sequence[ReportScore], target: str) -> dict[str, Any] | None:
    due = [(s.language, s.translation) for s in scores if s.translation is not None]
    if not due:
        return None
    produced = [t for _, t in due if t.produced]
    languages = sorted({lang for lang, _ in due})
    kept = sum(p.kept for t in produced for p in t.protected)
    wanted = sum(p.in_source for t in produced for p in t.protected)
    unflagged = [t for t in produced if "protected_altered" not in t.flags]
    judged = [t for t in produced if t.language is not None]
    return {
        "due": len(due),
        "produced": len(produced),
        "statuses": dict(Counter(t.status for _, t in due)),
        "chrf": _chrf([t for _, t in due]),
        "chrf_produced": _chrf(produced),
        "chrf_by_language": {
            lang: _chrf([t for language, t in due if language == lang]) for lang in languages
        },
        "term_success_rate": ratio(
            sum(t.terms_followed for _, t in due), sum(t.terms for _, t in due)
        ),
        "term_success_rate_produced": ratio(
            sum(t.terms_followed for t in produced), sum(t.terms for t in produced)
        ),
        "terms": sum(t.terms for _, t in due),
        "term_success_by_language": {
            lang: ratio(
                sum(t.terms_followed for g, t in due if g == lang),
                sum(t.terms for g, t in due if g == lang),
            )
            for lang in languages
        },
        "protected_exact": ratio(kept, wanted),
        "protected_kept": kept,
        "protected_in_source": wanted,
        "protected_exact_unflagged": ratio(
            sum(p.kept for t in unflagged for p in t.protected),
            sum(p.in_source for t in unflagged for p in t.protected),
        ),
        "language_right": ratio(sum(t.language == target for t in judged), len(judged)),
        "language_judged": len(judged),
        "language_found": dict(Counter(str(t.language) for t in produced)),
    }


def _summary(items: Sequence[SummaryScore], target: str, max_words: int) -> dict[str, Any] | None:
    if not items:
        return None
    produced = [s for s in items if s.text]
    words = [s.words for s in produced]
    judged = [s for s in produced if s.language is not None]
    return {
        "asked": len(items),
        "produced": len(produced),
        "statuses": dict(Counter(s.status for s in items)),
        "fact_recall": ratio(sum(s.facts_recalled for s in items), sum(s.facts for s in items)),
        "fact_recall_produced": ratio(
            sum(s.facts_recalled for s in produced), sum(s.facts for s in produced)
        ),
        "facts": sum(s.facts for s in items),
        "precision": ratio(
            sum(s.checked - len(s.unsupported) for s in produced), sum(s.checked for s in produced)
        ),
        "facts_checked": sum(s.checked for s in produced),
        "length_words": {
            "mean": round(statistics.fmean(words), 1) if words else None,
            "median": statistics.median(words) if words else None,
            "max": max(words, default=None),
            "limit": max_words,
            "over_limit": sum(w > max_words for w in words),
        },
        "language_right": ratio(sum(s.language == target for s in judged), len(judged)),
        "language_judged": len(judged),
    }


def _entities(scores: Sequence[ReportScore]) -> dict[str, Any] | None:
    scored = [s for s in scores if s.values is not None]
    if not scored:
        return None
    types = sorted({t for s in scored for t in s.entity_types})
    sources = sorted({t for s in scored for t in s.entity_sources})
    values: dict[str, Any] = {}
    for kind in VALUE_KINDS:
        gold = sum(s.values.gold.get(kind, 0) for s in scored if s.values)
        found = sum(s.values.found.get(kind, 0) for s in scored if s.values)
        values[kind] = {"gold": gold, "found": found, "accuracy": ratio(found, gold)}
    return {
        "overall": _prf(_total(c for s in scored for c in s.entity_types.values())),
        "by_type": {
            t: _prf(_total(s.entity_types.get(t, Counts()) for s in scored)) for t in types
        },
        # What each source contributed (a gold entity missed belongs to no source).
        "by_source": {
            src: {
                "tp": c.tp,
                "fp": c.fp,
                "precision": None if c.precision is None else round(c.precision, 4),
            }
            for src in sources
            for c in [_total(s.entity_sources.get(src, Counts()) for s in scored)]
        },
        "normalised": values,
        "normalised_missed": [f"{s.id}: {m}" for s in scored if s.values for m in s.values.missed],
        "model_grounded": ratio(sum(s.grounded for s in scored), sum(s.proposed for s in scored)),
        "model_proposed": sum(s.proposed for s in scored),
        "model_in_word": [f"{s.id}: {w}" for s in scored for w in s.in_word],
    }


def _quantities(scores: Sequence[ReportScore]) -> dict[str, Any] | None:
    scored = [s for s in scores if s.quantities is not None]
    if not scored:
        return None
    result = _prf(_total(s.quantities for s in scored if s.quantities is not None))
    result["spurious"] = [f"{s.id}: {q}" for s in scored for q in s.spurious_quantities]
    return result


def _flags(scores: Sequence[ReportScore], tasks: Sequence[str]) -> dict[str, Any]:
    cases = [c for s in scores for c in s.cases]
    quality = flag_quality(cases)
    counts = Counter(code for s in scores for _, code in s.flags)
    # Of the outputs a task produced or failed to produce (skipped ones aside): flagged or failed.
    touched: dict[str, float | None] = {}
    for task in tasks:
        attempted = [s for s in scores if s.statuses.get(task) in ("ok", "failed")]
        flagged = sum(
            s.statuses[task] == "failed" or any(t == task for t, _ in s.flags) for s in attempted
        )
        touched[task] = ratio(flagged, len(attempted))
    silent = silent_failures(cases)
    return {
        "counts": dict(sorted(counts.items())),
        "quality": {
            code: {
                "error": ERRORS.get(code, ""),
                "outputs": q.outputs,
                "flagged": q.flagged,
                "errors": q.errors,
                "tp": q.tp,
                "fp": q.fp,
                "fn": q.fn,
                "precision": None if q.precision is None else round(q.precision, 4),
                "recall": None if q.recall is None else round(q.recall, 4),
            }
            for code, q in quality.items()
        },
        "unjudged": sorted(set(counts) - set(quality)),
        "flagged_or_failed": touched,
        "silent_failures": {
            "count": len(silent),
            "by_flag": dict(Counter(f.code for f in silent)),
            "items": [
                {"report": f.report, "task": f.task, "flag": f.code, "detail": f.detail}
                for f in silent
            ],
        },
    }


def aggregate(
    scores: Sequence[ReportScore], tasks: Sequence[str], *, target: str, max_words: int
) -> dict[str, Any]:
    """Every measure of the run (see :mod:`services.evaluation`)."""
    summaries = [s.summary for s in scores if s.summary is not None]
    return {
        "reports": len(scores),
        "events": dict(Counter(s.event for s in scores)),
        "text_mismatches": [s.id for s in scores if s.event != "none" and not s.text_matches],
        "statuses": {t: dict(Counter(s.statuses.get(t, "none") for s in scores)) for t in tasks},
        "translation": _translation(scores, target),
        "summary": _summary(summaries, target, max_words),
        "entities": _entities(scores),
        "quantities": _quantities(scores),
        "flags": _flags(scores, tasks),
    }


def calibration(gold: Sequence[GoldReport], identify: Identify, target: str) -> dict[str, Any]:
    """The rules applied to the gold's own references: the most a perfect output scores."""
    due = [g for g in gold if g.reference_language == target]
    terms = [(t, g.reference_text) for g in due for t in g.glossary_terms]
    facts = [(f, g.reference_text) for g in due for f in g.summary_facts]
    checks = [
        check_summary(" ; ".join(g.summary_facts), g.text, [q.quantity for q in g.quantities])
        for g in gold
    ]
    languages = [judge_language(g.reference_text, identify, g.protected_tokens) for g in due]
    judged = [lang for lang in languages if lang is not None]
    return {
        "term_success_rate_of_references": ratio(
            sum(term_followed(t, r) for t, r in terms), len(terms)
        ),
        "fact_recall_of_references": ratio(sum(fact_recalled(f, r) for f, r in facts), len(facts)),
        "summary_precision_of_gold_facts": ratio(
            sum(len(c.checked) - len(c.unsupported) for c in checks),
            sum(len(c.checked) for c in checks),
        ),
        "language_right_of_references": ratio(sum(x == target for x in judged), len(judged)),
    }


def run_key(events: Iterable[EnrichedEvent]) -> dict[str, Any]:
    """What the outputs came from, as the events' provenance says: model, adapter, engine,
    prompt style and each task's prompt version; ``id`` joins them, so runs compare."""
    models: set[str] = set()
    engines: set[str] = set()
    adapters: set[str] = set()
    styles: set[str] = set()
    versions: dict[str, set[str]] = {}
    for event in events:
        for p in event.provenance:
            if not p.model:
                continue
            models.add(p.model)
            engines.add(p.engine or "?")
            adapters.add(p.adapter or "none")
            styles.add(p.prompt_style or "?")
            # The stage's version when it extends its prompt's (the methods a setting chose:
            # "translate/1+protect:placeholders+glossary:prompt"), so that runs differing only
            # in a setting do not share a key.
            extended = p.prompt_version is not None and p.prompt_version in p.version
            versions.setdefault(p.stage, set()).add(
                p.version if extended else p.prompt_version or p.version
            )

    def one(values: set[str]) -> str:
        return "+".join(sorted(values)) or "none"

    prompts = {stage: one(v) for stage, v in sorted(versions.items())}
    model, adapter, engine, style = one(models), one(adapters), one(engines), one(styles)
    parts = [model, f"adapter {adapter}", engine, style, *(f"{s} {v}" for s, v in prompts.items())]
    return {
        "id": " | ".join(parts),
        "model": model,
        "adapter": adapter,
        "engine": engine,
        "prompt_style": style,
        "prompt_versions": prompts,
    }
