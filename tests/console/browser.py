"""Headless Chromium from Debian, driven by Selenium with the driver named explicitly.

Selenium Manager never runs (the driver path is given and ``SE_OFFLINE`` is set): nothing is
downloaded. Every call blocks, so tests run them in a worker thread (the console under test
serves from the test's own event loop).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from loadtest import console_bench

# One set of browser flags for the tests and the console benchmark (loadtest is a client of the
# product; tests may use it, not the other way round).
CHROMIUM = Path(console_bench.CHROMIUM)
CHROMEDRIVER = Path(console_bench.CHROMEDRIVER)
FLAGS = console_bench.FLAGS


def require_browser() -> None:
    """Skip, LOUDLY, where Chromium is absent; fail instead under ``make test``
    (VIGIE_REQUIRE_BROWSER=1), which installs it."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if not missing:
        return
    message = (
        f"BROWSER TESTS NOT RUN: {', '.join(missing)} missing — install Debian's chromium and "
        "chromium-driver (`apt-get install -y chromium chromium-driver`; `make test` does)"
    )
    if os.environ.get("VIGIE_REQUIRE_BROWSER") == "1":
        pytest.fail(message)
    print(f"\n*** {message} ***\n")
    pytest.skip(message)


@contextmanager
def chromium(extra: tuple[str, ...] = ()) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"
    profile = tempfile.mkdtemp(prefix="vigie-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, *extra, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def requested_urls(driver: Any) -> list[str]:
    """Every URL the page asked the network for (DevTools performance log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


#: Schemes that reach a network (chrome://, data: and the like are the browser's own).
NETWORK_SCHEMES = ("http", "https", "ws", "wss", "ftp")


def network_urls(urls: list[str]) -> list[str]:
    return [u for u in urls if urlsplit(u).scheme in NETWORK_SCHEMES]


def off_loopback(urls: list[str]) -> list[str]:
    return [u for u in network_urls(urls) if urlsplit(u).hostname != "127.0.0.1"]
