"""Feed → ingest → extract → collate → enriched, on a real nats-server."""

from __future__ import annotations

import anyio
import nats

from tests.integration.pipeline import collector, fast_config, pipeline

FRENCH = (
    "Compte rendu de la patrouille. Le 251430ZNOV26, observation de trois BTR-82A "
    "en mouvement vers le nord, position 31U DQ 48251 11932. Demande d'appui."
)


async def test_french_report_yields_one_enriched_event(nats_url: str) -> None:
    async with pipeline(nats_url, fast_config()), collector(nats_url) as seen:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        ack = await js.publish(
            "feeds.dr.report.test", FRENCH.encode(), headers={"Nats-Msg-Id": "cr-1"}
        )
        assert ack.stream == "FEEDS_DR"
        await seen.wait_for(lambda: seen.events)
        await anyio.sleep(1.0)  # time for a second event to show up, if there were one
        await nc.close()
    assert len(seen.events) == 1
    event = seen.events[0]
    assert event.label == "dr"
    assert event.language == "fr"
    assert event.revision == 1 and not event.partial
    assert [t.status for t in event.tasks] == ["ok"]
    dtg = [e for e in event.entities if e.form == "dtg"]
    assert [e.value for e in dtg] == ["2026-11-25T14:30:00Z"]
    grid = [e for e in event.entities if e.form == "mgrs"]
    assert len(grid) == 1
    start = event.normalised_text.index("31U DQ 48251 11932")
    assert (grid[0].start, grid[0].end) == (start, start + len("31U DQ 48251 11932"))
    assert event.normalised_text[grid[0].start : grid[0].end] == grid[0].text
    assert grid[0].lat is not None and abs(grid[0].lat - 48.8582) < 0.001
    assert grid[0].lon is not None and abs(grid[0].lon - 2.2945) < 0.001
