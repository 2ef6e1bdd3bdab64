"""`vigie eval --compare`: two runs' measures and flags side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services.cli.main import main
from services.evaluation.compare import MEASURES, compare_markdown, measures


def run(chrf: float, precision: float, silent: dict[str, int], flagged: int) -> dict[str, Any]:
    return {
        "command": "vigie eval --split test",
        "key": {"id": "gemma3-270m | adapter none"},
        "wall_s": 12.5,
        "figures": {
            "reports": 91,
            "translation": {
                "chrf": {"score": chrf},
                "protected_exact": 0.9,
                "protected_exact_unflagged": 1.0,
            },
            "entities": {
                "overall": {"precision": precision, "recall": 0.2, "f1": 0.3},
                "by_source": {"model": {"precision": 0.5}},
                "model_proposed": 40,
                "model_grounded": 1.0,
                "normalised": {"dtg": {"accuracy": 1.0}},
            },
            "flags": {
                "silent_failures": {"count": sum(silent.values()), "by_flag": silent},
                "flagged_or_failed": {"translate": 0.5, "extract": 0.0},
                "quality": {
                    "wrong_language": {"flagged": flagged, "errors": 2, "precision": 1.0,
                                       "recall": flagged / 2},
                },
            },
        },
    }  # fmt: skip


def test_every_measure_side_by_side() -> None:
    before = run(9.66, 1.0, {}, 1)
    after = run(12.5, 0.75, {"protected_altered": 2}, 2)
    text = compare_markdown([("before", before), ("after", after)])
    lines = text.splitlines()
    assert lines[0] == "| measure | before | after |"
    assert "| chrF (all due) | 9.66 | 12.50 |" in lines
    assert "| entities P | 1.000 | 0.750 |" in lines
    assert "| silent failures | 0 | 2 (protected_altered 2) |" in lines
    assert "| `wrong_language` | 1 / 2 / 1.000 / 0.500 | 2 / 2 / 1.000 / 1.000 |" in lines
    assert "| share flagged or failed, per task | extract 0.00 · translate 0.50 |" in text
    assert len(measures(before)) == len(MEASURES)


def test_a_measure_a_run_lacks_reads_as_a_dash() -> None:
    text = compare_markdown([("old", {"figures": {}}), ("new", run(1.0, 1.0, {}, 0))])
    assert "| chrF (all due) | — | 1.00 |" in text
    assert "| `wrong_language` | — | 0 / 2 / 1.000 / 0.000 |" in text


def test_the_command_compares_run_directories(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, doc in (("a", run(9.0, 1.0, {}, 1)), ("b", run(10.0, 0.9, {}, 2))):
        (tmp_path / name).mkdir()
        (tmp_path / name / "eval.json").write_text(json.dumps(doc))
    out = tmp_path / "out"
    code = main(["eval", "--compare", f"before={tmp_path / 'a'}", str(tmp_path / "b"),
                 "--out", str(out)])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert printed.splitlines()[0] == "| measure | before | b |"
    assert (out / "compare.md").read_text() == printed
    assert main(["eval", "--compare", str(tmp_path / "missing")]) == 1
    (tmp_path / "garbage").mkdir()
    for content in ("[1, 2]", '{"figures": 3}', "not json"):
        (tmp_path / "garbage" / "eval.json").write_text(content)
        assert main(["eval", "--compare", str(tmp_path / "garbage"), str(tmp_path / "a")]) == 1
