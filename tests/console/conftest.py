"""The console in a real browser: Debian's Chromium driven by Playwright, against ``entgraph serve``
(a real process, production mode, default limits) on a loaded, resolved city with meter readings and
warnings, and API keys for each role.

Chromium is a system package (``./dev install`` installs it when run as root); without it these tests
skip saying how to get it. Screenshots go to a temporary folder, or to ``$ENTGRAPH_SCREENSHOTS`` (the
README's pictures: ``ENTGRAPH_SCREENSHOTS=docs/screenshots ./dev test tests/console``).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from entgraph.api.auth import ApiKeyFile, Role
from entgraph.api.graphql_client import SAMPLE_SCOPES
from entgraph.city_fixtures import City, build_city, fresh_falkordb
from entgraph.graph import EmbeddedServer
from entgraph.localtime import CST
from entgraph.settings import Settings
from entgraph.telemetry.cli import evaluate_warnings
from entgraph.telemetry.payloads import Reading
from entgraph.telemetry.series_store import SeriesWriter

# As ./dev looks for it: the variable, then chromium on PATH, then Debian's place.
CHROMIUM = os.environ.get("ENTGRAPH_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling Google's hosts, which this closed
# network refuses; --no-sandbox because CI runs as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
FIVE_MIN = 300_000


@dataclass
class Console:
    """The served console: its URL, each role's key, and an HTTP client for checking the API."""

    base: str
    keys: dict[str, str]
    city: City
    home: Path
    metered: str  # an enterprise with an electricity meter and readings
    warning_town: str
    shots: Path
    log: Path
    process: subprocess.Popen = field(repr=False)

    @property
    def url(self) -> str:
        return f"{self.base}/console/"

    def graphql(self, query: str, variables: dict[str, Any] | None = None, role: str = "admin") -> dict:
        headers = {"X-API-Key": self.keys[role]} if role != "public" else {}
        response = httpx.post(
            f"{self.base}/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        body = response.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(base: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"entgraph serve exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"entgraph serve not ready after {timeout} s:\n{log.read_text()[-3000:]}")


def _readings(meter: str, end: dt.datetime, days: int) -> list[Reading]:
    """``days`` of 5-minute cumulative readings up to ``end``, with a day-night shape."""
    t0 = int((end - dt.timedelta(days=days)).timestamp() * 1000)
    total, readings = 5000.0, []
    for i in range(days * 288 + 1):
        ts = t0 + i * FIVE_MIN
        hour = dt.datetime.fromtimestamp(ts / 1000, CST).hour
        total += 4.0 if 8 <= hour < 20 else 0.8
        readings.append(Reading(meter, ts, round(total, 3), "cumulative", "kWh"))
    return readings


def _write_readings(home: Path, live: str, silent: list[str]) -> None:
    """Two weeks of readings for ``live`` up to the last full hour, and for each ``silent`` meter a day
    of readings that stopped two days ago (the meter_silent rule then warns about them)."""
    now = dt.datetime.now(CST).replace(minute=0, second=0, microsecond=0)
    readings = _readings(live, now, 14)
    for meter in silent:
        readings += _readings(meter, now - dt.timedelta(days=2), 1)
    with SeriesWriter(home / "series") as writer:
        writer.write(readings, (), ())
        writer.publish()


