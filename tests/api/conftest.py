"""A small city, generated, loaded and resolved once per test session, for the API's domain queries.

Tests must not change it (steward mutation tests resolve their own copy, see ``resolved_city_copy``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from entgraph.graph import EmbeddedServer
from entgraph.graph.falkordb_store import FalkorDBStore
from entgraph.loaders.engine import Loader
from entgraph.loaders.registry import Catalog
from entgraph.loaders.synthetic import generate_city
from entgraph.resolution.resolver import Resolver


@dataclass(frozen=True)
class City:
    store: FalkorDBStore
    catalog: Catalog
    files: Path  # the generated files, with truth/ below
    model: Path  # the trained matcher


def _build(shared_server: EmbeddedServer, root: Path, name: str) -> City:
    files = root / "city"
    if not files.exists():
        generate_city(150, seed=21, out_dir=files)
    catalog = Catalog.load(entry_points=False)
    store = FalkorDBStore(f"{name}-{uuid.uuid4().hex[:8]}", server=shared_server)
    loader = Loader(store, catalog, root / "reports")
    for path in sorted(p for p in files.iterdir() if p.is_file()):
        loader.load(path)
    model = root / "model.json"
    Resolver(store, catalog, model).run()
    return City(store, catalog, files, model)


@pytest.fixture(scope="session")
def city_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("api-city")


@pytest.fixture(scope="session")
def resolved_city(shared_server: EmbeddedServer, city_root: Path) -> Iterator[City]:
    """Read-only: a resolved 150-enterprise city (all 84 feeds) in its own graph."""
    city = _build(shared_server, city_root, "api-city")
    yield city
    city.store.clear()
    city.store.close()


@pytest.fixture
def resolved_city_copy(shared_server: EmbeddedServer, city_root: Path) -> Iterator[City]:
    """A private resolved city for tests that change it (steward mutations)."""
    city = _build(shared_server, city_root, "api-city-rw")
    yield city
    city.store.clear()
    city.store.close()
