"""Building blocks of the test fixtures and benchmarks: a generated, loaded, resolved city.

Shared by the test suite and the benchmarks: a generated, loaded and resolved city in its own graph
on an embedded server, a store that counts round trips, and a harness that kills a command midway."""

from __future__ import annotations

import csv
import json
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


# --- a hand-made town for the map's tests (graph queries and the API over HTTP) -----------------------

MAP_TOWN = "安海镇"
MAP_BOUNDARY = [(118.44, 24.70), (118.50, 24.70), (118.50, 24.75), (118.44, 24.75)]
MAP_NEIGHBOUR = [(118.44, 24.80), (118.50, 24.80), (118.47, 24.86)]


def _square(lng: float, lat: float, half: float = 0.002) -> str:
    corners = [
        (lng - half, lat - half),
        (lng + half, lat - half),
        (lng + half, lat + half),
        (lng - half, lat + half),
    ]
    ring = ", ".join(f"{x:.4f} {y:.4f}" for x, y in [*corners, corners[0]])
    return f"POLYGON (({ring}))"


def build_map_town(store: GraphStore, catalog: Catalog, folder: Path) -> None:
    """安海镇 and 磁灶镇 (a boundary layer), land parcels, and enterprises linked as resolution links them:

    - P-1, granted to E-1 (安海镇), placed in the town by its record, its outline inside the boundary;
    - P-2, granted to nobody we know, no town column, its point inside the boundary; its 坐落 is E-2's
      registered address (E-2 then gets P-2's point, by address);
    - P-3, placed in 安海镇 by its record but drawn inside 磁灶镇;
    - P-4, no coordinates; P-5, a transfer (not open to the public) to E-1 inside the boundary;
    - E-3 in 安海镇 without a point, E-4 merged away, E-5 in 磁灶镇.
    """
    layer = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"镇街名称": name, "行政区划代码": code},
             "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in [*ring, ring[0]]]]}}
            for name, code, ring in (
                (MAP_TOWN, "350582102", MAP_BOUNDARY), ("磁灶镇", "350582103", MAP_NEIGHBOUR)
            )
        ],
    }  # fmt: skip
    (folder / "镇街边界.geojson").write_text(json.dumps(layer, ensure_ascii=False), encoding="utf-8")
    grants = ["出让单位", "受让单位", "出让时间", "成交金额", "所属地区", "出让面积", "土地坐落", "宗地编号",
              "宗地空间地理信息"]  # fmt: skip
    granted = (  # (grantee, town, location, parcel, coordinates)
        ("晋江市甲鞋业有限公司", MAP_TOWN, "安海镇甲路1号", "P-1", _square(118.46, 24.72)),
        ("晋江市某某有限公司", "", "安海镇乙路2号", "P-2", "118.48,24.73"),
        ("晋江市丙有限公司", MAP_TOWN, "安海镇丙路3号", "P-3", "POINT (118.47 24.83)"),
        ("晋江市丁有限公司", MAP_TOWN, "安海镇丁路4号", "P-4", ""),
    )
    rows = [["晋江市自然资源局", who, "2023-04-03", "100", town, "800", where, key, geo]
            for who, town, where, key, geo in granted]  # fmt: skip
    write_csv(folder / "国有土地出让信息_2023-04.csv", grants, rows)
    transfers = ["受让方名称", "转让时间", "受让方土地证号码", "土地坐落", "所属地区", "宗地空间地理信息"]
    write_csv(folder / "土地转让信息_2023-04.csv", transfers, [
        ["晋江市甲鞋业有限公司", "2023-04-20", "P-5", "安海镇戊路5号", MAP_TOWN, "118.45,24.71"],
    ])  # fmt: skip
    loader = Loader(store, catalog, folder / "reports")
    for name in ("镇街边界.geojson", "国有土地出让信息_2023-04.csv", "土地转让信息_2023-04.csv"):
        loader.load(folder / name)

    def golden(dataset: str) -> str:
        return json.dumps({f: [f"{dataset}:x", dataset, 0, ""] for f in ("town", "status", "address")})

    source = golden("jj_land_grants")
    people = (  # (id, name, town, status, address, merged into)
        ("E-1", "晋江市甲鞋业有限公司", MAP_TOWN, "存续", None, None),
        ("E-2", "晋江市乙贸易有限公司", MAP_TOWN, "存续", "福建省晋江市安海镇乙路2号", None),
        ("E-3", "晋江市丙贸易有限公司", MAP_TOWN, "注销", None, None),
        ("E-4", "晋江市甲鞋业公司", MAP_TOWN, "存续", None, "E-1"),
        ("E-5", "晋江市戊陶瓷有限公司", "磁灶镇", "存续", None, None),
    )
    nodes = [
        {
            "id": i,
            "name": n,
            "town": t,
            "status": st,
            "address": a,
            "merged_into": m,
            "golden_sources": source,
        }
        for i, n, t, st, a, m in people
    ]
    store.write("UNWIND $rows AS row CREATE (e:Enterprise) SET e = row", {"rows": nodes})
    for dataset, row, enterprise in (("jj_land_grants", 2, "E-1"), ("jj_land_transfers", 2, "E-1")):
        store.write(
            "MATCH (r:SourceRecord {dataset: $dataset, row: $row}), (e:Enterprise {id: $id}) "
            "CREATE (r)-[:ABOUT {party: 'subject', method: 'test'}]->(e)",
            {"dataset": dataset, "row": row, "id": enterprise},
        )
