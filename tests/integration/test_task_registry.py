"""A task is one module plus one registry row: a fourth task, named nowhere else, runs end to end.

``tests/integration/wordcount_task.py`` is registered through configuration alone
(``tasks.extra_rows``); no other file of the repository names it. ``vigie up`` must provision its
consumers, run its service, route its engine requests and answers, and collate must complete
reports with it and carry its output in the event.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import anyio
import msgspec
import nats

from bus.security.permissions import permissions_for, subject_matches
from bus.topology import build_topology
from schemas.v1 import EnrichedEvent
from services.config.load import load_config
from services.config.schema import topology_settings
from services.runtime import service_names
from tests.integration import wordcount_task
from tests.integration.procs import FAST_ENV

EXTRA = {
    "VIGIE_TASKS__EXTRA_ROWS": f"{wordcount_task.__name__}:ROW",
    "VIGIE_INFERENCE__ENGINE": "stand-in",
}


def test_the_extra_row_reaches_services_topology_and_permissions() -> None:
    cfg = load_config(env=EXTRA).config
    name = wordcount_task.NAME
    assert name in cfg.ingest.tasks  # on by default, like a shipped task
    assert service_names(cfg)[-3] == name  # after the shipped tasks, before the engine
    topology = build_topology(topology_settings(cfg))
    durables = {c.durable for c in topology.consumers}
    assert {f"{name}-np-flash", f"inferred-{name}-ts-routine"} <= durables
    mine = permissions_for(topology, name)
    for subject in ("work.np.infer.routine", "work.np.result.flash"):
        assert any(subject_matches(p, subject) for p in mine.publish), subject
    # Ingest may hand it reports; the engine may answer it; nobody else gains anything.
    assert any(
        subject_matches(p, f"work.s.{name}.flash")
        for p in permissions_for(topology, "ingest").publish
    )
    assert any(
        subject_matches(p, f"work.s.inferred.{name}.flash")
        for p in permissions_for(topology, "inference").publish
    )
    assert not any(subject_matches(p, f"work.s.{name}.flash") for p in mine.publish)


async def test_vigie_up_runs_a_registered_fourth_task_end_to_end(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")} | FAST_ENV | EXTRA
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli.main", "up", "--port", "0",
        "--data-dir", str(tmp_path / "data"),
        env=env, stdout=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        with anyio.fail_after(60):
            line = (await proc.stdout.readline()).decode()
        match = re.search(r"NATS ready at (nats://\S+) — services: (.*) \(", line)
        assert match, line
        assert wordcount_task.NAME in match.group(2).split(", ")
        nc = await nats.connect(match.group(1))
        try:
            js = nc.jetstream()
            info = await js.consumer_info("WORK_NP", f"{wordcount_task.NAME}-np-routine")
            assert info.config.filter_subject == f"work.np.{wordcount_task.NAME}.routine"
            sub = await js.subscribe("enriched.np.>", stream="ENRICHED_NP", ordered_consumer=True)
            await js.publish("feeds.np.report.registry", b"Two trucks at 31U DQ 48251 11932.")
            msg = await sub.next_msg(timeout=90)
        finally:
            await nc.close()
    finally:
        proc.send_signal(signal.SIGINT)
        with anyio.fail_after(40):
            await proc.wait()
    event = msgspec.json.decode(msg.data, type=EnrichedEvent)
    assert not event.partial, event.tasks
    outcome = {t.task: t.status for t in event.tasks}
    assert outcome[wordcount_task.NAME] == "ok"
    assert event.outputs[wordcount_task.NAME] == {"words": 7, "model_said": "stand-in"}
    assert "31UDQ4825111932" in {e.value for e in event.entities}
