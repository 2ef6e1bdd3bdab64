"""The whole pipeline (stand-in engine) with every service under its OWN identity, over mutual
TLS: it works with nothing but the generated permissions, and no report text reaches the logs."""

from __future__ import annotations

import logging
from pathlib import Path

import anyio
import pytest

from services.inference.standin import StandInEngine
from tests.integration.pipeline import pipeline
from tests.integration.secured import connect_as, secured_server
from tests.integration.test_tasks_scripted import (
    SERVICES,
    Script,
    entities,
    good_summary,
    good_translation,
    task_config,
)

MARKER = "Zorglub-Kestrel-4471"
REPORT = (
    f"SPOTREP. 251430ZNOV26. Patrol {MARKER} observed 3 BTR-82A moving north at "
    "31U DQ 48251 11932. No contact."
)


async def test_every_service_under_its_own_identity_over_mtls_enriches_a_report(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    script = Script(
        {
            "translate": good_translation,
            "summarise": good_summary,
            "extract": entities(("MilitaryPlatform", "BTR-82A")),
        }
    )
    base = task_config()
    async with secured_server(tmp_path, base, tls=True, mtls=True) as secured:
        cfg = base.__class__(
            **{f: getattr(base, f) for f in base.__struct_fields__ if f != "nats"},
            nats=secured.nats_config(),
        )
        async with pipeline(
            secured.url, cfg, SERVICES, StandInEngine(script), security=secured.security
        ):
            publisher = await connect_as(secured, "publisher-s")
            await publisher.nc.jetstream().publish("feeds.s.report.patrol", REPORT.encode())
            analyst = await connect_as(secured, "analyst-ts")
            sub = await analyst.nc.jetstream().pull_subscribe(
                "enriched.s.>", durable="reader", stream="ENRICHED_S"
            )
            with anyio.fail_after(30):
                while True:
                    try:
                        [msg] = await sub.fetch(1, timeout=1)
                    except TimeoutError:
                        continue
                    await msg.ack_sync()
                    if b'"partial":false' in msg.data:
                        break
            assert msg.subject == "enriched.s.report.patrol"
            assert MARKER.encode() in msg.data
            assert await publisher.violations() == []
            assert await analyst.violations() == []
            await publisher.nc.close()
            await analyst.nc.close()
    assert not [r for r in caplog.records if "ermissions violation" in r.getMessage()]
    leaked = [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.INFO and MARKER in (r.getMessage() + str(r.exc_text or ""))
    ]
    assert leaked == [], "report text in the logs"
