"""The inference service on a real nats-server with the real engine and the default model."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import nats
import pytest
import pytest_asyncio
from nats.aio.client import Client

from bus.provision import provision
from bus.topology import TopologySettings, build_topology, infer_subject, stream_name
from loadtest.inference_client import InferenceClient
from schemas.v1 import InferenceRequest, dead_letter_decoder, json_encoder
from services.catalogue import builtin_registry
from services.config.schema import Config, InferenceConfig, NatsConfig
from services.inference.registry import verify_model
from tests.integration.pipeline import fast_config, pipeline
from tests.integration.procs import start_service


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding the verified default model, shared by the tests of this module."""
    path = tmp_path_factory.mktemp("vigie-data")
    verify_model(builtin_registry().default_model, path)
    return path


def config(data_dir: Path, **inference: object) -> Config:
    base = fast_config()
    return Config(
        bus=base.bus,
        collate=base.collate,
        ingest=base.ingest,
        nats=NatsConfig(data_dir=str(data_dir)),
        inference=InferenceConfig(
            **{"max_sequences": 4, "reserved_sequences": 1, "threads": 2, **inference}  # type: ignore[arg-type]
        ),
    )


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def ask(rid: str, prompt: str = "Report: the patrol observed", **kw: object) -> InferenceRequest:
    fields: dict[str, object] = {
        "request_id": rid,
        "client": "tester",
        "label": "np",
        "precedence": "ROUTINE",
        "created_at": now(),
        "max_tokens": 8,
        "prompt": prompt,
    }
    fields.update(kw)
    return InferenceRequest(**fields)  # type: ignore[arg-type]


@pytest_asyncio.fixture
async def client_nc(nats_url: str) -> AsyncIterator[Client]:
    nc = await nats.connect(nats_url)
    await provision(nc.jetstream(), build_topology(TopologySettings(stream_max_bytes=32 << 20)))
    yield nc
    await nc.close()


async def test_requests_are_answered_once_with_tokens_and_provenance(
    nats_url: str, client_nc: Client, data_dir: Path
) -> None:
    cfg = config(data_dir)
    async with (
        pipeline(nats_url, cfg, services=("inference",)),
        InferenceClient(client_nc.jetstream(), "tester") as client,
    ):
        answers = await asyncio.wait_for(
            asyncio.gather(*(client.ask(ask(f"r{i}", max_tokens=6 + i)) for i in range(6))),
            60,
        )
        # Longer than the 2 s ack wait: in_progress keeps it from being redelivered.
        long = await asyncio.wait_for(client.ask(ask("slow", max_tokens=200)), 60)
        assert long.total_ms > 2000
        info = await client_nc.jetstream().consumer_info(
            stream_name("work", "np"), "inference-np-routine"
        )
        assert info.num_redelivered == 0
        # The same request again (a client retry): the stream drops it as a duplicate.
        await client.submit(ask("r0", max_tokens=6))
        await asyncio.sleep(1.0)
    for i, answer in enumerate(answers):
        assert answer.status == "ok"
        assert answer.request_id == f"r{i}"
        assert answer.completion_tokens == 6 + i
        assert answer.finish_reason == "length"
        assert answer.text
        assert answer.model == "gemma3-270m" and answer.engine == "llama.cpp"
        assert answer.prompt_tokens > 3
        assert answer.total_ms >= answer.ttft_ms >= answer.queue_ms >= 0
    assert len(client.received) == 7


async def test_expired_too_long_and_malformed_requests(
    nats_url: str, client_nc: Client, data_dir: Path
) -> None:
    cfg = config(data_dir, sequence_tokens=256)
    js = client_nc.jetstream()
    async with (
        pipeline(nats_url, cfg, services=("inference",)),
        InferenceClient(js, "tester") as client,
    ):
        expired = await client.ask(ask("late", deadline=now() - dt.timedelta(seconds=1)))
        too_long = await client.ask(ask("long", prompt="word " * 400))
        bad = b'{"request_id": "x", "client": "tester"}'
        await js.publish(infer_subject("np", "ROUTINE"), bad)
        wrong_label = json_encoder.encode(ask("moved", label="s"))
        await js.publish(infer_subject("np", "FLASH"), wrong_label)
        fine = await client.ask(ask("fine"))
        dlq = await js.pull_subscribe("dlq.inference.np", stream=stream_name("dlq", "np"))
        letters = [dead_letter_decoder.decode(m.data) for m in await dlq.fetch(2, timeout=10)]
    assert expired.status == "expired" and expired.completion_tokens == 0
    assert too_long.status == "failed"
    assert too_long.error is not None and "256" in too_long.error
    assert fine.status == "ok"
    assert sorted(letter.reason for letter in letters) == ["bad_subject", "schema_violation"]
    assert {letter.data for letter in letters} == {bad, wrong_label}


async def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(
    nats_url: str, client_nc: Client, data_dir: Path
) -> None:
    env = {
        "VIGIE_NATS__DATA_DIR": str(data_dir),
        "VIGIE_INFERENCE__MAX_SEQUENCES": "4",
        "VIGIE_INFERENCE__RESERVED_SEQUENCES": "0",
        "VIGIE_INFERENCE__THREADS": "1",
    }
    first = await start_service("inference", nats_url, **env)
    second: asyncio.subprocess.Process | None = None
    js = client_nc.jetstream()
    try:
        async with InferenceClient(js, "tester") as client:
            futures = [await client.submit(ask(f"k{i}", max_tokens=48)) for i in range(12)]
            with anyio.fail_after(60):  # until the first worker holds a batch
                while True:
                    info = await js.consumer_info(stream_name("work", "np"), "inference-np-routine")
                    if info.num_ack_pending >= 4:
                        break
                    await asyncio.sleep(0.05)
            first.send_signal(signal.SIGKILL)
            await first.wait()
            second = await start_service("inference", nats_url, **env)
            answers = await asyncio.wait_for(asyncio.gather(*futures), 120)
            await asyncio.sleep(1.0)
            received = Counter(r.request_id for r in client.received)
    finally:
        for proc in (first, second):
            if proc is not None and proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                await proc.wait()
    assert all(a.status == "ok" for a in answers)
    assert sorted(received) == sorted(f"k{i}" for i in range(12))
    assert set(received.values()) == {1}, received
