"""The demo's telemetry act: meters, broker, ingester, simulator, rollups and warnings.

Meters attached, mosquitto started, an ingester and the simulator running in the background,
monthly totals and warnings written, live series served.

The ingester and the simulator are the real commands (``entgraph telemetry ingest`` / ``simulate``) as
child processes, so the demo shows what an operator would run; :class:`Telemetry` stops them (the
ingester cleanly: its last batch written and acknowledged) when the demo ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import typer

from entgraph.catalog.registry import Catalog
from entgraph.errors import EntgraphError
from entgraph.graph import open_store, showcase
from entgraph.graph.meter_queries import known_meters
from entgraph.resolution import verification
from entgraph.settings import Settings
from entgraph.telemetry import meter_registry as registry
from entgraph.telemetry.broker import embedded_broker
from entgraph.telemetry.cli import evaluate_warnings
from entgraph.telemetry.rollup import rollup
from entgraph.telemetry.series_store import SeriesReader

BACKFILL_DAYS = 10
# The synthetic city's department files end in April 2023: the feed-based rules are judged as of then.
FEEDS_AS_OF_MS = 1_682_870_400_000  # 2023-05-01T00:00+08:00
CLIENT_ID = "entgraph-demo-ingester"


class Telemetry:
    """Background processes of the demo; a context manager that stops them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.children: list[subprocess.Popen] = []
        self.log_dir = settings.home / "logs"

    def __enter__(self) -> Telemetry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        settings = self.settings
        with open_store(settings) as store:
            catalog = Catalog.load(settings.spec_dirs)
            report = registry.sync(store, catalog)
            checks = verification.refresh(store, catalog)  # the meters' lists (一户多表, 多户一表 ...)
        typer.echo(f"7/8 meter registry: {report.summary()}; towns' cross-checks: {checks.line()}")
        info = embedded_broker(settings).ensure_running()
        typer.echo(f"    MQTT broker (mosquitto) on {info.url}; the ingester and the simulator start")
        status = settings.home / "telemetry" / f"{CLIENT_ID}.json"
        status.unlink(missing_ok=True)
        self._spawn("ingester", "ingest", "--client-id", CLIENT_ID)
        _wait(status.exists, 60, "the ingester to start", self.log_dir / "ingester.log")
        before = _received(status)
        # The last days at once (gateway batches), then live in real time while the API serves.
        backfill = ["--days", str(BACKFILL_DAYS), "--batch", "500", "--follow"]
        self._spawn("simulator", "simulate", "--meters", "100000", *backfill)
        expected = self._expected_backfill()
        _wait(
            lambda: _received(status) - before >= expected,
            600,
            f"{BACKFILL_DAYS} days of readings",
            self.log_dir / "simulator.log",
        )
        time.sleep(6)  # one publish interval of the ingester: readers (rollup, API) see the backfill
        with open_store(settings) as store, SeriesReader(settings.series_dir) as reader:
            n = reader.query("SELECT count(*), count(DISTINCT meter_id) FROM readings")[0]
            typer.echo(
                f"    {n[0]:,} readings of {n[1]} meters stored (the last {BACKFILL_DAYS} days, backfilled)"
            )
            typer.echo(f"    {rollup(store, reader, Catalog.load(settings.spec_dirs)).summary()}")
        now = evaluate_warnings(settings)
        history = evaluate_warnings(settings, FEEDS_AS_OF_MS)
        with open_store(settings) as store:
            town = showcase.busiest_warning_town(store)
        listing = f" (entgraph telemetry warnings list {town})" if town else ""
        typer.echo(
            f"8/8 warnings: {now['findings']} from telemetry now, {history['findings']} from departments' "
            f"figures as of 2023-05{listing}"
        )

    def _expected_backfill(self) -> int:
        with open_store(self.settings) as store:
            meters = known_meters(store)
        per_day = {"electricity": 288, "water": 24}
        # the dead meter stops early: count a little less than the whole fleet
        return int(sum(per_day.get(m["utility"] or "electricity", 288) for m in meters) * BACKFILL_DAYS * 0.9)

    def _spawn(self, name: str, *args: str) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "entgraph.cli", "telemetry", *args]
        # The child gets its own copy of the descriptor; ours is closed once it is started.
        with open(self.log_dir / f"{name}.log", "ab") as log:
            self.children.append(
                subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
            )

    def stop(self) -> None:
        for child in reversed(self.children):  # the simulator first, then the ingester drains
            with contextlib.suppress(ProcessLookupError):
                child.terminate()
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
        self.children.clear()


def _received(status: Path) -> int:
    """Readings of registered meters the ingester has taken in (new or already stored)."""
    try:
        return int(json.loads(status.read_text(encoding="utf-8")).get("readings", 0))
    except (FileNotFoundError, json.JSONDecodeError):
        return 0


def _wait(condition: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            tail = log.read_text(encoding="utf-8", errors="replace")[-800:] if log.exists() else ""
            raise EntgraphError(f"timed out waiting for {what}; the log ({log}) ends:\n{tail}")
        time.sleep(0.5)
