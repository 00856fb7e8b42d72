"""The API served over HTTP on the session's resolved city (``resolved_city`` in tests/conftest.py)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from entgraph.api.app import create_app
from entgraph.api.auth import ApiKeyFile, Role
from entgraph.api.graphql_client import HOSTILE_SECRET, SAMPLE_SCOPES, GraphQLClient, Served
from entgraph.catalog.registry import Catalog
from entgraph.city_fixtures import City, CountingStore
from entgraph.graph.port import GraphStore
from entgraph.settings import Settings

API_SECRET = "s" * 40


@contextmanager
def _served(store: GraphStore, catalog: Catalog, home: Path) -> Iterator[GraphQLClient]:
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
def graph_api(fresh_graph: GraphStore, tmp_path: Path) -> Iterator[GraphQLClient]:
    """The API on this test's own empty graph (``fresh_graph``), for hand-made data."""
    with _served(fresh_graph, Catalog.load(entry_points=False), tmp_path) as api:
        yield api


# -- a production-mode server over TCP (hostile input, schemathesis) ---------------------------------

HOSTILE_ORIGIN = "https://console.city.example"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served(resolved_city: City, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("hostile")
    keys_file = ApiKeyFile(home / "api-keys.toml")
    keys = {
        role: keys_file.create(role, f"hostile-{role.value}", SAMPLE_SCOPES.get(role))
        for role in Role
        if role is not Role.PUBLIC
    }
    settings = Settings(
        home=home,
        api_mode="production",
        api_jwt_secret=HOSTILE_SECRET,
        api_keys_file=home / "api-keys.toml",
        api_cors_origins=HOSTILE_ORIGIN,
        api_rate_anonymous=1000.0,  # the rate-limit test builds its own app; the rest must not trip it
    )
    with _over_tcp(create_app(settings, resolved_city.store, resolved_city.catalog)) as base:
        served = Served(base, keys)
        yield served
        served.http.close()


@contextmanager
def _over_tcp(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn on a loopback port in a thread; yields its base URL."""
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="session")
def over_tcp() -> Callable[[Any], AbstractContextManager[str]]:
    """``with over_tcp(app) as base_url``: an app served over TCP, as attackers' tools reach it."""
    return _over_tcp
