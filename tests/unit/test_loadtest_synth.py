"""The synthetic feed: seeded, every kind and language present, entities that parse."""

from __future__ import annotations

from collections import Counter

import msgspec
import pytest

from loadtest.synth import FORMS, LANGUAGES, Generator, Mix, Synthetic, parse_mix
from schemas import headers as H
from schemas.v1 import SensorReading, sensor_reading_decoder
from services.domain.dtg import find_dtgs
from services.domain.mgrs_ref import find_mgrs

N = 600


@pytest.fixture(scope="module")
def feed() -> list[Synthetic]:
    gen = Generator(seed=42, prefix="t")
    return [gen.item(i) for i in range(N)]


def test_same_seed_same_feed_other_seed_other_feed(feed: list[Synthetic]) -> None:
    again = Generator(seed=42, prefix="t")
    assert [again.item(i) for i in range(N)] == feed
    # Deterministic per index, whatever order items are asked in.
    assert again.item(17) == feed[17]
    other = Generator(seed=43, prefix="t")
    assert [other.item(i).payload for i in range(50)] != [x.payload for x in feed[:50]]


def test_every_kind_language_precedence_and_label_is_present(feed: list[Synthetic]) -> None:
    kinds = Counter(x.kind for x in feed)
    assert set(kinds) == {*FORMS, "sensor"}
    assert set(x.language for x in feed if x.kind != "sensor") == set(LANGUAGES)
    assert set(x.precedence for x in feed) == {"FLASH", "IMMEDIATE", "PRIORITY", "ROUTINE"}
    assert set(x.label for x in feed) == {"np", "dr", "s", "ts"}
    # The default mix: about a fifth are sensor readings, ROUTINE the most common precedence.
    assert kinds["sensor"] / N == pytest.approx(0.2, abs=0.05)
    assert Counter(x.precedence for x in feed).most_common(1)[0][0] == "ROUTINE"


def test_reports_carry_a_dtg_and_an_mgrs_reference_that_parse(feed: list[Synthetic]) -> None:
    for item in feed:
        if item.kind == "sensor":
            continue
        assert item.subject.startswith(f"feeds.{item.label}.report.")
        assert item.headers[H.PRECEDENCE] == item.precedence
        assert item.headers[H.MSG_ID] == item.ident
        dtgs = find_dtgs(item.text)
        grids = find_mgrs(item.text)
        assert dtgs, item.text
        assert grids, item.text
        assert all(g.value for g in grids)
        assert all(d.value and d.value.startswith("2026-") for d in dtgs), item.text


def test_sensor_readings_are_valid_wire_messages(feed: list[Synthetic]) -> None:
    sensors = [x for x in feed if x.kind == "sensor"]
    assert sensors
    for item in sensors:
        reading = sensor_reading_decoder.decode(item.payload)
        assert isinstance(reading, SensorReading)
        assert reading.precedence == item.precedence
        assert item.subject.startswith(f"feeds.{item.label}.sensor.")
        assert find_dtgs(reading.note or "")
        if reading.position.__class__.__name__ == "MgrsPosition":
            assert find_mgrs(msgspec.structs.asdict(reading.position)["mgrs"])


def test_mix_controls_the_draw() -> None:
    gen = Generator(seed=1, mix=Mix(precedence={"FLASH": 1.0}, label={"ts": 1.0},
                                    language={"ar": 1.0}, sensor_share=0.0))  # fmt: skip
    items = [gen.item(i) for i in range(50)]
    assert {(x.precedence, x.label, x.language) for x in items} == {("FLASH", "ts", "ar")}
    assert parse_mix("flash=1,ROUTINE=3", ("FLASH", "ROUTINE")) == {"FLASH": 1.0, "ROUTINE": 3.0}
    with pytest.raises(ValueError):
        parse_mix("bogus=1", ("FLASH",))
