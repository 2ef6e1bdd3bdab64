"""Base vs adapter on the same held-out reports: the figures of both `vigie eval` runs side by
side (compare.json, and a Markdown table on standard output)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


def figures(run: str) -> dict[str, Any]:
    data = json.loads((HERE / run / "eval.json").read_text("utf-8"))
    f = data["figures"]
    t, e, q = f["translation"], f["entities"]["overall"], f["quantities"]
    return {
        "key": data["key"]["id"] if isinstance(data["key"], dict) else data["key"],
        "reports": f["reports"],
        "chrf": t["chrf"]["score"],
        "term_success_rate": t["term_success_rate"],
        "protected_exact": t["protected_exact"],
        "translation_language_right": t["language_right"],
        "entity_precision": e["precision"],
        "entity_recall": e["recall"],
        "entity_f1": e["f1"],
        "quantities_precision": q["precision"],
        "quantities_recall": q["recall"],
        "summary_fact_recall": f["summary"]["fact_recall"],
        "silent_failures": f["flags"]["silent_failures"]["count"],
        "statuses": f["statuses"],
        "wall_s": data["wall_s"],
    }


def main() -> None:
    base, adapter = figures("eval-base"), figures("eval-adapter")
    (HERE / "compare.json").write_text(
        json.dumps({"base": base, "adapter": adapter}, indent=2) + "\n", "utf-8"
    )
    print("| measure | base | adapter |")
    print("|---|---:|---:|")
    for k in base:
        if k in ("key", "statuses"):
            continue
        print(f"| {k} | {base[k]} | {adapter[k]} |")


if __name__ == "__main__":
    main()
