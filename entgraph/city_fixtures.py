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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from entgraph.catalog.registry import Catalog
from entgraph.graph import EmbeddedServer
from entgraph.graph.falkordb_store import FalkorDBStore
from entgraph.graph.neo4j_store import Neo4jStore
from entgraph.graph.port import GraphStore, Params, Row
from entgraph.loaders.engine import Loader
from entgraph.resolution.resolver import Resolver
from entgraph.synthetic import generate_city
from entgraph.telemetry import meter_registry as registry


@dataclass(frozen=True)
class City:
    store: GraphStore
    catalog: Catalog
    files: Path  # the generated files, with truth/ below
    model: Path  # the trained matcher


def twin_of(store: GraphStore, **methods: Callable[..., Any]) -> Any:
    """The same store (same graph, same connection, any adapter) with ``methods`` replaced: an instance
    of the store's own class, so it behaves as the store does in every other way. A replacement
    reaches the store's own method as ``super(type(self), self).<name>``."""
    kind = type(store)
    twin = object.__new__(type(f"Twin{kind.__name__}", (kind,), methods))
    twin.__dict__.update(store.__dict__)
    return twin


def _counted_read(self: Any, cypher: str, params: Params | None = None, **options: Any) -> list[Row]:
    self.reads += 1
    return super(type(self), self).read(cypher, params, **options)


def _recorded_read(self: Any, cypher: str, params: Params | None = None, **options: Any) -> list[Row]:
    self.statements.setdefault(cypher, params)
    return super(type(self), self).read(cypher, params, **options)


def _write_twice(self: Any, cypher: str, params: Params | None = None) -> list[Row]:
    super(type(self), self).write(cypher, params)
    return super(type(self), self).write(cypher, params)


def CountingStore(store: GraphStore) -> Any:  # noqa: N802 (reads like the class it stands for)
    """The store, counting its read round trips (``.reads``)."""
    twin = twin_of(store, read=_counted_read)
    twin.reads = 0
    return twin


def RecordingStore(store: GraphStore) -> Any:  # noqa: N802
    """The store, keeping each distinct statement it reads, with its parameters (``.statements``)."""
    twin = twin_of(store, read=_recorded_read)
    twin.statements = {}
    return twin


def RetryingStore(store: GraphStore) -> Any:  # noqa: N802
    """The store running every write twice, as an adapter does when a reply is lost."""
    return twin_of(store, write=_write_twice)


def fresh_falkordb(server: EmbeddedServer, name: str) -> FalkorDBStore:
    """A new graph on an embedded FalkorDB server (each test or city its own key)."""
    return FalkorDBStore(f"{name}-{uuid.uuid4().hex[:8]}", server=server)


def graph_env(store: GraphStore) -> dict[str, str]:
    """The environment that makes a child ``entgraph`` command open the graph ``store`` holds."""
    if isinstance(store, FalkorDBStore) and store._server is not None:
        info = store._server.ensure_running()
        password = quote(store._server.password, safe="")
        return {"ENTGRAPH_GRAPH": f"falkordb://:{password}@127.0.0.1:{info.port}",
                "ENTGRAPH_GRAPH_NAME": store.graph_name}  # fmt: skip
    if isinstance(store, Neo4jStore):
        return {"ENTGRAPH_GRAPH": store.uri, "NEO4J_USER": "neo4j", "NEO4J_PASSWORD": ""}
    raise ValueError(f"no environment names {store.location}")


def build_city(
    store: GraphStore,
    root: Path,
    enterprises: int = 150,
    seed: int = 21,
    report_dir: Path | None = None,
) -> City:
    """Generate (once per ``root``), load, resolve and attach the meters of a city in ``store``."""
    files = root / "city"
    if not files.exists():
        generate_city(enterprises, seed=seed, out_dir=files)
    catalog = Catalog.load(entry_points=False)
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
