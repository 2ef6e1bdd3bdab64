"""The published contract, generated from the code that enforces it.

``schemas/jsonschema/<Type>.json`` (one JSON Schema per public wire type) and
``schemas/asyncapi.json`` (AsyncAPI 3.0.0) are derived from ``schemas.v1`` and ``bus.topology``
only, so they cannot say anything the decoders and the provisioner do not do. They are committed
so that consumers outside this repository can read them; a unit test fails when they drift.

    python -m bus.contract           # regenerate
    python -m bus.contract --check   # exit 1 when a generated file is missing or stale
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

import schemas.v1 as v1
from bus import topology
from schemas.headers import PRECEDENCE, PRECEDENCE_LETTERS, PUBLISHER_HEADERS

REPO_ROOT = Path(__file__).resolve().parents[1]
JSONSCHEMA_DIR = Path("schemas/jsonschema")
ASYNCAPI_PATH = Path("schemas/asyncapi.json")
REGENERATE = "python -m bus.contract"

SCHEMA_BASE = f"https://vigie.invalid/schemas/v{v1.SCHEMA_MAJOR}/"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

#: The types a party outside Vigie may produce or consume (CollateState: operators read the KV).
PUBLIC_TYPES: tuple[type[msgspec.Struct], ...] = (
    v1.TextReport,
    v1.SensorReading,
    v1.IngestedReport,
    v1.TaskResult,
    v1.InferenceRequest,
    v1.InferenceResult,
    v1.EnrichedEvent,
    v1.DeadLetter,
    v1.CollateState,
    v1.Correction,
    v1.AuditRecord,
)

_DEFS_PREFIX = "#/$defs/"
_COMPONENT_SCHEMAS = "#/components/schemas/"


def json_schemas() -> dict[str, dict[str, Any]]:
    """File name → self-contained JSON Schema (2020-12, with ``$defs``) of each public type."""
    out: dict[str, dict[str, Any]] = {}
    for cls in PUBLIC_TYPES:
        name = cls.__name__
        schema = msgspec.json.schema(cls)
        for def_name, definition in schema["$defs"].items():
            _describe(definition, getattr(v1, def_name))
        schema["$schema"] = JSON_SCHEMA_DIALECT
        schema["$id"] = f"{SCHEMA_BASE}{name}.json"
        schema["title"] = name
        out[f"{name}.json"] = schema
    return out


def docstring_text(doc: str | None) -> str:
    """A docstring as the contract states it: its margin and surrounding blank lines removed.

    Done here, not left to msgspec: msgspec 0.22 kept the indentation of every line after the
    first, 0.23 removes it, and Python 3.13 strips it at compile time. The committed contract must
    not depend on which of them built it.
    """
    return inspect.cleandoc(doc) if doc else ""


def _describe(definition: dict[str, Any], cls: type) -> None:
    """Set a ``$defs`` entry's description from its wire type's docstring, normalised."""
    if text := docstring_text(cls.__doc__):
        definition["description"] = text
    else:
        definition.pop("description", None)


def _rewrite(node: Any, fix: Callable[[dict[str, Any]], dict[str, Any]]) -> Any:
    if isinstance(node, dict):
        return fix({k: _rewrite(v, fix) for k, v in node.items()})
    if isinstance(node, list):
        return [_rewrite(v, fix) for v in node]
    return node


def _as_component(node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(_DEFS_PREFIX):
        node["$ref"] = _COMPONENT_SCHEMAS + ref[len(_DEFS_PREFIX) :]
    # msgspec writes OpenAPI's discriminator object; AsyncAPI's Schema Object wants the property
    # name alone. The variants' own `type` enums still carry the mapping.
    disc = node.get("discriminator")
    if isinstance(disc, dict):
        node["discriminator"] = disc["propertyName"]
    return node


def component_schemas() -> dict[str, dict[str, Any]]:
    """Every ``$defs`` entry of the JSON Schemas, with references rewritten for AsyncAPI."""
    merged: dict[str, dict[str, Any]] = {}
    for schema in json_schemas().values():
        for name, definition in schema["$defs"].items():
            converted = _rewrite(definition, _as_component)
            # Two Structs of one name (say a v2 beside a v1) would silently shadow each other.
            if merged.setdefault(name, converted) != converted:
                raise ValueError(f"two different wire types are both named {name!r}")
    return dict(sorted(merged.items()))


# ---------------------------------------------------------------- AsyncAPI


def _ref(*parts: str) -> dict[str, str]:
    escaped = (p.replace("~", "~0").replace("/", "~1") for p in parts)
    return {"$ref": "#/" + "/".join(escaped)}


def _parameters() -> dict[str, dict[str, Any]]:
    return {
        "label": {
            "description": "Protection label, lowest first. Each label has its own streams.",
            "enum": list(topology.LABELS),
        },
        "kind": {
            "description": "report: free text (JSON TextReport or plain text); "
            "sensor: a JSON SensorReading.",
            "enum": list(topology.KINDS),
        },
        "source": {
            "description": "The publishing system or feed, matching "
            f"`{topology.SOURCE_RE.pattern}`. Report ids are scoped by it.",
            "examples": ["patrol-app", "radar_07"],
        },
        "stage": {
            "description": "The stage that refused the message: ingest, a task, inference or "
            "collate (a lower-case token).",
        },
        "action": {
            "description": "What the analyst did in the console.",
            "enum": list(topology.AUDIT_ACTIONS),
        },
        "task": {
            "description": "The task service the report is queued for: a name of the task "
            "registry (an open token matching `^[a-z][a-z0-9_]{0,30}$`).",
        },
        "client": {
            "description": "The service that asked the engine (a task; a lower-case token); its "
            "answers come back on its own subject.",
        },
        "prec": {
            "description": "Precedence of the report, lower-cased; each has its own consumer "
            "so that urgent work is not queued behind routine work.",
            "enum": [topology.prec_token(p) for p in topology.PRECEDENCES],
        },
    }


def _publisher_headers() -> dict[str, Any]:
    properties: dict[str, Any] = {
        name: {"type": "string", "description": text} for name, text in PUBLISHER_HEADERS.items()
    }
    properties[PRECEDENCE]["enum"] = [*topology.PRECEDENCES, *PRECEDENCE_LETTERS]
    return {"type": "object", "properties": properties}


def _messages() -> dict[str, dict[str, Any]]:
    def json_message(name: str, summary: str) -> dict[str, Any]:
        return {
            "name": name,
            "title": name,
            "summary": summary,
            "contentType": "application/json",
            "payload": {"$ref": _COMPONENT_SCHEMAS + name},
        }

    text_report = json_message("TextReport", "A free-text report as JSON, with its metadata.")
    text_report["headers"] = _ref("components", "schemas", "PublisherHeaders")
    sensor = json_message("SensorReading", "A structured sensor reading (kind `sensor` only).")
    sensor["headers"] = _ref("components", "schemas", "PublisherHeaders")
    return {
        "TextReport": text_report,
        "PlainTextReport": {
            "name": "PlainTextReport",
            "title": "Plain-text report",
            "summary": "A free-text report as UTF-8 text; its metadata travels in headers.",
            "contentType": "text/plain",
            "headers": _ref("components", "schemas", "PublisherHeaders"),
            "payload": {"type": "string", "minLength": 1},
        },
        "SensorReading": sensor,
        "IngestedReport": json_message(
            "IngestedReport", "A report as accepted by ingest (tagged `type: ingested`)."
        ),
        "TaskResult": json_message("TaskResult", "A task's answer (tagged `type: result`)."),
        "InferenceRequest": json_message(
            "InferenceRequest", "A generation asked of the engine (prompt or chat messages)."
        ),
        "InferenceResult": json_message(
            "InferenceResult", "The engine's answer: text, status, token counts and timings."
        ),
        "EnrichedEvent": json_message(
            "EnrichedEvent", "One report, enriched; a later revision supersedes a partial one."
        ),
        "DeadLetter": json_message(
            "DeadLetter", "A refused message with its reason and original bytes and headers."
        ),
        "Correction": json_message(
            "Correction", "An analyst's correction of one task's output in one enriched event."
        ),
        "AuditRecord": json_message(
            "AuditRecord", "Who viewed or corrected which report in the analyst console."
        ),
    }


def _channel(
    address: str, title: str, description: str, messages: dict[str, str]
) -> dict[str, Any]:
    params = re.findall(r"\{(\w+)\}", address)
    return {
        "address": address,
        "title": title,
        "description": description,
        "parameters": {p: _ref("components", "parameters", p) for p in params},
        "messages": {key: _ref("components", "messages", msg) for key, msg in messages.items()},
    }


def _channels() -> dict[str, dict[str, Any]]:
    t = topology
    max_mib = t.FEED_MAX_MSG_SIZE // t.MiB
    return {
        "feeds": _channel(
            t.feed_subject("{label}", "{kind}", "{source}"),
            "Raw feeds",
            "Publishers write reports and sensor readings here, one stream per label "
            f"(FEEDS_<LABEL>). At most {max_mib} MiB per message. A repeated Nats-Msg-Id is "
            "dropped as a duplicate; other input ingest refuses is dead-lettered with a reason.",
            {"textReport": "TextReport", "plainText": "PlainTextReport", "sensor": "SensorReading"},
        ),
        "enriched": _channel(
            t.enriched_subject("{label}", "{kind}", "{source}"),
            "Enriched events",
            "One event per report and revision (ENRICHED_<LABEL>), on the label, kind and source "
            "of the input.",
            {"event": "EnrichedEvent"},
        ),
        "dlq": _channel(
            t.dlq_subject("{stage}", "{label}"),
            "Dead letters",
            "What a stage could not accept, with the original bytes, so it can be requeued "
            "(DLQ_<LABEL>).",
            {"deadLetter": "DeadLetter"},
        ),
        "feedback": _channel(
            t.feedback_subject("{label}", "{kind}", "{source}"),
            "Analysts' corrections",
            "Analysts correct a task's output in an enriched event (FEEDBACK_<LABEL>), on the "
            "label, kind and source of that event: a correction is never written below the "
            "label of what it corrects. `vigie dataset export` turns them into training data.",
            {"correction": "Correction"},
        ),
        "audit": _channel(
            t.audit_subject("{label}", "{action}"),
            "Console audit",
            "The analyst console records who viewed and who corrected which report, on the "
            "analyst's own label (AUDIT_<LABEL>): never below what the analyst may know.",
            {"record": "AuditRecord"},
        ),
        "work": _channel(
            t.work_subject("{label}", "{task}", "{prec}"),
            "Task queue (internal)",
            "Internal: ingest queues each accepted report for each task (WORK_<LABEL>, "
            "work-queue retention).",
            {"ingested": "IngestedReport"},
        ),
        "collate": _channel(
            t.collate_subject("{label}", "{prec}"),
            "Collate queue (internal)",
            "Internal: ingest hands each report to collate with the tasks it must wait for.",
            {"ingested": "IngestedReport"},
        ),
        "results": _channel(
            t.result_subject("{label}", "{prec}"),
            "Task results (internal)",
            "Internal: task services answer collate, one result per report and task.",
            {"result": "TaskResult"},
        ),
        "infer": _channel(
            t.infer_subject("{label}", "{prec}"),
            "Engine requests (internal)",
            "Internal: task services ask the engine for a generation; inference workers on any "
            "machine share them, most urgent precedence first.",
            {"request": "InferenceRequest"},
        ),
        "inferred": _channel(
            t.inferred_subject("{label}", "{client}", "{prec}"),
            "Engine answers (internal)",
            "Internal: one answer per request (ok, expired or failed), to the client that asked.",
            {"result": "InferenceResult"},
        ),
    }


def _operations(channels: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    def op(action: str, channel: str, summary: str, internal: bool) -> dict[str, Any]:
        prefix = "Internal (Vigie's own services only): " if internal else ""
        return {
            "action": action,
            "channel": _ref("channels", channel),
            "summary": summary,
            "description": prefix + channels[channel]["description"].removeprefix("Internal: "),
            "messages": [
                _ref("channels", channel, "messages", k) for k in channels[channel]["messages"]
            ],
            "tags": [{"name": "internal" if internal else "public"}],
        }

    return {
        "publishReport": op("send", "feeds", "Publishers send reports and readings.", False),
        "receiveEnriched": op("receive", "enriched", "Analysts receive enriched events.", False),
        "receiveDeadLetters": op("receive", "dlq", "Operators receive dead letters.", False),
        "publishCorrection": op("send", "feedback", "Analysts send corrections.", False),
        "sendAudit": op(
            "send", "audit", "The analyst console records views and corrections.", False
        ),
        "consumeTask": op("receive", "work", "Task services take queued reports.", True),
        "consumeCollate": op("receive", "collate", "Collate takes ingested reports.", True),
        "consumeResults": op("receive", "results", "Collate takes task results.", True),
        "consumeInfer": op("receive", "infer", "Inference workers take requests.", True),
        "consumeInferred": op("receive", "inferred", "Task services take answers.", True),
    }


def _description() -> str:
    labels = " < ".join(topology.LABELS)
    precedences = ", ".join(topology.PRECEDENCES)
    policy = inspect.cleandoc(v1.__doc__ or "")
    return (
        "Vigie enriches free-text military reports and sensor readings published on NATS "
        "JetStream and publishes each report enriched (again, as a new revision, when a task "
        "answers after a partial event was published).\n\n"
        f"Protection labels, lowest first: {labels}. The label is the second token of every "
        "subject and each stream holds a single label, so access is granted per label. A "
        "derived product carries the highest label of its inputs.\n\n"
        f"Precedence (NATO), most urgent first: {precedences}; default ROUTINE. It is the last "
        "token of the internal work subjects, so urgent reports are served first.\n\n"
        f"{policy}\n"
    )


def asyncapi_document() -> dict[str, Any]:
    channels = _channels()
    schemas = component_schemas()
    schemas["PublisherHeaders"] = _publisher_headers()
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Vigie", "version": v1.SCHEMA_VERSION, "description": _description()},
        "defaultContentType": "application/json",
        "servers": {
            "nats": {
                "host": "localhost:4222",
                "protocol": "nats",
                "description": "Local development server.",
            }
        },
        "channels": channels,
        "operations": _operations(channels),
        "components": {
            "schemas": schemas,
            "messages": _messages(),
            "parameters": _parameters(),
        },
    }


# ---------------------------------------------------------------- files


def _render(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _expected() -> dict[Path, bytes]:
    files = {JSONSCHEMA_DIR / name: _render(s) for name, s in json_schemas().items()}
    files[ASYNCAPI_PATH] = _render(asyncapi_document())
    return files


def _orphans(root: Path, expected: dict[Path, bytes]) -> list[Path]:
    """Generated schemas of types that no longer exist: they would mislead readers."""
    directory = root / JSONSCHEMA_DIR
    if not directory.is_dir():
        return []
    return sorted(
        p.relative_to(root) for p in directory.glob("*.json") if p.relative_to(root) not in expected
    )


def write_contract(root: Path) -> list[Path]:
    """Write the contract under ``root``; returns the paths it changed (written or removed)."""
    changed: list[Path] = []
    expected = _expected()
    for rel, content in expected.items():
        path = root / rel
        # Untouched files keep their mtime, so builds that watch them do not rerun.
        if path.is_file() and path.read_bytes() == content:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        changed.append(path)
    for rel in _orphans(root, expected):
        (root / rel).unlink()
        changed.append(root / rel)
    return changed


def check_contract(root: Path) -> list[str]:
    """Paths (relative to ``root``) that are missing, stale or no longer generated."""
    expected = _expected()
    stale = [
        rel.as_posix()
        for rel, content in expected.items()
        if not (root / rel).is_file() or (root / rel).read_bytes() != content
    ]
    stale += [rel.as_posix() for rel in _orphans(root, expected)]
    return sorted(stale)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bus.contract", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report stale files")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root")
    args = parser.parse_args(argv)
    if sys.flags.optimize >= 2:
        # -OO strips the docstrings the descriptions are made of: the output would be stale.
        print("bus.contract: run without -OO", file=sys.stderr)
        return 2
    if args.check:
        stale = check_contract(args.root)
        for rel in stale:
            print(f"stale: {rel}", file=sys.stderr)
        if stale:
            print(f"run `{REGENERATE}` and commit the result", file=sys.stderr)
            return 1
        return 0
    for path in write_contract(args.root):
        print(f"{'wrote' if path.exists() else 'removed'} {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
