"""Shared fixtures: a real nats-server per test, so no test sees another's streams."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from bus.embedded import EmbeddedNats


@pytest_asyncio.fixture
async def nats_server(tmp_path: Path) -> AsyncIterator[EmbeddedNats]:
    async with EmbeddedNats(data_dir=tmp_path / "nats") as server:
        yield server


@pytest_asyncio.fixture
async def nats_url(nats_server: EmbeddedNats) -> AsyncIterator[str]:
    yield nats_server.url
