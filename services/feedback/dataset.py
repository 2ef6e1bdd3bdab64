"""Training sets from corrections and the gold set, in the serving prompt format of each task.

Pure: the caller brings the corrections, the events they name, the gold reports and each task's
logic; every example is the very prompt the task service would send the engine for that report
(``TaskLogic.prompt``) and, as completion, the corrected output written the way the task's
parser reads it. A set never mixes labels unless the caller allows it, and it carries the
highest label of what it was built from.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from schemas.v1 import LABELS, Correction, EnrichedEvent, IngestedReport, highest_label
from services.evaluation.gold import GoldReport
from services.feedback.correction import CORRECTED_FIELD, corrected_field
from services.tasks.contract import TaskLogic
from services.tasks.prompting import PromptSpec

FORMAT = "vigie-dataset/1"


@dataclass(frozen=True)
class Example:
    """One prompt and the completion the model should have given."""

    task: str
    label: str
    #: ``feedback:<correction id>`` or ``gold:<report id>``.
    origin: str
    style: str
    prompt_version: str
    completion: str
    prompt: str | None = None
    messages: list[dict[str, str]] | None = None


@dataclass
class DatasetError(ValueError):
    problem: str
    recoverable: bool = False

    def __str__(self) -> str:
        return self.problem


def report_from_event(event: EnrichedEvent) -> IngestedReport:
    """The report as the task services saw it, rebuilt from its enriched event."""
    return IngestedReport(
        report_id=event.report_id,
        label=event.label,
        kind=event.kind,
        source=event.source,
        subject=f"feeds.{event.label}.{event.kind}.{event.source}",
        precedence=event.precedence,
        original_text=event.original_text,
        normalised_text=event.normalised_text,
        language=event.language,
        language_confidence=event.language_confidence,
        expected_tasks=[t.task for t in event.tasks],
        ingested_at=event.ingested_at,
        deadline_at=event.ingested_at,
        trace_id=event.trace_id,
    )


def report_from_gold(gold: GoldReport, tasks: Sequence[str]) -> IngestedReport:
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return IngestedReport(
        report_id=f"gold-{gold.id}",
        label=gold.label,  # type: ignore[arg-type]
        kind="report",
        source="gold",
        subject=f"feeds.{gold.label}.report.gold",
        precedence=gold.precedence,  # type: ignore[arg-type]
        original_text=gold.text,
        normalised_text=gold.text,
        language=gold.language,
        language_confidence=1.0,
        expected_tasks=list(tasks),
        ingested_at=at,
        deadline_at=at,
        trace_id="0" * 32,
    )


def _schema_bounds(spec: PromptSpec, key: str) -> tuple[int | None, int | None]:
    """(most items, longest ``text``) of the list ``key`` in the prompt's JSON schema."""
    schema = spec.json_schema or {}
    array = schema.get("properties", {}).get(key, {})
    text = array.get("items", {}).get("properties", {}).get("text", {})
    return array.get("maxItems"), text.get("maxLength")


def _bounded(items: list[dict[str, Any]], spec: PromptSpec, key: str) -> list[dict[str, Any]]:
    # A target the serving grammar could not produce would teach what the engine then blocks.
    most, longest = _schema_bounds(spec, key)
    if longest is not None:
        items = [i for i in items if len(str(i.get("text", ""))) <= longest]
    return items[:most] if most is not None else items


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def render_target(field: str, values: Any, spec: PromptSpec) -> str:
    """The answer text the task's parser reads, for a corrected ``field``'s ``values``."""
    if field in ("translation", "summary"):
        return str(values)
    if field == "entities":
        items = [{"type": e["type"], "text": e["text"]} for e in values]
        return json.dumps({"entities": _bounded(items, spec, "entities")}, ensure_ascii=False)
    if field == "quantities":
        items = [
            {
                "text": q["text"],
                "item": q["item"],
                "quantity": _number(q["quantity"]),
                "unit": q["unit"],
                "status": q["status"],
            }
            for q in values
            if q.get("text")
        ]
        return json.dumps({"items": _bounded(items, spec, "items")}, ensure_ascii=False)
    raise DatasetError(f"no training target for a corrected {field}")


def _example(
    logic: TaskLogic, report: IngestedReport, field: str, values: Any, origin: str
) -> Example | None:
    if logic.answer_without_model(report) is not None:
        return None  # the model is not asked for this report: nothing to teach
    spec = logic.prompt(report, None)
    completion = render_target(field, values, spec)
    if spec.style == "few-shot" and spec.stop:
        # Where the served answer ends: the model learns to stop there.
        completion += spec.stop[0]
    return Example(
        task=logic.task,
        label=report.label,
        origin=origin,
        style=spec.style,
        prompt_version=spec.version,
        completion=completion,
        prompt=spec.prompt,
        messages=[{"role": m.role, "content": m.content} for m in spec.messages]
        if spec.messages is not None
        else None,
    )


