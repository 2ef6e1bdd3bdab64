"""The run's PNG plots (matplotlib, Agg backend: no display), from its JSON document."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["write_plots"]


def _bars(
    ax: Any, labels: Sequence[str], series: dict[str, Sequence[float | None]], ylabel: str
) -> None:
    width = 0.8 / max(len(series), 1)
    for i, (name, values) in enumerate(series.items()):
        xs = [x + i * width for x in range(len(labels))]
        ax.bar(xs, [0.0 if v is None else v for v in values], width, label=name)
    ax.set_xticks([x + width * (len(series) - 1) / 2 for x in range(len(labels))])
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)


def write_plots(doc: dict[str, Any], out: Path) -> list[Path]:
    """``translation.png``, ``entities.png``, ``flags.png``, ``statuses.png`` (each when it has
    something to show); returns the paths written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = doc["figures"]
    title = doc["key"]["id"]
    written: list[Path] = []

    def save(figure: Any, name: str, heading: str) -> None:
        figure.suptitle(f"{heading}\n{title}", fontsize=8)
        figure.tight_layout()
        path = out / name
        figure.savefig(path, dpi=110)
        plt.close(figure)
        written.append(path)

    t = fig["translation"]
    if t:
        langs = list(t["chrf_by_language"])
        figure, ax = plt.subplots(figsize=(7, 4))
        chrf = [(t["chrf_by_language"][lang] or {}).get("score") for lang in langs]
        terms = [t["term_success_by_language"][lang] for lang in langs]
        _bars(
            ax,
            langs,
            {"chrF": chrf, "term success × 100": [None if v is None else 100 * v for v in terms]},
            "score",
        )
        save(figure, "translation.png", "Translation by source language")
    e = fig["entities"]
    if e and e["by_type"]:
        types = list(e["by_type"])
        figure, ax = plt.subplots(figsize=(8, 4))
        _bars(
            ax,
            types,
            {k: [e["by_type"][t][k] for t in types] for k in ("precision", "recall", "f1")},
            "",
        )
        save(figure, "entities.png", "Entities: exact span and type")
    flags = fig["flags"]["quality"]
    if flags:
        codes = list(flags)
        figure, ax = plt.subplots(figsize=(8, 4))
        _bars(ax, codes, {k: [flags[c][k] for c in codes] for k in ("precision", "recall")}, "")
        count = fig["flags"]["silent_failures"]["count"]
        save(figure, "flags.png", f"Flags against the gold — {count} silent failures")
    statuses = fig["statuses"]
    if statuses:
        tasks = list(statuses)
        kinds = sorted({s for c in statuses.values() for s in c})
        figure, ax = plt.subplots(figsize=(7, 4))
        bottom = [0.0] * len(tasks)
        for kind in kinds:
            values = [float(statuses[t].get(kind, 0)) for t in tasks]
            ax.bar(tasks, values, bottom=bottom, label=kind)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ax.set_ylabel("reports")
        ax.legend(fontsize=8)
        save(figure, "statuses.png", "Statuses per task")
    return written
