"""The load test's report: ``loadtest.json``, ``loadtest.md`` and two PNG plots.

* ``latency-cdf.png`` — publish (scheduled time) → enriched latency, one CDF per precedence,
  log time axis, each precedence's deadline marked;
* ``throughput-backlog.png`` — offered and enriched reports per second, and the backlog
  (pending + ack-pending over every consumer, by stage), against time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

JSON_NAME = "loadtest.json"
MD_NAME = "loadtest.md"
CDF_NAME = "latency-cdf.png"
SERIES_NAME = "throughput-backlog.png"
COLOURS = {"FLASH": "tab:red", "IMMEDIATE": "tab:orange", "PRIORITY": "tab:blue",
           "ROUTINE": "tab:green", "ALL": "black"}  # fmt: skip


def write_report(result: dict[str, Any], out: Path, *, plots: bool = True) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = [out / JSON_NAME, out / MD_NAME]
    (out / JSON_NAME).write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    if plots:
        written += [plot_cdf(result, out / CDF_NAME), plot_series(result, out / SERIES_NAME)]
    (out / MD_NAME).write_text(markdown(result, plots=plots))
    return written


def _ms(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v / 1000:,.2f} s" if v >= 1000 else f"{v:,.1f} ms"


def markdown(r: dict[str, Any], *, plots: bool = True) -> str:
    o, t = r["options"], r["totals"]
    arrivals = o["arrivals"] + (f" (bursts of {o['burst_size']})" if o["burst_size"] else "")
    lines = [
        "# Vigie load test",
        "",
        f"- stack: {r['stack']['kind']} — {r['stack']['url']}",
        f"- machine: {r['machine']['host']}, {r['machine']['cpus']} CPUs, "
        f"{r['machine']['platform']}, Python {r['machine']['python']}",
        f"- offered: {arrivals}, {o['rate']}/s for {o['duration_s']} s"
        + (f" (at most {o['max_reports']})" if o["max_reports"] else "")
        + f", seed {o['seed']}; server durability: {o['sync_interval']}",
        f"- latency is from each report's *scheduled* send time (open loop: no coordinated "
        f"omission) to its first enriched event; max send lag {t['max_send_lag_ms']} ms",
        "",
        "| | |",
        "|---|---:|",
        f"| offered | {t['offered']} ({t['offered_per_s']}/s) |",
        f"| enriched (complete) | {t['complete']} ({t['throughput_per_s']}/s) |",
        f"| goodput within deadline | {t['goodput']} ({t['goodput_share']:.1%}, "
        f"{t['goodput_per_s']}/s) |"
        if t["goodput_share"] is not None
        else "| goodput within deadline | – |",
        f"| partial events (deadline) | {t['partial_events']} |",
        f"| unfinished at the end | {t['unfinished']} |",
        f"| dead letters | {t['dead_letters']} {t['dead_letter_reasons'] or ''} |",
        f"| publish errors | {t['publish_errors']} |",
        f"| deliveries per report (all consumers) | {t['deliveries_per_report']} |",
        f"| redelivered (peak, ack-pending) | {t['redelivered_peak']} |",
        f"| backlog peak / end | {t['backlog_peak']} / {t['backlog_end']} |",
        f"| report records parked in collate (peak) | {t['parked_peak']} |",
        f"| duplicate complete events | {t['duplicate_complete_events']} |",
        "",
        "| precedence | offered | complete | deadline | goodput | p50 | p90 | p99 | p99.9 | max |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows = dict(r["per_precedence"])
    if r.get("latency_all"):
        rows["ALL"] = {
            "offered": t["offered"],
            "complete": t["complete"],
            "deadline_s": None,
            "goodput_share": t["goodput_share"],
            "latency": r["latency_all"],
        }
    for prec, e in rows.items():
        lat = e.get("latency") or {}
        deadline = f"{e['deadline_s']:g} s" if e["deadline_s"] else ""
        good = f"{e['goodput_share']:.1%}" if e["goodput_share"] is not None else "–"
        lines.append(
            f"| {prec} | {e['offered']} | {e['complete']} | {deadline} | {good} | "
            + " | ".join(_ms(lat.get(k)) for k in ("p50_ms", "p90_ms", "p99_ms", "p99_9_ms"))
            + f" | {_ms(lat.get('max_ms'))} |"
        )
    mix = r["mix_observed"]
    lines += [
        "",
        f"Mix sent — kinds: {_counts(mix['kind'])}; languages: {_counts(mix['language'])}; "
        f"labels: {_counts(mix['label'])}.",
    ]
    if plots:
        lines += [
            "",
            f"![latency CDF]({CDF_NAME})",
            "",
            f"![throughput and backlog]({SERIES_NAME})",
        ]
    return "\n".join(lines) + "\n"


def _counts(c: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(c.items()))


def plot_cdf(r: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=100)
    for prec, values in sorted(r["latency_ms_raw"].items()):
        if not values:
            continue
        xs = sorted(values)
        ys = [(i + 1) / len(xs) for i in range(len(xs))]
        ax.step(xs, ys, where="post", label=f"{prec} (n={len(xs)})", color=COLOURS.get(prec))
        deadline = r["per_precedence"].get(prec, {}).get("deadline_s")
        if deadline:
            ax.axvline(deadline * 1000, color=COLOURS.get(prec), linestyle=":", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("publish → enriched latency (ms, log; dotted: deadline)")
    ax.set_ylabel("fraction of reports")
    ax.set_ylim(0, 1.01)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title("Latency CDF per precedence")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_series(r: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = r["series"]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), dpi=100, sharex=True)
    offered, done = series["offered_per_s"], series["enriched_per_s"]
    top.plot(range(len(offered)), offered, label="offered / s", drawstyle="steps-post")
    top.plot(range(len(done)), done, label="enriched / s", drawstyle="steps-post")
    top.set_ylabel("reports per second")
    top.legend(loc="upper right")
    top.grid(True, alpha=0.3)
    samples = series["samples"]
    ts = [s["t"] for s in samples]
    bottom.plot(ts, [s["backlog"] for s in samples], label="total", color="black")
    bottom.plot(ts, [s["parked"] for s in samples], label="parked in collate", color="grey",
                linestyle="--")  # fmt: skip
    stages = sorted({k for s in samples for k in s["by_stage"]})
    for stage in stages:
        ys = [s["by_stage"].get(stage, 0) for s in samples]
        if any(ys):
            bottom.plot(ts, ys, label=stage, linewidth=0.9)
    bottom.set_ylabel("backlog (messages)")
    bottom.set_xlabel("seconds from the first scheduled send")
    bottom.legend(loc="upper right", fontsize="small", ncol=2)
    bottom.grid(True, alpha=0.3)
    fig.suptitle("Throughput and backlog over time")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