def from_corrections(
    corrections: Iterable[Correction],
    events: Mapping[tuple[str, int], EnrichedEvent],
    logics: Mapping[str, TaskLogic],
) -> tuple[list[Example], list[str]]:
    """Examples of the corrections whose event and task are known, and why others were not."""
    examples: list[Example] = []
    skipped: list[str] = []
    for c in corrections:
        event = events.get((c.report_id, c.revision))
        logic = logics.get(c.task)
        if event is None or logic is None:
            why = "its event is no longer stored" if event is None else "its task is not served"
            skipped.append(f"correction {c.correction_id}: {why}")
            continue
        field = corrected_field(c)
        raw = getattr(c, field)
        values = raw if isinstance(raw, str) else [_plain(v) for v in raw]
        ex = _example(logic, report_from_event(event), field, values, f"feedback:{c.correction_id}")
        if ex is None:
            skipped.append(f"correction {c.correction_id}: the task answers it without the model")
        else:
            examples.append(ex)
    return examples, skipped


def _plain(value: Any) -> dict[str, Any]:
    import msgspec

    out: dict[str, Any] = msgspec.to_builtins(value)
    return out


def from_gold(
    reports: Iterable[GoldReport],
    logics: Mapping[str, TaskLogic],
    fills: Mapping[str, tuple[str, ...]],
    target_language: str,
) -> list[Example]:
    """Examples of the gold reports' references for each task that has one: the reference
    translation (when in ``target_language``), the entities and the logistics quantities
    (a summary has key facts, not a reference text: no summary example)."""
    examples: list[Example] = []
    for gold in reports:
        report = report_from_gold(gold, list(logics))
        for task, logic in logics.items():
            for event_field in fills.get(task, ()):
                field = CORRECTED_FIELD.get(event_field)
                values: Any
                if field == "translation" and gold.reference_language == target_language:
                    values = gold.reference_text
                elif field == "entities" and gold.entities:
                    values = [{"type": e.type, "text": e.text} for e in gold.entities]
                elif field == "quantities" and gold.quantities:
                    values = [asdict(q) for q in gold.quantities]
                else:
                    continue
                ex = _example(logic, report, field, values, f"gold:{gold.id}")
                if ex is not None:
                    examples.append(ex)
    return examples


def check_labels(examples: Sequence[Example], labels: Sequence[str], mix: bool) -> str:
    """The label of a set built from ``examples``: the one asked for, or — only when ``mix``
    allows several — the highest of them. Raises DatasetError when labels would mix unasked."""
    asked = sorted(set(labels), key=LABELS.index)
    if len(asked) > 1 and not mix:
        raise DatasetError(
            f"labels {', '.join(asked)} asked for: a training set holds one label unless "
            "--mix-labels says otherwise (it then carries the highest)"
        )
    stray = sorted({e.label for e in examples} - set(asked))
    if stray:
        raise DatasetError(f"examples of label {', '.join(stray)} in a set of {', '.join(asked)}")
    return highest_label(asked)  # type: ignore[arg-type]


def render_dataset(examples: Sequence[Example], label: str, sources: Sequence[str]) -> bytes:
    """JSON lines: a header (format, label, counts, fingerprint of the examples), then one
    example per line. The fingerprint is the sha256 of the example lines: a fine-tuned adapter
    records it, so the data it was trained on can be named."""
    lines = [json.dumps(asdict(e), ensure_ascii=False, sort_keys=True) for e in examples]
    body = "".join(line + "\n" for line in lines).encode("utf-8")
    header = {
        "format": FORMAT,
        "label": label,
        "examples": len(examples),
        "tasks": dict(sorted(_count(e.task for e in examples).items())),
        "sources": list(sources),
        "fingerprint": hashlib.sha256(body).hexdigest(),
    }
    return json.dumps(header, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n" + body


def _count(items: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return out


@dataclass(frozen=True)
class Dataset:
    label: str
    fingerprint: str
    examples: list[Example]


def load_dataset(data: bytes) -> Dataset:
    """A set written by :func:`render_dataset`; DatasetError when its header or lines do not
    hold (a fingerprint that does not match its examples is refused)."""
    head, _, body = data.partition(b"\n")
    try:
        header = json.loads(head)
    except ValueError as exc:
        raise DatasetError(f"not a dataset: the first line is not JSON ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise DatasetError(f"not a dataset: the first line must name format {FORMAT!r}")
    if hashlib.sha256(body).hexdigest() != header.get("fingerprint"):
        raise DatasetError("the examples do not match the header's fingerprint: refused")
    label = header.get("label")
    if label not in LABELS:
        raise DatasetError(f"the header's label {label!r} is not one of {', '.join(LABELS)}")
    examples = [Example(**json.loads(line)) for line in body.decode("utf-8").splitlines() if line]
    above = [e.origin for e in examples if LABELS.index(e.label) > LABELS.index(label)]
    if above:
        raise DatasetError(f"examples above the set's label {label}: {', '.join(above[:3])}")
    return Dataset(label=label, fingerprint=header["fingerprint"], examples=examples)
