"""``eval.md``: the JSON document of a run, for a reader (a pure function of that document)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["METHOD", "headline", "render_markdown"]

#: How each measure is computed, one line each (the modules' docstrings say it in full).
METHOD: tuple[tuple[str, str], ...] = (
    (
        "chrF",
        "sacrebleu corpus chrF (signature below) of every translation due (gold reference in "
        "the target language) against it; no translation counts as an empty one; also per language "
        "and over the translations produced",
    ),
    (
        "term success rate",
        "WMT 2023 terminology: share of the gold glossary terms whose required "
        "target appears in the translation (case-folded, word boundaries, plural endings allowed)",
    ),
    (
        "protected tokens exact",
        "gold protected tokens kept byte for byte, with multiplicity: "
        "Σ min(occurrences in output, in source) ÷ Σ occurrences in source, over translations "
        "produced (also over those without a protected_altered flag)",
    ),
    (
        "output language",
        "py3langid here, restricted to fr/en/ru/uk/ar, on the output without "
        "protected tokens and digit-bearing chunks (≥ 20 letters left, else not judged), "
        "against the target — the same library as the product's check, not the same rule "
        "(no confidence threshold, 5 languages)",
    ),
    (
        "entities P/R/F1",
        "the event's entities (pattern + model) against the gold, exact start, end and type",
    ),
    (
        "DTG/MGRS/lat-long",
        "gold entities with a value found by an overlapping event entity of the "
        "same type with the same value",
    ),
    (
        "quantities P/R",
        "items of a task output shaped as quantities against the gold quantities: "
        "same quantity, unit and status, overlapping span",
    ),
    (
        "summary fact recall",
        "a gold fact is recalled when all its numbers and codes are in the "
        "summary and at least half of its content words (≥ 4 letters, not stop words; first 5 "
        "letters, folded)",
    ),
    (
        "summary precision",
        "the summary's DTGs, grids and numbers found in the source ÷ those checked",
    ),
    (
        "flag precision/recall",
        "per flag, against the error it claims to catch, from the gold "
        "(table below); an error without its flag is a silent failure",
    ),
)


def _f(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_f(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def _translation(t: dict[str, Any] | None) -> list[str]:
    if not t:
        return [
            "No translation was due (no translating task, or no source outside the target).",
            "",
        ]
    chrf = t["chrf"] or {}
    lines = [f"Due {t['due']}, produced {t['produced']}; statuses {t['statuses']}.", ""]
    lines += _table(
        ["measure", "value"],
        [
            ["chrF (all due)", chrf.get("score")],
            ["chrF (produced)", (t["chrf_produced"] or {}).get("score")],
            ["term success rate (all due)", t["term_success_rate"]],
            ["term success rate (produced)", t["term_success_rate_produced"]],
            [
                "protected tokens exact",
                f"{_f(t['protected_exact'])} ({t['protected_kept']}/{t['protected_in_source']})",
            ],
            ["protected tokens exact, unflagged outputs", t["protected_exact_unflagged"]],
            [
                "output language right",
                f"{_f(t['language_right'])} of {t['language_judged']} judged",
            ],
        ],
    )
    rows = [
        [
            lang,
            (c or {}).get("score"),
            (c or {}).get("segments"),
            t["term_success_by_language"][lang],
        ]
        for lang, c in t["chrf_by_language"].items()
    ]
    lines += _table(["source language", "chrF", "segments", "term success"], rows)
    lines += [f"chrF signature: `{chrf.get('signature')}`", ""]
    return lines


def _entities(e: dict[str, Any] | None) -> list[str]:
    if not e:
        return ["No entity task was asked.", ""]
    rows = [
        ["overall", *(e["overall"][k] for k in ("precision", "recall", "f1", "tp", "fp", "fn"))]
    ]
    rows += [
        [t, *(c[k] for k in ("precision", "recall", "f1", "tp", "fp", "fn"))]
        for t, c in e["by_type"].items()
    ]
    lines = _table(["type", "P", "R", "F1", "tp", "fp", "fn"], rows)
    lines += _table(
        ["source", "precision", "tp", "fp"],
        [[s, c["precision"], c["tp"], c["fp"]] for s, c in e["by_source"].items()],
    )
    lines += _table(
        ["normalised value", "accuracy", "found", "gold"],
        [[k, v["accuracy"], v["found"], v["gold"]] for k, v in e["normalised"].items()],
    )
    lines += [
        f"Model entities grounded (the task's own count): {_f(e['model_grounded'])} of "
        f"{e['model_proposed']} proposed.",
        "",
    ]
    for title, items in (
        ("Normalised values missed", e["normalised_missed"]),
        ("Model entities kept inside a word", e["model_in_word"]),
    ):
        if items:
            lines += [f"{title}:", "", *(f"- {i}" for i in items[:50]), ""]
    return lines


def _flags(f: dict[str, Any]) -> list[str]:
    rows = [
        [code, q["error"], q["flagged"], q["errors"], q["precision"], q["recall"]]
        for code, q in f["quality"].items()
    ]
    lines = _table(["flag", "error it claims to catch (gold)", "flagged", "errors", "P", "R"], rows)
    lines += [f"Counts: {f['counts']}; counted but not judged: {f['unjudged'] or 'none'}.", ""]
    lines += [f"Share of outputs flagged or failed, per task: {f['flagged_or_failed']}.", ""]
    silent = f["silent_failures"]
    lines += [
        "## Silent failures",
        "",
        f"**{silent['count']}** (by flag: {silent['by_flag'] or 'none'}).",
        "",
    ]
    lines += (
        _table(
            ["report", "task", "missing flag", "what is wrong"],
            [
                [i["report"], i["task"] or "report", i["flag"], i["detail"].replace("|", "\\|")]
                for i in silent["items"]
            ],
        )
        if silent["items"]
        else []
    )
    return lines


def render_markdown(doc: dict[str, Any], plots: Sequence[str] = ()) -> str:
    fig, key, o, m = doc["figures"], doc["key"], doc["options"], doc["machine"]
    s = fig["summary"]
    q = fig["quantities"]
    lines = [
        f"# vigie eval — {o['split'] or 'all'} split, {fig['reports']} reports",
        "",
        f"`{doc['command']}`",
        "",
        *(
            [f"- scored again from `{o['rescored_from']}`; the run: `{o['first_command']}`"]
            if o.get("first_command")
            else []
        ),
        f"- key: **{key['id']}**",
        f"- machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}; "
        f"started {doc['started_at']}, {doc['wall_s']} s",
        f"- server: {o['server']}; tasks {', '.join(o['tasks'])}; {o['inflight']} in flight; "
        f"deadline {o['deadline_s']} s; events {fig['events']}",
        "",
        "## Translation",
        "",
        *_translation(fig["translation"]),
        "## Entities",
        "",
        *_entities(fig["entities"]),
        "## Logistics quantities",
        "",
        *(
            _table(
                ["P", "R", "tp", "fp", "fn"],
                [[q["precision"], q["recall"], q["tp"], q["fp"], q["fn"]]],
            )
            if q
            else ["No task output shaped as quantities was asked.", ""]
        ),
        "## Summary",
        "",
        *(
            _table(
                [
                    "fact recall",
                    "(produced)",
                    "precision",
                    "words mean / median / max",
                    "over limit",
                    "language right",
                ],
                [
                    [
                        s["fact_recall"],
                        s["fact_recall_produced"],
                        s["precision"],
                        f"{_f(s['length_words']['mean'])} / {_f(s['length_words']['median'])} / "
                        f"{_f(s['length_words']['max'])}",
                        s["length_words"]["over_limit"],
                        f"{_f(s['language_right'])} of {s['language_judged']}",
                    ]
                ],
            )
            if s
            else ["No summary task was asked.", ""]
        ),
        "## Statuses",
        "",
        *_table(["task", "statuses"], [[t, c] for t, c in fig["statuses"].items()]),
        "## Flags against the gold",
        "",
        *_flags(fig["flags"]),
        "## Calibration: the rules on the gold's own references",
        "",
        *_table(["measure", "value"], list(doc["calibration"].items())),
        "## Method",
        "",
        *(f"- **{name}**: {how}." for name, how in METHOD),
        "",
        *(f"![{p}]({p})" for p in plots),
    ]
    return "\n".join(lines).rstrip() + "\n"


def headline(fig: dict[str, Any]) -> list[str]:
    """The run's main figures, one line each (what `vigie eval` prints)."""
    t, e, s, q = fig["translation"], fig["entities"], fig["summary"], fig["quantities"]
    lines = [f"reports {fig['reports']}, events {fig['events']}"]
    if t:
        lines.append(
            f"translation: chrF {_f((t['chrf'] or {}).get('score'))}, term success "
            f"{_f(t['term_success_rate'])}, protected exact {_f(t['protected_exact'])}, "
            f"language right {_f(t['language_right'])} ({t['produced']}/{t['due']} produced)"
        )
    if e:
        o, n = e["overall"], e["normalised"]
        values = ", ".join(
            f"{k} {_f(v['accuracy'])} ({v['found']}/{v['gold']})" for k, v in n.items()
        )
        lines.append(
            f"entities: P {_f(o['precision'])} R {_f(o['recall'])} F1 {_f(o['f1'])}; {values}"
        )
    if q:
        lines.append(f"quantities: P {_f(q['precision'])} R {_f(q['recall'])}")
    if s:
        lines.append(
            f"summary: fact recall {_f(s['fact_recall'])}, precision {_f(s['precision'])}, "
            f"{_f(s['length_words']['mean'])} words on average"
        )
    lines.append(f"statuses: {fig['statuses']}")
    silent = fig["flags"]["silent_failures"]
    lines.append(f"silent failures: {silent['count']} {silent['by_flag'] or ''}".rstrip())
    return lines
