"""Building blocks of the test fixtures and benchmarks: a generated, loaded, resolved city.

Shared by the test suite and the benchmarks: a generated, loaded and resolved city in its own graph
on an embedded server, a store that counts round trips, and a harness that kills a command midway."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from entgraph.catalog.registry import Catalog
from entgraph.graph import EmbeddedServer
from entgraph.graph.falkordb_store import FalkorDBStore
from entgraph.graph.port import GraphStore, Params, Row
from entgraph.loaders.engine import Loader
from entgraph.resolution.resolver import Resolver
from entgraph.synthetic import generate_city
from entgraph.telemetry import meter_registry as registry


@dataclass(frozen=True)
class City:
    store: FalkorDBStore
    catalog: Catalog
    files: Path  # the generated files, with truth/ below
    model: Path  # the trained matcher


class CountingStore(FalkorDBStore):
    """A real store (same graph, same server), counting its read round trips."""

    def __init__(self, store: FalkorDBStore) -> None:
        self.__dict__.update(store.__dict__)
        self.reads = 0

    def read(self, cypher: str, params: Params | None = None, **options: Any) -> list[Row]:
        self.reads += 1
        return super().read(cypher, params, **options)


def build_city(
    shared_server: EmbeddedServer,
    root: Path,
    name: str,
    enterprises: int = 150,
    seed: int = 21,
    report_dir: Path | None = None,
) -> City:
    files = root / "city"
    if not files.exists():
        generate_city(enterprises, seed=seed, out_dir=files)
    catalog = Catalog.load(entry_points=False)
    store = FalkorDBStore(f"{name}-{uuid.uuid4().hex[:8]}", server=shared_server)
    loader = Loader(store, catalog, report_dir or root / "reports")
    for path in sorted(p for p in files.iterdir() if p.is_file()):
        loader.load(path)
    model = root / "model.json"
    Resolver(store, catalog, model).run()
    registry.sync(store, catalog)  # meters to their enterprises, as the demo does after resolving
    return City(store, catalog, files, model)


def mention_links(store: FalkorDBStore, mentions: list[str]) -> dict[str, tuple[str, str] | None]:
    """(enterprise id, method) of each mention id (``<record id>|<party>``); None where unlinked."""
    rows = store.read(
        "UNWIND $ids AS id MATCH (r:SourceRecord {id: id})-[a:ABOUT]->(e:Enterprise) "
        "RETURN r.id AS r, a.party AS p, e.id AS e, a.method AS m",
        {"ids": sorted({m.rpartition("|")[0] for m in mentions})},
    )
    found = {f"{row['r']}|{row['p']}": (row["e"], row["m"]) for row in rows}
    return {m: found.get(m) for m in mentions}


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    """A department file as a clerk's CSV export: UTF-8, one header row."""
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def kill_midway(script: str, store: GraphStore, count: str, at_least: int, timeout: float) -> int:
    """Run ``script`` in a child Python and SIGKILL it once the store's ``count`` statement (returning
    ``c``) reaches ``at_least``, as a crash would: for the "killed midway, rerun, nothing lost or
    doubled" tests. Returns the count seen; fails when the child finished before it could be killed."""
    child = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline and child.poll() is None:
            seen = store.read(count)[0]["c"]
            if seen >= at_least:
                break
            time.sleep(0.02)
        if child.poll() is not None:
            raise AssertionError("the child finished before it could be killed: give it more work")
        os.kill(child.pid, signal.SIGKILL)
        return seen
    finally:
        child.kill()
        child.wait()
