"""The committed hostile-input corpus through the real pipeline: nothing crashes or stalls.

Every input is refused at publish with a clear error, dead-lettered by the right stage with the
right reason and its bytes, or processed into an enriched event (injections flagged). The same
run is ``python -m tests.hostile.run_corpus`` (``--sample N`` for a part of it).
"""

from __future__ import annotations

import pytest

from tests.hostile.corpus import load
from tests.hostile.run_corpus import CLASSES, run


def test_the_corpus_is_large_and_covers_every_entry_point_and_outcome() -> None:
    items = load()
    assert len(items) >= 1000
    assert {i.entry for i in items} == {"feeds", "tasks", "inference", "answers", "collate"}
    assert {i.cls for i in items} == set(CLASSES)
    categories = {i.category for i in items}
    for wanted in (
        "broken_json",
        "wrong_types",
        "missing_fields",
        "extra_fields",
        "huge",
        "deep_nesting",
        "invalid_utf8",
        "odd_chars",
        "bad_header",
        "odd_header",
        "bad_subject",
        "schema_version",
        "sensor_range",
        *(f"injection_{lang}" for lang in ("en", "fr", "ru", "uk", "ar")),
    ):
        assert wanted in categories, wanted
    flagged = [i for i in items if i.cls == "processed" and i.expect["flagged"]]
    assert len(flagged) >= 100


@pytest.mark.timeout(400)
async def test_every_input_is_refused_dead_lettered_or_processed_and_nothing_crashes(
    nats_url: str,
) -> None:
    report = await run(nats_url, load())
    print("\n".join(report.lines()))
    assert report.crashes == []
    assert report.problems == []


def test_the_committed_corpus_is_what_the_generator_writes() -> None:
    """Regenerating changes nothing: every designed outcome still holds (the generator asserts
    them) and the decoders still judge each input as the committed corpus says."""
    from tests.hostile.make_corpus import build

    fresh = [(i.subject, i.data, i.headers, i.expect) for i in build()]
    assert fresh == [(i.subject, i.data, i.headers, i.expect) for i in load()]
