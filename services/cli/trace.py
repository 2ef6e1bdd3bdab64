"""`vigie trace REPORT_ID`: one report's journey, drawn from the JSON-lines telemetry export.

One line per span: indented under its parent, a bar placed and scaled on the trace's duration,
the duration in ms and the service. Engine batch spans (in traces of their own, LINKED to the
report's inference requests) are drawn under the request they served, marked ``↔``.
``--html FILE`` writes the same picture as a self-contained page (inline CSS and SVG).
"""

from __future__ import annotations

import argparse
import html
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio.to_thread

from bus.telemetry import REPORT_ID
from services.config.load import LoadedConfig
from services.telemetry.export import read_spans
from services.telemetry.service import telemetry_dir


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser("trace", help="draw one report's trace from the telemetry file export")
    p.add_argument("report_id", metavar="REPORT_ID", help="a report id (or a trace id)")
    p.add_argument(
        "--dir", help="export directory (default telemetry.dir, else <data_dir>/telemetry)"
    )
    p.add_argument("--html", metavar="FILE", help="also write the waterfall as an HTML page")
    p.add_argument("--width", type=int, help="bar width in characters (default: fit terminal)")
    p.set_defaults(func=cmd_trace)


@dataclass
class Row:
    span: dict[str, Any]
    depth: int
    linked: bool = False

    @property
    def start(self) -> int:
        return int(self.span["start"] or 0)

    @property
    def end(self) -> int:
        return int(self.span["end"] or self.span["start"] or 0)

    @property
    def ms(self) -> float:
        return (self.end - self.start) / 1e6


@dataclass
class Trace:
    trace_id: str
    rows: list[Row] = field(default_factory=list)

    @property
    def start(self) -> int:
        return min(r.start for r in self.rows)

    @property
    def end(self) -> int:
        return max(r.end for r in self.rows)


def find_traces(spans: Iterable[dict[str, Any]], wanted: str) -> list[Trace]:
    """The traces holding a span of report ``wanted`` (or whose id it is), oldest first."""
    by_trace: dict[str, list[dict[str, Any]]] = {}
    linked: dict[str, list[dict[str, Any]]] = {}  # span id → spans linking to it
    ids: set[str] = set()
    for span in spans:
        by_trace.setdefault(span["trace_id"], []).append(span)
        if (span.get("attributes") or {}).get(REPORT_ID) == wanted or span["trace_id"] == wanted:
            ids.add(span["trace_id"])
        for link in span.get("links") or []:
            linked.setdefault(link["span_id"], []).append(span)
    traces = [_tree(tid, by_trace[tid], linked) for tid in ids]
    return sorted((t for t in traces if t.rows), key=lambda t: t.start)


def _tree(
    trace_id: str, spans: list[dict[str, Any]], linked: dict[str, list[dict[str, Any]]]
) -> Trace:
    unique = {s["span_id"]: s for s in spans}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for s in unique.values():
        parent = s.get("parent_id")
        children.setdefault(parent if parent in unique else None, []).append(s)
    trace = Trace(trace_id)

    def walk(span: dict[str, Any], depth: int) -> None:
        trace.rows.append(Row(span, depth))
        for batch in sorted(linked.get(span["span_id"], []), key=lambda s: s["start"]):
            if batch["trace_id"] != trace_id:
                trace.rows.append(Row(batch, depth + 1, linked=True))
        for child in sorted(children.get(span["span_id"], []), key=lambda s: s["start"]):
            walk(child, depth + 1)

    for root in sorted(children.get(None, []), key=lambda s: s["start"]):
        walk(root, 0)
    return trace


def _label(row: Row) -> str:
    mark = "↔ " if row.linked else ""
    error = " !" if row.span.get("status") == "ERROR" else ""
    return f"{'  ' * row.depth}{mark}{row.span['name']}{error}"


def _service(row: Row) -> str:
    return str(row.span.get("service") or "?").removeprefix("vigie-")


