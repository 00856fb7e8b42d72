"""A resolution killed half-way and rerun loses nothing and duplicates nothing (killed for real)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from entgraph.catalog.registry import Catalog
from entgraph.city_fixtures import kill_midway
from entgraph.graph import EmbeddedServer
from entgraph.graph.falkordb_store import FalkorDBStore
from entgraph.loaders.engine import Loader
from entgraph.resolution.resolver import Resolver
from entgraph.synthetic import generate_city

SCRIPT = """
from pathlib import Path
from entgraph.graph.embedded_server import EmbeddedServer
from entgraph.graph.falkordb_store import FalkorDBStore
from entgraph.catalog.registry import Catalog
from entgraph.resolution.resolver import Resolver
from entgraph.city_fixtures import kill_midway
# small batches: the links are written in many statements, so there is a moment to kill it in
store = FalkorDBStore({graph!r}, server=EmbeddedServer(Path({home!r})), batch_size=20)
Resolver(store, Catalog.load(entry_points=False), Path({model!r})).run()
"""


def _links(store: FalkorDBStore) -> list[tuple[str, str, str]]:
    rows = store.read(
        "MATCH (r:SourceRecord)-[a:ABOUT]->(e:Enterprise) RETURN r.id AS r, a.party AS p, e.id AS e"
    )
    return sorted((row["r"], row["p"], row["e"]) for row in rows)


@pytest.mark.slow
def test_a_resolution_killed_midway_and_rerun_ends_as_one_clean_run(
    shared_server: EmbeddedServer, tmp_path: Path
) -> None:
    city = tmp_path / "city"
    generate_city(120, seed=4, out_dir=city)
    catalog = Catalog.load(entry_points=False)
    store = FalkorDBStore(f"killed-{uuid.uuid4().hex[:8]}", server=shared_server)
    try:
        loader = Loader(store, catalog, tmp_path / "reports")
        for path in sorted(p for p in city.iterdir() if p.is_file()):
            loader.load(path)
        model = tmp_path / "model.json"
        script = SCRIPT.format(graph=store.graph_name, home=str(shared_server.home), model=str(model))
        written = kill_midway(script, store, "MATCH ()-[a:ABOUT]->() RETURN count(a) AS c", 100, 240)
        pending = store.read(
            "MATCH (r:SourceRecord) WHERE r.to_resolve = 1 AND r.retired IS NULL RETURN count(r) AS c"
        )[0]["c"]
        assert written >= 100 and pending > 0  # killed with links written and records still pending

        resolver = Resolver(store, catalog, model)
        resolver.run()
        after_rerun = _links(store)
        duplicates = store.read(
            "MATCH (r:SourceRecord)-[a:ABOUT]->() WITH r, a.party AS p, count(a) AS n WHERE n > 1 "
            "RETURN count(r) AS c"
        )
        assert duplicates == [{"c": 0}]
        pending_after = store.read(
            "MATCH (r:SourceRecord) WHERE r.to_resolve = 1 AND r.retired IS NULL RETURN count(r) AS c"
        )
        assert pending_after == [{"c": 0}]
        # exactly what one clean run gives: resolve again from nothing and compare
        resolver.run(from_scratch=True)
        assert _links(store) == after_rerun
    finally:
        store.clear()
        store.close()
