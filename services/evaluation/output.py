"""What an evaluation writes: ``eval.json`` (every figure, the key, the options, the machine,
one row per report), ``eval.md`` (the same for a reader), ``events.jsonl`` (the events scored,
to look at or score again) and the PNG plots (:mod:`services.evaluation.plots`)."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

import msgspec

from bus.host import cpu_model
from services.evaluation.markdown import render_markdown
from services.evaluation.run import Evaluation
from services.evaluation.score import ReportScore

__all__ = ["machine", "result_document", "write_results"]


def machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "load_average_when_written": [round(x, 2) for x in load] if load else None,
    }


def _row(score: ReportScore, ev: Evaluation) -> dict[str, Any]:
    t, s = score.translation, score.summary
    row: dict[str, Any] = {
        "id": score.id,
        "language": score.language,
        "form": score.form,
        "event": score.event,
        "seconds": ev.collected.seconds.get(score.id),
        "statuses": score.statuses,
        "flags": [f"{task or 'report'}:{code}" for task, code in score.flags],
        "entities": {
            "tp": sum(c.tp for c in score.entity_types.values()),
            "fp": sum(c.fp for c in score.entity_types.values()),
            "fn": sum(c.fn for c in score.entity_types.values()),
        },
        "values_missed": list(score.values.missed) if score.values else [],
    }
    if t is not None:
        row["translation"] = {
            "produced": t.produced,
            "terms": [t.terms_followed, t.terms],
            "protected": [sum(p.kept for p in t.protected), sum(p.in_source for p in t.protected)],
            "language": t.language,
        }
    if s is not None:
        row["summary"] = {
            "facts": [s.facts_recalled, s.facts],
            "unsupported": list(s.unsupported),
            "words": s.words,
            "language": s.language,
        }
    if score.quantities is not None:
        q = score.quantities
        row["quantities"] = {"tp": q.tp, "fp": q.fp, "fn": q.fn}
    for what, found in (("dead_letter", ev.collected.dead), ("refused", ev.collected.refused)):
        if score.id in found:
            row[what] = found[score.id]
    return row


def result_document(ev: Evaluation, command: str) -> dict[str, Any]:
    o = ev.options
    return {
        "vigie_eval": 1,
        "command": command,
        "run_id": ev.run_id,
        "started_at": ev.started_at,
        "wall_s": ev.wall_s,
        "machine": machine(),
        "key": ev.key,
        "options": {
            "split": o.split,
            "limit": o.limit,
            "ids": list(o.ids),
            "tasks": list(ev.tasks),
            "inflight": o.inflight,
            "report_timeout_s": o.report_timeout,
            "deadline_s": None if o.url else o.deadline,
            "server": o.url or "embedded",
            **ev.settings,
        },
        "gold": {"reports": [g.id for g in ev.gold]},
        "figures": ev.figures,
        "calibration": ev.calibration,
        "reports": [_row(score, ev) for score in ev.scores],
    }


def write_results(ev: Evaluation, out: Path, command: str) -> list[Path]:
    """Writes every file into ``out`` (created); returns their paths."""
    from services.evaluation.plots import write_plots

    out.mkdir(parents=True, exist_ok=True)
    document = result_document(ev, command)
    paths = [out / "eval.json", out / "eval.md", out / "events.jsonl"]
    paths[0].write_bytes(msgspec.json.format(msgspec.json.encode(document), indent=2) + b"\n")
    plots = write_plots(document, out)
    paths[1].write_text(render_markdown(document, [p.name for p in plots]), "utf-8")
    with paths[2].open("wb") as f:
        for gold in ev.gold:
            event = ev.collected.events.get(gold.id)
            if event is not None:
                f.write(msgspec.json.encode({"gold": gold.id, "event": event}) + b"\n")
    return [*paths, *plots]