@pytest.fixture(scope="session")
def console(shared_server: EmbeddedServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    if not Path(CHROMIUM).exists():
        pytest.skip(
            f"no Chromium at {CHROMIUM}: run ./dev install as root (it installs Debian's chromium), "
            "or set ENTGRAPH_CHROMIUM to a Chromium binary"
        )
    home = tmp_path_factory.mktemp("console-home")
    store = fresh_falkordb(shared_server, "console")
    city = build_city(store, tmp_path_factory.mktemp("console-city"), report_dir=home / "reports")
    (home / "resolution").mkdir()
    shutil.copy(city.model, home / "resolution" / "model.json")
    keys = ApiKeyFile(home / "api-keys.toml")
    credentials = {
        role.value: keys.create(role, f"{role.value}-user", SAMPLE_SCOPES.get(role))
        for role in Role
        if role is not Role.PUBLIC
    }

    metered = city.store.read(
        "MATCH (m:Meter {utility: 'electricity'})-[:METERS]->(e:Enterprise) "
        "WITH e, m WHERE e.town IS NOT NULL "
        "RETURN e.id AS enterprise, e.town AS town, m.meter_id AS meter ORDER BY town, enterprise"
    )
    assert len(metered) >= 4, "the city has enterprises with electricity meters"
    live = metered[0]
    town = max({m["town"] for m in metered}, key=lambda t: sum(m["town"] == t for m in metered))
    silent = [m["meter"] for m in metered if m["town"] == town and m["meter"] != live["meter"]][:3]
    _write_readings(home, live["meter"], silent)

    info = shared_server.ensure_running()
    env = {
        **os.environ,
        "ENTGRAPH_HOME": str(home),
        "ENTGRAPH_GRAPH": f"falkordb://:{shared_server.password}@127.0.0.1:{info.port}",
        "ENTGRAPH_GRAPH_NAME": city.store.graph_name,
        "ENTGRAPH_API_MODE": "production",
    }
    settings = Settings(
        home=home, graph=env["ENTGRAPH_GRAPH"], graph_name=city.store.graph_name, api_mode="production"
    )
    evaluate_warnings(settings)  # the silent meters, and the departments' figures
    port = _free_port()
    log = home / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "entgraph.cli", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    # the upload queue's worker, as a deployment runs it beside the server
    with (home / "worker.log").open("w") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "entgraph.cli", "worker", "--poll", "0.2"],
            # no resolve after loads here: the steward tests' own resolver runs must not meet one
            env={**env, "ENTGRAPH_WORKER_RESOLVE": "false"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(base, process, log)
        shots = Path(os.environ.get("ENTGRAPH_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
        shots.mkdir(parents=True, exist_ok=True)
        yield Console(
            base,
            credentials,
            city,
            home,
            live["enterprise"],
            town,
            shots,
            log,
            process,
        )
    finally:
        for running in (worker, process):
            running.terminate()
            try:
                running.wait(15)
            except subprocess.TimeoutExpired:
                running.kill()
        city.store.clear()
        city.store.close()


@pytest.fixture(scope="module")
def browser(console: Console) -> Iterator[Any]:
    # Module scope, not session: Playwright's sync API runs an event loop in this thread while it is
    # open, and later tests that call asyncio.run() (tests/test_cli.py) would find it running.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class PageProblems(list):
    """What went wrong in the page: script errors, console errors, refused requests (CSP included)."""


@pytest.fixture
def open_as(browser: Any, console: Console) -> Iterator[Any]:
    """``open_as(role, path)``: a fresh browser context (its own session storage) logged in as ``role``
    (by the key in session storage, as the login page leaves it), at ``#<path>``. The test fails if
    the page logged an error or a script threw."""
    contexts, problems = [], PageProblems()

    def _open(
        role: str = "public", path: str = "/search", lang: str | None = "zh", phone: bool = False
    ) -> Any:
        # phone: a 390 x 844 touch screen (an iPhone 12's CSS pixels), as a reporter or a town's checker holds
        size = {"width": 390, "height": 844} if phone else {"width": 1400, "height": 1000}
        context = browser.new_context(
            viewport=size, accept_downloads=True, locale="zh-CN", is_mobile=phone, has_touch=phone
        )
        contexts.append(context)
        # lang=None: leave the language to the console (and to what the test clicks).
        script = f"localStorage.setItem('entgraph.lang', '{lang}');" if lang else ""
        if role != "public":
            script += f"sessionStorage.setItem('entgraph.credential', '{console.keys[role]}');"
        context.add_init_script(script)
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on(
            "console",
            lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None,
        )
        page.goto(f"{console.url}#{path}")
        page.wait_for_selector("#header nav")
        return page

    _open.expected = []  # type: ignore[attr-defined]  # patterns of problems a test provokes on purpose
    yield _open
    for context in contexts:
        context.close()
    unexpected = [p for p in problems if not any(re.search(x, p) for x in _open.expected)]
    assert not unexpected, unexpected
