"""The console in a real browser (headless Chromium): the page loads with nothing leaving
loopback, a report published during the test shows within a second with its entities
highlighted at their offsets, hostile text stays text, the map shows the report's point.
Screenshots are kept under the test's tmp path (and VIGIE_SCREENSHOTS when set)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import nats
import pytest
import pytest_asyncio
from nats.aio.client import Client

from bus.provision import provision
from bus.topology import build_topology
from services.config.schema import Config, topology_settings
from tests.console.browser import (
    chromium,
    network_urls,
    off_loopback,
    requested_urls,
    require_browser,
)
from tests.console.harness import Running, make_event, publish, running_console

TOPOLOGY = build_topology(topology_settings(Config()))
REPORT = (
    "FLASH: colonne blindée (12 BMP-2) au 31U DQ 48251 11932 à 061530ZDEC26, "
    "appui signalé vers 48.8566N 2.3522E."
)
HOSTILE = (
    '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
    "<b>gras</b> ${alert(3)} {{7*7}} \u202eevil"
)


@pytest.fixture(scope="module", autouse=True)
def _browser_present() -> None:
    require_browser()


@pytest_asyncio.fixture
async def bus(nats_url: str) -> AsyncIterator[Client]:
    nc = await nats.connect(nats_url)
    await provision(nc.jetstream(), TOPOLOGY)
    yield nc
    await nc.close()


def shots_dir(tmp_path: Path) -> Path:
    out = tmp_path / "screenshots"
    out.mkdir(exist_ok=True)
    return out


def keep(driver: Any, tmp_path: Path, name: str) -> Path:
    path = shots_dir(tmp_path) / f"{name}.png"
    driver.save_screenshot(str(path))
    extra = os.environ.get("VIGIE_SCREENSHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(extra) / path.name)
    return path


def wait(driver: Any, script: str, within: float) -> Any:
    """Poll a script until it returns a truthy value; its value, or TimeoutError."""
    deadline = time.monotonic() + within
    while True:
        value = driver.execute_script(script)
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"not true within {within} s: {script}")
        time.sleep(0.02)


async def in_thread(fn: Any, *args: Any) -> Any:
    return await anyio.to_thread.run_sync(fn, *args)


async def test_live_report_entities_hostile_text_and_map(bus: Client, tmp_path: Path) -> None:
    await publish(bus, make_event("seed-1", "Rapport de routine, rien à signaler.", label="np"))
    async with running_console(bus, TOPOLOGY, None) as console:
        await anyio.sleep(0.3)
        with chromium() as driver:
            await in_thread(driver.get, f"{console.base}/")
            await in_thread(wait, driver, "return document.body.dataset.ready === 'true'", 10)
            # Live: published now, on screen within a second.
            event = make_event("flash-1", REPORT, label="dr", precedence="FLASH")
            assert len(event.entities) >= 3
            published = time.monotonic()
            await publish(bus, event)
            on_screen = "return document.querySelector('#pinned li[data-id=\"flash-1\"]')"
            await in_thread(wait, driver, on_screen, 1.0)
            latency = time.monotonic() - published
            keep(driver, tmp_path, "feed")
            await check_report_view(driver, console, event, tmp_path)
            await check_hostile(driver, bus, tmp_path)
            await check_map(driver, event, tmp_path)
            await check_english(driver, tmp_path)
            urls = await in_thread(requested_urls, driver)
        (shots_dir(tmp_path) / "requests.txt").write_text("\n".join(urls))
        # The page's own requests were recorded (the log works), and none left loopback.
        assert f"{console.base}/static/console.js" in network_urls(urls)
        assert off_loopback(urls) == []
    print(f"report on screen {latency * 1000:.0f} ms after its PubAck")


async def check_report_view(driver: Any, console: Running, event: Any, tmp_path: Path) -> None:
    await in_thread(
        driver.execute_script, "document.querySelector('#pinned li[data-id=\"flash-1\"]').click()"
    )
    await in_thread(wait, driver, "return document.querySelector('#report-text mark')", 5)
    marks = await in_thread(
        driver.execute_script,
        "return [...document.querySelectorAll('#report-text mark')].map(m => ({"
        "start: +m.dataset.start, end: +m.dataset.end, index: +m.dataset.entity,"
        "text: m.textContent, title: m.getAttribute('title'), type: m.dataset.type}))",
    )
    text = event.normalised_text
    assert len(marks) == len(event.entities)
    for mark in marks:
        entity = event.entities[mark["index"]]
        assert (mark["start"], mark["end"]) == (entity.start, entity.end)
        assert mark["text"] == text[entity.start : entity.end] == entity.text
        assert mark["type"] == entity.type
        if entity.value:
            assert entity.value in mark["title"]
    # The text around the marks is the text: offsets are where the marks are.
    shown = await in_thread(
        driver.execute_script, "return document.getElementById('report-text').textContent"
    )
    assert shown == text
    before = await in_thread(
        driver.execute_script,
        "const t = document.getElementById('report-text'); const r = document.createRange();"
        "const m = t.querySelectorAll('mark')[0]; r.setStart(t, 0); r.setEndBefore(m);"
        "return r.toString().length",
    )
    # JavaScript counts UTF-16 units; the wire counts code points.
    prefix = text[: event.entities[marks[0]["index"]].start]
    assert before == len(prefix.encode("utf-16-le")) // 2
    keep(driver, tmp_path, "report")


async def check_hostile(driver: Any, bus: Client, tmp_path: Path) -> None:
    hostile = make_event(
        "hostile-1", HOSTILE, translation=HOSTILE, summary=HOSTILE, flags=("suspected_injection",)
    )
    await publish(bus, hostile)
    await in_thread(wait, driver, "return document.querySelector('li[data-id=\"hostile-1\"]')", 5)
    await in_thread(
        driver.execute_script, "document.querySelector('li[data-id=\"hostile-1\"]').click()"
    )
    await in_thread(
        wait, driver, "return document.querySelector('#summary') && "
        "document.querySelector('#report-pane h2').textContent.includes('hostile-1')", 5,
    )  # fmt: skip
    state = await in_thread(
        driver.execute_script,
        "const pane = document.getElementById('report-pane');"
        "return {pwned: window.__pwned === undefined ? null : window.__pwned,"
        "imgs: document.querySelectorAll('img').length,"
        "scripts: [...document.scripts].map(s => s.src),"
        "bold: pane.querySelectorAll('b').length,"
        "text: document.getElementById('report-text').textContent,"
        "summary: document.getElementById('summary').textContent}",
    )
    assert state["pwned"] is None
    assert state["imgs"] == 0 and state["bold"] == 0
    assert [s.rsplit("/", 1)[-1] for s in state["scripts"]] == ["console.js"]
    assert state["text"] == HOSTILE and state["summary"] == HOSTILE
    keep(driver, tmp_path, "hostile")


async def check_map(driver: Any, event: Any, tmp_path: Path) -> None:
    await in_thread(
        driver.execute_script, "document.querySelector('#tabs button[data-tab=\"map\"]').click()"
    )
    points = await in_thread(
        wait,
        driver,
        "return [...document.querySelectorAll('#map circle.point[data-id=\"flash-1\"]')]"
        ".map(c => ({lat: +c.dataset.lat, lon: +c.dataset.lon, title: c.textContent,"
        " x: +c.getAttribute('cx'), y: +c.getAttribute('cy')}))"
        ".filter(() => true).concat([]).length ? "
        "[...document.querySelectorAll('#map circle.point[data-id=\"flash-1\"]')]"
        ".map(c => ({lat: +c.dataset.lat, lon: +c.dataset.lon, title: c.textContent}))"
        " : null",
        5,
    )
    expected = {(round(e.lat, 4), round(e.lon, 4)) for e in event.entities if e.lat is not None}
    assert expected and {(round(p["lat"], 4), round(p["lon"], 4)) for p in points} == expected
    assert all("flash-1" in p["title"] for p in points)
    keep(driver, tmp_path, "map")


async def check_english(driver: Any, tmp_path: Path) -> None:
    before = await in_thread(
        driver.execute_script, "return document.getElementById('banner').textContent"
    )
    await in_thread(driver.execute_script, "document.getElementById('lang').click()")
    after = await in_thread(
        driver.execute_script,
        "return [document.getElementById('banner').textContent, document.documentElement.lang,"
        " [...document.querySelectorAll('#tabs button')].map(b => b.textContent)]",
    )
    # Every label readable on an open server: the banner names the highest.
    assert before == "TS — TRÈS SECRET"
    assert after == ["TS — TOP SECRET", "en", ["Feed", "Map", "Dead letters and health", "Audit"]]
    keep(driver, tmp_path, "english")
