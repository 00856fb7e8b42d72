"""The API served over HTTP on the session's resolved city (``resolved_city`` in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from entgraph.api.app import create_app
from entgraph.api.testing import GraphQLClient
from entgraph.graph.falkordb_store import FalkorDBStore
from entgraph.loaders.registry import Catalog
from entgraph.settings import Settings
from entgraph.testing import City, CountingStore

API_SECRET = "s" * 40


@contextmanager
def _served(store: FalkorDBStore, catalog: Catalog, home: Path) -> Iterator[GraphQLClient]:
    """The served schema over HTTP, in development mode with generous cost and depth limits (the
    limits have their own tests); callers pick a role per query."""
    settings = Settings(
        home=home,
        api_mode="development",
        api_jwt_secret=API_SECRET,
        api_keys_file=home / "api-keys.toml",
        api_cors_origins="",
        api_max_depth=12,
        api_max_cost=100_000_000,
    )
    with TestClient(create_app(settings, store, catalog)) as client:
        yield GraphQLClient(client, API_SECRET)


@pytest.fixture(scope="session")
def serve_city() -> Callable[..., AbstractContextManager[GraphQLClient]]:
    """``with serve_city(store, catalog, home) as api``: the API on any store (and the series store in
    ``home/series``), for tests that need their own data beside the shared city."""
    return _served


@pytest.fixture(scope="session")
def counting(resolved_city: City) -> CountingStore:
    """The read-only city's store, counting reads (for round-trip tests)."""
    return CountingStore(resolved_city.store)


@pytest.fixture(scope="module")
def city_api(
    resolved_city: City, counting: CountingStore, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GraphQLClient]:
    """The API on the read-only city (through the counting store)."""
    with _served(counting, resolved_city.catalog, tmp_path_factory.mktemp("city-api")) as api:
        yield api


@pytest.fixture
def graph_api(falkordb_graph: FalkorDBStore, tmp_path: Path) -> Iterator[GraphQLClient]:
    """The API on this test's own empty graph (``falkordb_graph``), for hand-made data."""
    with _served(falkordb_graph, Catalog.load(entry_points=False), tmp_path) as api:
        yield api
