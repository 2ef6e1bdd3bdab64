"""Quantity precision and recall of logstat against a labelled set of logistics reports.

    python -m services.logstat.measure --path deterministic --out FILE [--gold FILE]
    python -m services.logstat.measure --path model --out FILE [--nats URL] [--timeout S]

``deterministic``: the patterns alone (what logstat answers without the engine). ``model``: the
task as deployed — each report published to ``vigie`` (``vigie up`` started here on a free port
and a fresh store, ingest asking for logstat only, unless ``--nats`` names a running one), its
event's ``outputs["logstat"]`` read back with ``vigie tail``: the patterns, the engine's grounded
items merged, or the patterns alone where a LOGSTAT was read whole. Nothing is imported from the
engine or the bus: ``vigie`` is run as a command.

A predicted item matches a gold item when its quantity, unit of measure and status are the gold's
and its span overlaps the gold span (each gold item matched once). ``lenient`` also counts a
match on quantity and overlap alone (unit or status wrong).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from services.logstat.parse import parse_report

__all__ = ["GOLD", "load_gold", "main", "score"]

GOLD = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "logstat" / "gold.jsonl"
Item = dict[str, Any]


def load_gold(path: Path = GOLD) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _overlap(a: Item, b: Item) -> bool:
    return bool(a["start"] < b["end"] and b["start"] < a["end"])


def _same_number(a: Any, b: Any) -> bool:
    return abs(float(a) - float(b)) <= 1e-6 * max(1.0, abs(float(b)))


def _matches(predicted: Sequence[Item], gold: Sequence[Item], strict: bool) -> int:
    used: set[int] = set()
    matched = 0
    for p in predicted:
        for index, g in enumerate(gold):
            if (
                index in used
                or not _overlap(p, g)
                or not _same_number(p["quantity"], g["quantity"])
            ):
                continue
            if strict and (p["unit"] != g["unit"] or p["status"] != g["status"]):
                continue
            used.add(index)
            matched += 1
            break
    return matched


def _ratios(matched: int, predicted: int, gold: int) -> dict[str, Any]:
    precision = matched / predicted if predicted else 1.0
    recall = matched / gold if gold else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "gold": gold,
        "predicted": predicted,
        "matched": matched,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
    }


def score(reports: Sequence[dict[str, Any]], predictions: dict[str, list[Item]]) -> dict[str, Any]:
    """Precision and recall over ``reports`` (gold rows), overall, by format and language."""
    groups: dict[str, list[tuple[int, int, int, int]]] = {}
    misses: list[dict[str, Any]] = []
    for report in reports:
        predicted = predictions.get(report["id"], [])
        gold = report["items"]
        strict = _matches(predicted, gold, strict=True)
        lenient = _matches(predicted, gold, strict=False)
        counts = (strict, lenient, len(predicted), len(gold))
        for key in ("all", f"format:{report['format']}", f"language:{report['language']}"):
            groups.setdefault(key, []).append(counts)
        if strict < max(len(gold), len(predicted)):
            misses.append(
                {
                    "id": report["id"],
                    "gold": [_short(g) for g in gold],
                    "predicted": [_short(p) for p in predicted],
                }
            )
    summary: dict[str, Any] = {}
    for key, rows in groups.items():
        matched, loose, predicted_n, gold_n = (sum(column) for column in zip(*rows, strict=True))
        summary[key] = _ratios(matched, predicted_n, gold_n) | {
            "lenient": _ratios(loose, predicted_n, gold_n),
            "reports": len(rows),
        }
    return {"summary": summary, "differences": misses}


def _short(item: Item) -> str:
    return f"{item['quantity']} {item['unit']} {item['status']} “{item.get('text', '')}”"


def deterministic(reports: Iterable[dict[str, Any]]) -> dict[str, list[Item]]:
    out: dict[str, list[Item]] = {}
    for report in reports:
        reading = parse_report(report["text"])
        out[report["id"]] = [q.as_json() for q in reading.quantities]
    return out


# ---------------------------------------------------------------- the model path, through vigie

_READY = re.compile(r"NATS ready at (\S+)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _vigie(*args: str) -> list[str]:
    return [sys.executable, "-m", "services.cli.main", *args]


def _lines_of(stream: Any, into: queue.Queue[str]) -> None:
    for line in iter(stream.readline, ""):
        into.put(line)


def _reader(process: subprocess.Popen[str]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines_of, args=(process.stdout, lines), daemon=True).start()
    return lines


def _wait_line(lines: queue.Queue[str], found: Callable[[str], bool], deadline: float) -> str:
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        if found(line):
            return line
    raise TimeoutError("vigie did not answer in time")


def through_vigie(
    reports: Sequence[dict[str, Any]], nats: str | None, timeout: float, flags: Counter[str]
) -> dict[str, list[Item]]:
    """Each report through ``vigie``: published, enriched, its ``outputs["logstat"]`` read (and
    the codes of its logstat flags counted into ``flags``)."""
    env = os.environ | {
        "VIGIE_INGEST__TASKS": "logstat",
        "VIGIE_COLLATE__DEADLINE_ROUTINE": str(int(timeout) + 60),
    }
    started: list[subprocess.Popen[str]] = []
    store: str | None = None
    deadline = time.monotonic() + timeout
    try:
        if nats is None:
            store = tempfile.mkdtemp(prefix="logstat-measure-")
            command = _vigie("up", "--port", str(_free_port()), "--data-dir", store)
            up = subprocess.Popen(
                command, stdout=subprocess.PIPE, text=True, env=env, stderr=subprocess.DEVNULL
            )
            started.append(up)
            ready = _wait_line(_reader(up), lambda s: _READY.search(s) is not None, deadline)
            match = _READY.search(ready)
            assert match is not None
            nats = match.group(1)
        tail = subprocess.Popen(
            _vigie("tail", "enriched.>", "--json", "--nats", nats),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        started.append(tail)
        assert tail.stderr is not None
        tail.stderr.readline()  # "tail: listening…": nothing published from here on is missed
        events = _reader(tail)
        run = f"{int(time.time())}"
        for report in reports:
            subprocess.run(
                _vigie(
                    "publish", "--subject", "feeds.np.report.logstatgold", "--id",
                    f"{report['id']}-{run}", "--nats", nats, "-",
                ),
                input=report["text"], text=True, check=True, env=env, capture_output=True,
            )  # fmt: skip
        found: dict[str, list[Item]] = {}
        while len(found) < len(reports) and time.monotonic() < deadline:
            try:
                event = json.loads(events.get(timeout=0.5))
            except queue.Empty:
                continue
            rid = str(event.get("publisher_id") or "").rsplit("-", 1)[0]
            if event.get("partial") or rid not in {r["id"] for r in reports}:
                continue
            found[rid] = (event.get("outputs") or {}).get("logstat", {}).get("items", [])
            flags.update(f["code"] for f in event.get("flags", []) if f.get("task") == "logstat")
        return found
    finally:
        for process in reversed(started):
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        if store is not None:
            shutil.rmtree(store, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.logstat.measure")
    parser.add_argument("--path", choices=("deterministic", "model"), required=True)
    parser.add_argument("--out", type=Path, required=True, help="JSON results")
    parser.add_argument("--gold", type=Path, default=GOLD, help="labelled reports (JSONL)")
    parser.add_argument("--nats", help="a running vigie's NATS URL (model path)")
    parser.add_argument("--timeout", type=float, default=600.0, help="model path, seconds")
    args = parser.parse_args(argv)
    reports = load_gold(args.gold)
    started = time.monotonic()
    flags: Counter[str] = Counter()
    if args.path == "deterministic":
        predictions = deterministic(reports)
    else:
        predictions = through_vigie(reports, args.nats, args.timeout, flags)
    sources = Counter(item.get("source") for items in predictions.values() for item in items)
    result = {
        "path": args.path,
        "gold": str(args.gold),
        "seconds": round(time.monotonic() - started, 2),
        "answered": len(predictions),
        "items_by_source": dict(sources),
        "flags": dict(flags),
        **score(reports, predictions),
    }
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    overall = result["summary"]["all"]
    print(
        f"logstat {args.path}: precision {overall['precision']:.3f} recall {overall['recall']:.3f} "
        f"f1 {overall['f1']:.3f} ({overall['matched']} matched, {overall['predicted']} predicted, "
        f"{overall['gold']} gold, {len(reports)} reports, {len(predictions)} answered)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
