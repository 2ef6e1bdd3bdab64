"""One evaluation: the gold reports chosen, the pipeline run (embedded or at ``url``), scored."""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import msgspec
from msgspec.structs import replace

from bus.connect import close, connect
from bus.security.client import ClientSecurity
from schemas.v1 import EnrichedEvent
from services.config.schema import Config, NatsConfig
from services.evaluation.aggregate import aggregate, calibration, run_key
from services.evaluation.gold import GoldReport, load_gold
from services.evaluation.progress import Progress
from services.evaluation.runner import Collected, publish_and_collect
from services.evaluation.score import ReportScore, Roles, score_report
from services.evaluation.stack import embedded_stack
from services.evaluation.translation import Identify, py3langid_identifier
from services.inference.engine import Engine
from services.tasks.registry import task_registry

__all__ = [
    "EvalOptions",
    "Evaluation",
    "choose_reports",
    "eval_config",
    "evaluate",
    "rescore",
    "scored",
]


@dataclass(frozen=True)
class EvalOptions:
    #: ``dev``, ``test``, or None for both.
    split: str | None = "dev"
    limit: int | None = None
    #: These gold reports only, in this order (then ``split`` and ``limit`` still apply).
    ids: tuple[str, ...] = ()
    #: The tasks ingest asks for; empty: the configuration's ``ingest.tasks``.
    tasks: tuple[str, ...] = ()
    gold_dir: Path | None = None
    inflight: int = 4
    #: Longest wait for one report's complete event, from its publication.
    report_timeout: float = 1800.0
    #: Embedded stack: every precedence's deadline (an evaluation measures outputs, not a
    #: queue on a slow machine); None keeps the configured ones. Not used with ``url``.
    deadline: float | None = 3600.0
    #: An existing server whose services are already running (None: an embedded stack).
    url: str | None = None


@dataclass
class Evaluation:
    options: EvalOptions
    tasks: tuple[str, ...]
    gold: list[GoldReport]
    collected: Collected
    scores: list[ReportScore]
    figures: dict[str, Any]
    key: dict[str, Any]
    calibration: dict[str, Any]
    run_id: str
    started_at: str
    wall_s: float
    settings: dict[str, Any] = field(default_factory=dict)


def choose_reports(gold: Sequence[GoldReport], limit: int | None) -> list[GoldReport]:
    """The first ``limit`` reports taken in turn from each language (in id order within one),
    so that a short run still covers every language; all of them without a limit."""
    if limit is None or limit >= len(gold):
        return list(gold)
    by_language: dict[str, list[GoldReport]] = {}
    for report in gold:
        by_language.setdefault(report.language, []).append(report)
    chosen: list[GoldReport] = []
    queues = [list(reversed(v)) for _, v in sorted(by_language.items())]
    while len(chosen) < limit:
        for queue in queues:
            if queue and len(chosen) < limit:
                chosen.append(queue.pop())
    return chosen


def eval_config(
    cfg: Config,
    options: EvalOptions,
    *,
    model: str | None = None,
    engine: str | None = None,
    adapter: str | None = None,
) -> Config:
    """The configuration of the services an evaluation starts (see :class:`EvalOptions`);
    ``adapter`` only where the inference section has such a setting (ValueError otherwise)."""
    tasks = options.tasks or tuple(cfg.ingest.tasks)
    inference = cfg.inference
    if adapter is not None:
        if "adapter" not in type(inference).__struct_fields__:
            raise ValueError("the inference section has no adapter setting")
        inference = replace(inference, adapter=adapter)
    if model is not None:
        inference = replace(inference, model=model)
    if engine is not None:
        inference = replace(inference, engine=engine)
    collate = cfg.collate
    if options.deadline is not None:
        d = options.deadline
        collate = replace(
            collate, deadline_flash=d, deadline_immediate=d, deadline_priority=d, deadline_routine=d
        )
    # The embedded server has no identities: the in-process services connect without any.
    nats = NatsConfig(data_dir=cfg.nats.data_dir, sync_interval=cfg.nats.sync_interval)
    return replace(
        cfg,
        nats=nats,
        ingest=replace(cfg.ingest, tasks=tasks),
        collate=collate,
        inference=inference,
    )


