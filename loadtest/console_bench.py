"""The analyst console under load: how many events per second a page keeps up with, and the
page's memory after 10,000 events (the feed is bounded).

A client of the bus (bus and schemas only): an embedded nats-server, ``vigie console`` started
as a process, headless Chromium (Debian's, driven by Selenium with the driver named: nothing is
downloaded). Enriched events are published on the enriched subjects as collate does, at a
steady rate per step; the page's own counter (``vigieStats()``: events it has put on screen)
says what it showed. A step is kept up with when every event published is shown within
``--drain`` seconds of the last one.

    flock /tmp/vigie-heavy.lock .venv/bin/python -m loadtest.console_bench \\
        --out docs/results/console-bench.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import nats
from anyio.streams.buffered import BufferedByteReceiveStream

from bus.embedded import EmbeddedNats, free_port
from bus.provision import provision
from bus.topology import build_topology, enriched_subject
from loadtest import results
from schemas.v1 import EnrichedEvent, Entity, TaskOutcome, json_encoder

CHROMIUM = os.environ.get("VIGIE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("VIGIE_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
)
TEXT = (
    "COMPTE RENDU {n} — 3e RIMa. Le 251430ZNOV26, la patrouille observe trois BTR-82A en "
    "mouvement vers le nord, position 31U DQ 48251 11932, puis 48.8582N 2.2945E. Aucun tir."
)
PRECEDENCES = ("ROUTINE", "ROUTINE", "ROUTINE", "PRIORITY", "ROUTINE", "IMMEDIATE")


def event(n: int, run: str) -> EnrichedEvent:
    """A report as collate publishes it: ~250 characters, three located entities."""
    text = TEXT.format(n=n)
    now = dt.datetime.now(dt.UTC)

    def ent(kind: str, needle: str, **extra: Any) -> Entity:
        start = text.index(needle)
        return Entity(type=kind, text=needle, start=start, end=start + len(needle), **extra)  # type: ignore[arg-type]

    return EnrichedEvent(
        report_id=f"{run}-{n}",
        revision=1,
        partial=False,
        label="np",
        kind="report",
        source="bench",
        precedence=PRECEDENCES[n % len(PRECEDENCES)],  # type: ignore[arg-type]
        original_text=text,
        normalised_text=text,
        language="fr",
        language_confidence=0.99,
        entities=[
            ent("DateTime", "251430ZNOV26", form="dtg", value="2026-11-25T14:30:00Z"),
            ent("Location", "31U DQ 48251 11932", form="mgrs", lat=48.8437, lon=2.3005),
            ent("Location", "48.8582N 2.2945E", form="latlon", lat=48.8582, lon=2.2945),
        ],
        tasks=[TaskOutcome(task="bench", status="ok")],
        ingested_at=now,
        published_at=now,
        trace_id=f"{n:032x}",
        provenance=[],
        summary="Trois BTR-82A vers le nord.",
    )


def chromium() -> tuple[Any, str]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="vigie-bench-chromium-")
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    return driver, profile


def page_stats(driver: Any) -> dict[str, int]:
    return dict(driver.execute_script("return window.vigieStats()"))


def page_memory(driver: Any) -> dict[str, float]:
    """JS heap and DOM size after a garbage collection (DevTools protocol)."""
    driver.execute_cdp_cmd("HeapProfiler.collectGarbage", {})
    driver.execute_cdp_cmd("Performance.enable", {})
    metrics = driver.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]
    wanted = ("JSHeapUsedSize", "JSHeapTotalSize", "Nodes", "JSEventListeners", "Documents")
    return {m["name"]: m["value"] for m in metrics if m["name"] in wanted}


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(found.group(1)) if found else -1


async def publish_at(nc: Any, run: str, first: int, count: int, rate: float) -> float:
    """Publish ``count`` events at ``rate`` per second into the stream; seconds taken.

    Core publishes (the stream stores them; no PubAck round trip per event), so that the
    publisher is not what limits the rate; a flush at the end."""
    start = time.monotonic()
    for i in range(count):
        due = start + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            await anyio.sleep(delay)
        n = first + i
        await nc.publish(
            enriched_subject("np", "report", "bench"),
            json_encoder.encode(event(n, run)),
            headers={"Nats-Msg-Id": f"{run}-{n}"},
        )
    await nc.flush()
    return time.monotonic() - start


async def wait_shown(driver: Any, target: int, within: float) -> tuple[int, float]:
    """Until the page has put ``target`` live events on screen (since it was loaded) or
    ``within`` s passed: (shown, seconds)."""
    start = time.monotonic()
    shown = 0
    while time.monotonic() - start < within:
        shown = (await anyio.to_thread.run_sync(page_stats, driver))["live"]
        if shown >= target:
            break
        await anyio.sleep(0.05)
    return shown, time.monotonic() - start


async def open_page(driver: Any, url: str) -> None:
    """A fresh page (nothing of the previous one kept), once its snapshot is in."""
    await anyio.to_thread.run_sync(driver.get, "about:blank")
    await anyio.to_thread.run_sync(driver.get, url)
    for _ in range(400):
        ready = await anyio.to_thread.run_sync(
            driver.execute_script, "return document.body && document.body.dataset.ready === 'true'"
        )
        if ready:
            return
        await anyio.sleep(0.05)
    raise RuntimeError("the page did not load")


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    topology = build_topology()
    run = f"b{int(time.time())}"
    work = Path(tempfile.mkdtemp(prefix="vigie-console-bench-"))
    results: dict[str, Any] = {"steps": [], "memory": []}
    async with EmbeddedNats(data_dir=work / "nats") as server:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await provision(js, topology)
        port = free_port("127.0.0.1")
        command = [sys.executable, "-m", "services.cli.main", "console", "--nats", server.url,
                   "--port", str(port), "--replay", "0"]  # fmt: skip
        log = (work / "console.log").open("wb")
        console = await anyio.open_process(command, stdout=subprocess.PIPE, stderr=log)
        driver = None
        profile = None
        try:
            assert console.stdout is not None
            with anyio.fail_after(30):
                line = await BufferedByteReceiveStream(console.stdout).receive_until(b"\n", 4096)
            if b"console on" not in line:
                raise RuntimeError(f"console did not start: {line!r}")
            driver, profile = await anyio.to_thread.run_sync(chromium)
            url = f"http://127.0.0.1:{port}/"
            published = 0
            # Memory: a fresh page, 10,000 events at a rate it keeps up with, sampled on the way.
            await open_page(driver, url)
            results["memory"].append(
                {"events": 0, **await anyio.to_thread.run_sync(page_memory, driver),
                 **await anyio.to_thread.run_sync(page_stats, driver),
                 "console_rss_kib": rss_kib(console.pid)}
            )  # fmt: skip
            shown_before = 0
            for mark in sorted({1000, 5000, args.memory_events}):
                await publish_at(nc, run, published, mark - shown_before, args.memory_rate)
                published += mark - shown_before
                shown_before = mark
                await wait_shown(driver, mark, 60)
                sample = {
                    "events": mark,
                    **await anyio.to_thread.run_sync(page_memory, driver),
                    **await anyio.to_thread.run_sync(page_stats, driver),
                    "console_rss_kib": rss_kib(console.pid),
                }
                results["memory"].append(sample)
                print(json.dumps(sample), flush=True)
            # Rate: a fresh page again; steps of rising rate until one is not kept up with.
            await open_page(driver, url)
            offered = 0
            for rate in args.rates:
                count = int(rate * args.step_seconds)
                took = await publish_at(nc, run, published, count, rate)
                published += count
                offered += count
                shown, drain = await wait_shown(driver, offered, args.drain)
                stats = await anyio.to_thread.run_sync(page_stats, driver)
                step = {
                    "rate_offered": rate,
                    "events": count,
                    "publish_seconds": round(took, 3),
                    "rate_achieved": round(count / took, 1),
                    "shown_total": shown,
                    "published_total": offered,
                    "drain_seconds": round(drain, 3),
                    # A page that fell a whole buffer behind is dropped and reloads.
                    "page_reloads": stats["snapshots"] - 1,
                    "kept_up": shown >= offered and drain < args.drain,
                }
                results["steps"].append(step)
                print(json.dumps(step), flush=True)
                if not step["kept_up"]:
                    break
        finally:
            if driver is not None:
                await anyio.to_thread.run_sync(driver.quit)
            if profile is not None:
                shutil.rmtree(profile, ignore_errors=True)
            console.terminate()
            with anyio.move_on_after(10):
                await console.wait()
            log.close()
            await nc.close()
    shutil.rmtree(work, ignore_errors=True)
    return results


def machine() -> dict[str, Any]:
    chromium_version = subprocess.run(
        [CHROMIUM, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {**results.machine(), "chromium": chromium_version}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--rates", type=float, nargs="+", default=[100, 200, 400, 800, 1000, 1200, 1600, 2400]
    )
    p.add_argument("--memory-rate", type=float, default=400.0, help="events/s of the memory run")
    p.add_argument("--step-seconds", type=float, default=5.0)
    p.add_argument("--drain", type=float, default=2.0, help="seconds allowed after a step")
    p.add_argument("--memory-events", type=int, default=10_000)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    started = dt.datetime.now(dt.UTC)
    results = anyio.run(bench, args)
    kept = [s["rate_offered"] for s in results["steps"] if s["kept_up"]]
    doc = {
        "benchmark": "console",
        "command": "python -m loadtest.console_bench " + " ".join(argv or sys.argv[1:]),
        "started": started.isoformat(),
        "machine": machine(),
        "config": {
            "rates": args.rates,
            "step_seconds": args.step_seconds,
            "drain_seconds": args.drain,
            "memory_events": args.memory_events,
            "memory_rate": args.memory_rate,
        },
        "max_rate_kept_up": max(kept) if kept else None,
        **results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {args.out}; kept up with {doc['max_rate_kept_up']} events/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