def render_text(trace: Trace, width: int = 40, name_width: int = 56) -> str:
    t0, total = trace.start, max(1, trace.end - trace.start)
    head = f"trace {trace.trace_id}  {len(trace.rows)} spans  {total / 1e6:.1f} ms"
    lines = [head]
    for row in trace.rows:
        begin = round((row.start - t0) / total * width)
        length = max(1, round((row.end - row.start) / total * width))
        begin = min(begin, width - 1)
        bar = (" " * begin + "█" * min(length, width - begin)).ljust(width)
        name = _label(row)
        name = name if len(name) <= name_width else name[: name_width - 1] + "…"
        lines.append(f"{name:<{name_width}} │{bar}│ {row.ms:9.1f} ms  {_service(row)}")
    return "\n".join(lines)


_COLOURS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1"]


def render_html(traces: list[Trace], report_id: str) -> str:
    services = sorted({_service(r) for t in traces for r in t.rows})
    colour = {s: _COLOURS[i % len(_COLOURS)] for i, s in enumerate(services)}
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>vigie trace {html.escape(report_id)}</title><style>",
        "body{font:13px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}",
        "h2{font-size:15px;margin:1.5em 0 .3em}svg text{font:12px monospace}",
        ".legend span{display:inline-block;margin-right:1em}",
        ".legend i{display:inline-block;width:.9em;height:.9em;margin-right:.3em}",
        "</style></head><body>",
        f"<h1>Report {html.escape(report_id)}</h1><div class='legend'>",
        *(f"<span><i style='background:{colour[s]}'></i>{html.escape(s)}</span>" for s in services),
        "</div>",
    ]
    label_w, bar_w, row_h = 460, 640, 20
    for trace in traces:
        t0, total = trace.start, max(1, trace.end - trace.start)
        height = row_h * len(trace.rows) + 10
        parts.append(
            f"<h2>trace {trace.trace_id} — {len(trace.rows)} spans, {total / 1e6:.1f} ms</h2>"
            f"<svg xmlns='http://www.w3.org/2000/svg' width='{label_w + bar_w + 200}' "
            f"height='{height}'>"
        )
        for i, row in enumerate(trace.rows):
            y = i * row_h + 5
            x = label_w + (row.start - t0) / total * bar_w
            w = max(1.5, (row.end - row.start) / total * bar_w)
            tip = html.escape(
                f"{row.span['name']} [{row.span.get('kind')}] {row.ms:.2f} ms {_service(row)}"
                f" status={row.span.get('status')}"
            )
            fill = colour[_service(row)]
            style = (
                " stroke='#d62728' stroke-width='2'" if row.span.get("status") == "ERROR" else ""
            )
            dash = " fill-opacity='0.55'" if row.linked else ""
            parts.append(
                f"<g><title>{tip}</title>"
                f"<text x='{4 + row.depth * 14}' y='{y + 13}'>"
                f"{html.escape(_label(row).strip())}</text>"
                f"<rect x='{x:.1f}' y='{y + 2}' width='{w:.1f}' height='{row_h - 6}' "
                f"fill='{fill}'{dash}{style}/>"
                f"<text x='{label_w + bar_w + 8}' y='{y + 13}'>{row.ms:.1f} ms "
                f"{html.escape(_service(row))}</text></g>"
            )
        parts.append("</svg>")
    parts.append("</body></html>")
    return "\n".join(parts)


def load(directory: Path, report_id: str) -> list[Trace]:
    if not directory.is_dir():
        return []
    return find_traces(read_spans(directory), report_id)


async def cmd_trace(args: argparse.Namespace, loaded: LoadedConfig) -> int:
    directory = Path(args.dir) if args.dir else telemetry_dir(loaded.config)
    traces = await anyio.to_thread.run_sync(load, directory, args.report_id)
    if not traces:
        print(
            f"vigie: no spans of report {args.report_id} in {directory} (the services write "
            "them there while telemetry.file_export is on; spans are flushed every few seconds)"
        )
        return 1
    width = args.width or max(20, min(80, shutil.get_terminal_size().columns - 90))
    for trace in traces:
        print(render_text(trace, width))
        print()
    if args.html:
        page = render_html(traces, args.report_id)
        await anyio.Path(args.html).write_text(page, encoding="utf-8")
        print(f"vigie: wrote {args.html}")
    return 0
