"""The analyst's side of the lexicon loop: read the three events, write one correction per task
(translation, entities) from corrections.json, each through `vigie feedback`."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

from bus.connect import connect
from schemas.v1 import CorrectedEntity, EnrichedEvent, enriched_decoder, json_encoder
from services.feedback.correction import build_correction
from services.feedback.store import read_stream
from services.tasks.registry import task_registry

HERE = Path(__file__).parent
FILLS = dict(task_registry().fills())


async def events(url: str, wanted: int, patience: float) -> dict[str, EnrichedEvent]:
    """The newest complete event of each report published by the loop (by publisher id)."""
    nc = await connect(url, name="loop")
    js = nc.jetstream()
    end = time.monotonic() + patience
    found: dict[str, EnrichedEvent] = {}
    try:
        while time.monotonic() < end:
            for msg in await read_stream(js, "ENRICHED_DR", "enriched.dr.>"):
                ev = enriched_decoder.decode(msg.data)
                if ev.publisher_id and not ev.partial:
                    found[ev.publisher_id] = ev
            if len(found) >= wanted:
                return found
            await asyncio.sleep(5)
    finally:
        await nc.close()
    raise SystemExit(f"only {len(found)} of {wanted} complete events after {patience:.0f} s")


def main() -> None:
    url, work = sys.argv[1], Path(sys.argv[2])
    wanted = json.loads((HERE / "corrections.json").read_text("utf-8"))
    got = asyncio.run(events(url, len(wanted), 1200))
    for pid, fixes in wanted.items():
        ev = got[pid]
        (work / f"event-{pid}.json").write_bytes(json_encoder.encode(ev))
        text = ev.normalised_text
        ents = []
        for kind, span in fixes["entities"]:
            start = text.find(span)
            ents.append(
                CorrectedEntity(type=kind, text=span, start=start, end=start + len(span))
                if start >= 0
                else CorrectedEntity(type=kind, text=span)
            )
        tasks = {f: t for t, fs in FILLS.items() for f in fs}
        for field, value in (("translation", fixes["translation"]), ("entities", ents)):
            c = build_correction(
                ev,
                tasks[field],
                author="analyst.loop",
                comment="lexicon loop",
                fills=FILLS,
                **{field: value},
            )
            path = work / f"correction-{pid}-{field}.json"
            path.write_bytes(json_encoder.encode(c))
            subprocess.run(["vigie", "feedback", str(path), "--nats", url], check=True)


if __name__ == "__main__":
    main()
