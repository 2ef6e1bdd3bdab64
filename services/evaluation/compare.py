"""Two runs of ``vigie eval`` side by side: every headline measure, the flags, the verdict lines.

A user changing a model, an adapter, a prompt or a setting runs the gold set before and after
and reads one table instead of two reports. Pure: two ``eval.json`` documents in, Markdown out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["compare_markdown", "measures"]

Doc = dict[str, Any]


def _get(doc: Doc, *path: str) -> Any:
    node: Any = doc
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:.{digits}f}" if isinstance(value, float) else f"{value:,}"


def _figure(*path: str, digits: int = 3) -> Callable[[Doc], str]:
    return lambda doc: _num(_get(doc, "figures", *path), digits)


def _silent(doc: Doc) -> str:
    silent = _get(doc, "figures", "flags", "silent_failures")
    if not isinstance(silent, dict):
        return "—"
    by_flag = ", ".join(f"{flag} {n}" for flag, n in sorted(silent.get("by_flag", {}).items()))
    return _num(silent.get("count")) + (f" ({by_flag})" if by_flag else "")


def _share_flagged(doc: Doc) -> str:
    shares = _get(doc, "figures", "flags", "flagged_or_failed")
    if not isinstance(shares, dict):
        return "—"
    return " · ".join(f"{task} {_num(v, 2)}" for task, v in sorted(shares.items())) or "—"


def _grounded(doc: Doc) -> str:
    proposed = _get(doc, "figures", "entities", "model_proposed")
    grounded = _get(doc, "figures", "entities", "model_grounded")
    return f"{_num(proposed)} / {_num(grounded)}"


#: (measure, how to read it from one run's document), in the order of ``eval.md``.
MEASURES: tuple[tuple[str, Callable[[Doc], str]], ...] = (
    ("reports", _figure("reports")),
    ("wall, s", lambda doc: _num(_get(doc, "wall_s"), 1)),
    ("chrF (all due)", _figure("translation", "chrf", "score", digits=2)),
    ("chrF (produced)", _figure("translation", "chrf_produced", "score", digits=2)),
    ("term success rate (all due)", _figure("translation", "term_success_rate")),
    ("protected tokens exact (translations)", _figure("translation", "protected_exact")),
    (
        "protected tokens exact, unflagged translations",
        _figure("translation", "protected_exact_unflagged"),
    ),
    ("entities P", _figure("entities", "overall", "precision")),
    ("entities R", _figure("entities", "overall", "recall")),
    ("entities F1", _figure("entities", "overall", "f1")),
    ("model entity precision", _figure("entities", "by_source", "model", "precision")),
    ("pattern entity precision", _figure("entities", "by_source", "pattern", "precision")),
    ("model entities: proposed / grounded", _grounded),
    ("DTG accuracy", _figure("entities", "normalised", "dtg", "accuracy")),
    ("MGRS accuracy", _figure("entities", "normalised", "mgrs", "accuracy")),
    ("lat-long accuracy", _figure("entities", "normalised", "latlon", "accuracy")),
    ("logistics P", _figure("quantities", "precision")),
    ("logistics R", _figure("quantities", "recall")),
    ("summary fact recall", _figure("summary", "fact_recall")),
    ("summary precision", _figure("summary", "precision")),
    ("share flagged or failed, per task", _share_flagged),
    ("silent failures", _silent),
)


def measures(doc: Doc) -> list[tuple[str, str]]:
    """Every headline measure of one run, as (name, value) text."""
    return [(name, read(doc)) for name, read in MEASURES]


def _flag_cell(quality: Doc | None) -> str:
    if not quality:
        return "—"
    p, r = _num(quality.get("precision")), _num(quality.get("recall"))
    return f"{quality.get('flagged', 0)} / {quality.get('errors', 0)} / {p} / {r}"


def compare_markdown(runs: Sequence[tuple[str, Doc]]) -> str:
    """The runs' measures side by side, then each flag's flagged / errors / precision /
    recall against the gold, then each run's key (model, adapter, engine, prompt versions)."""
    names = [name for name, _ in runs]
    lines = [
        "| measure | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(runs),
    ]
    columns = [measures(doc) for _, doc in runs]
    for i, (measure, _) in enumerate(MEASURES):
        lines.append(f"| {measure} | " + " | ".join(col[i][1] for col in columns) + " |")
    flags = sorted(
        {flag for _, doc in runs for flag in (_get(doc, "figures", "flags", "quality") or {})}
    )
    if flags:
        lines += [
            "",
            "Flags against the gold (flagged / errors / precision / recall):",
            "",
            "| flag | " + " | ".join(names) + " |",
            "|---|" + "---|" * len(runs),
        ]
        for flag in flags:
            cells = [_flag_cell(_get(doc, "figures", "flags", "quality", flag)) for _, doc in runs]
            lines.append(f"| `{flag}` | " + " | ".join(cells) + " |")
    lines += ["", "Runs:", ""]
    for name, doc in runs:
        key = _get(doc, "key", "id") or "?"
        command = _get(doc, "command") or "?"
        lines.append(f"- **{name}**: `{command}` — {key}")
    return "\n".join(lines) + "\n"