async def evaluate(
    cfg: Config,
    options: EvalOptions,
    *,
    engine: Engine | None = None,
    identify: Identify | None = None,
    security: ClientSecurity | None = None,
    progress_stream: TextIO | None = None,
) -> Evaluation:
    """Run the chosen gold reports through the pipeline and score every event.

    ``cfg``: the services' configuration (:func:`eval_config`); ``engine`` replaces the
    configured one in the embedded stack (a scripted stand-in, in tests); ``security``: the
    credentials for ``options.url``.
    """
    gold = load_gold(options.gold_dir, options.split, options.ids)
    gold = choose_reports(gold, options.limit)
    run_id = f"{int(time.time())}"
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    started = time.monotonic()
    progress = Progress(len(gold), progress_stream or sys.stderr)
    if options.url is not None:
        nc = await connect(options.url, name="vigie-eval", security=security)
        try:
            collected = await _collect(nc, gold, run_id, options, progress)
        finally:
            await close(nc)
    else:
        with tempfile.TemporaryDirectory(prefix="vigie-eval-") as store:
            async with embedded_stack(cfg, Path(store), engine) as url:
                progress.show("services up, publishing")
                nc = await connect(url, name="vigie-eval")
                try:
                    collected = await _collect(nc, gold, run_id, options, progress)
                finally:
                    await close(nc)
    wall = time.monotonic() - started
    return scored(
        cfg,
        options,
        gold,
        collected,
        identify=identify,
        run_id=run_id,
        started_at=started_at,
        wall_s=round(wall, 1),
    )


def scored(
    cfg: Config,
    options: EvalOptions,
    gold: list[GoldReport],
    collected: Collected,
    *,
    identify: Identify | None = None,
    run_id: str,
    started_at: str,
    wall_s: float,
) -> Evaluation:
    """Every event of ``collected`` scored against its gold (the tasks: ``ingest.tasks``)."""
    if identify is None:
        identify = py3langid_identifier()
    tasks = tuple(cfg.ingest.tasks)
    roles = Roles.of(task_registry(cfg.tasks.extra_rows).fills(), tasks)
    target = cfg.tasks.target_language
    scores = [
        score_report(g, collected.events.get(g.id), roles, tasks, target=target, identify=identify)
        for g in gold
    ]
    events: list[EnrichedEvent] = list(collected.events.values())
    return Evaluation(
        options=options,
        tasks=tasks,
        gold=gold,
        collected=collected,
        scores=scores,
        figures=aggregate(scores, tasks, target=target, max_words=cfg.tasks.summary_max_words),
        key=run_key(events),
        calibration=calibration(gold, identify, target),
        run_id=run_id,
        started_at=started_at,
        wall_s=wall_s,
    )


class _Line(msgspec.Struct, frozen=True):
    gold: str
    event: EnrichedEvent


def rescore(
    cfg: Config,
    results: Path,
    *,
    gold_dir: Path | None = None,
    identify: Identify | None = None,
) -> Evaluation:
    """A finished run scored again with today's rules, from its ``eval.json`` and
    ``events.jsonl`` (the pipeline is not run); ``cfg`` gives the target language, the summary
    limit and the registry, the run's own options the tasks."""
    document = msgspec.json.decode((results / "eval.json").read_bytes())
    o = document["options"]
    options = EvalOptions(
        split=o["split"],
        limit=o["limit"],
        ids=tuple(o["ids"]),
        tasks=tuple(o["tasks"]),
        gold_dir=gold_dir,
        inflight=o["inflight"],
        report_timeout=o["report_timeout_s"],
        deadline=o["deadline_s"],
        url=None if o["server"] == "embedded" else o["server"],
    )
    gold = load_gold(gold_dir, None, tuple(document["gold"]["reports"]))
    collected = Collected()
    for raw in (results / "events.jsonl").read_bytes().splitlines():
        if raw.strip():
            line = msgspec.json.decode(raw, type=_Line)
            collected.events[line.gold] = line.event
            if not line.event.partial:
                collected.complete.add(line.gold)
    for row in document["reports"]:
        if row.get("seconds") is not None:
            collected.seconds[row["id"]] = row["seconds"]
        for what, into in (("dead_letter", collected.dead), ("refused", collected.refused)):
            if what in row:
                into[row["id"]] = row[what]
    cfg = replace(cfg, ingest=replace(cfg.ingest, tasks=options.tasks))
    evaluation = scored(
        cfg,
        options,
        gold,
        collected,
        identify=identify,
        run_id=document["run_id"],
        started_at=document["started_at"],
        wall_s=document["wall_s"],
    )
    first = o.get("first_command") or document["command"]
    evaluation.settings = {"rescored_from": str(results), "first_command": first}
    return evaluation


async def _collect(
    nc: Any, gold: list[GoldReport], run_id: str, options: EvalOptions, progress: Progress
) -> Collected:
    return await publish_and_collect(
        nc,
        gold,
        run_id,
        inflight=options.inflight,
        report_timeout=options.report_timeout,
        progress=progress,
    )
