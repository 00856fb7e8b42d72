"""Shared fixtures: real stores only. Each embedded server a test starts is stopped by the fixture.

``--graph-store neo4j`` (or ``ENTGRAPH_TEST_STORE=neo4j``) runs the graph fixtures (``fresh_graph``, the
resolved cities) on embedded Neo4j servers instead of the embedded FalkorDB: ``./dev test`` runs the
tests marked ``stores`` (every path from load to API on a store) that way too, after the whole suite."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from entgraph.catalog.registry import Catalog
from entgraph.city_fixtures import City, build_city, fresh_falkordb
from entgraph.graph import EmbeddedServer, GraphStore
from entgraph.graph.falkordb_store import FalkorDBStore
from entgraph.graph.neo4j_server import EmbeddedNeo4j
from entgraph.graph.neo4j_store import Neo4jStore

REPO = Path(__file__).resolve().parents[1]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--graph-store",
        choices=("falkordb", "neo4j"),
        default=os.environ.get("ENTGRAPH_TEST_STORE", "falkordb"),
        help="the store behind fresh_graph and the resolved cities (default falkordb)",
    )


@pytest.fixture(scope="session")
def graph_store(request: pytest.FixtureRequest) -> str:
    """Which store the graph fixtures run on: 'falkordb' or 'neo4j' (``--graph-store``)."""
    return str(request.config.getoption("--graph-store"))


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    """The built-in catalog alone (no entry-point plug-ins that happen to be installed)."""
    return Catalog.load(entry_points=False)


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    """One embedded FalkorDB for tests that only need a graph; each test gets its own graph key."""
    server = EmbeddedServer(tmp_path_factory.mktemp("shared-home"))
    server.ensure_running()
    yield server
    server.stop()


@pytest.fixture
def falkordb_graph(shared_server: EmbeddedServer) -> Iterator[FalkorDBStore]:
    """A fresh graph on the shared embedded FalkorDB, cleared afterwards (for FalkorDB's own tests)."""
    opened = FalkorDBStore(f"t-{uuid.uuid4().hex[:12]}", server=shared_server)
    yield opened
    opened.clear()
    opened.close()


def _graph_on(request: pytest.FixtureRequest, name: str) -> GraphStore:
    """A new, empty graph named ``name`` on the store the run tests (``--graph-store``)."""
    if request.getfixturevalue("graph_store") == "neo4j":
        opened: GraphStore = request.getfixturevalue("neo4j_servers").store(name)
        opened.clear()
        return opened
    return fresh_falkordb(request.getfixturevalue("shared_server"), name)


@pytest.fixture(scope="session")
def new_graph(request: pytest.FixtureRequest) -> Callable[[str], GraphStore]:
    """Open a new, empty graph on the store the run tests; ``name`` keeps graphs that must coexist apart
    (on Neo4j, one server a name). The caller clears and closes it."""
    return lambda name: _graph_on(request, name)


@pytest.fixture
def fresh_graph(request: pytest.FixtureRequest) -> Iterator[GraphStore]:
    """A fresh graph on the store the run tests (FalkorDB, or Neo4j with ``--graph-store neo4j``)."""
    opened = _graph_on(request, "graphs")
    yield opened
    opened.clear()
    opened.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    """A private embedded server, for tests that stop, kill or restart it."""
    srv = EmbeddedServer(tmp_path / "home", start_timeout=30)
    yield srv
    srv.stop()


class Neo4jServers:
    """Embedded Neo4j servers for the session, one per name (Community has one database a server, so
    graphs that must coexist, a shared city and a test's own graph, each get a server)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.servers: dict[str, EmbeddedNeo4j] = {}

    def store(self, name: str) -> Neo4jStore:
        """A store on server ``name`` (started on first use); NEO4J_URI, when set, serves every name."""
        uri = os.environ.get("NEO4J_URI")
        if uri:
            return Neo4jStore(
                uri,
                os.environ.get("NEO4J_USER", "neo4j"),
                os.environ.get("NEO4J_PASSWORD", ""),
                database=os.environ.get("NEO4J_DATABASE"),
            )
        if name not in self.servers:
            self.servers[name] = EmbeddedNeo4j(self.root / name, heap="384m", pagecache="64m")
        server = self.servers[name]
        info = server.ensure_running()
        return Neo4jStore(info.uri, "neo4j", "", server=server)

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()


@pytest.fixture(scope="session")
def neo4j_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Neo4jServers]:
    servers = Neo4jServers(tmp_path_factory.mktemp("neo4j"))
    yield servers
    servers.stop()


@pytest.fixture(params=["falkordb", "neo4j"])
def store(request: pytest.FixtureRequest) -> Iterator[GraphStore]:
    """Every adapter behind the port, each on an empty graph."""
    if request.param == "falkordb":
        shared: EmbeddedServer = request.getfixturevalue("shared_server")
        opened: GraphStore = FalkorDBStore(f"test-{uuid.uuid4().hex[:12]}", server=shared)
    else:
        opened = request.getfixturevalue("neo4j_servers").store("graphs")
    opened.clear()
    yield opened
    opened.clear()
    opened.close()


@pytest.fixture
def reopen(store: GraphStore, request: pytest.FixtureRequest) -> Callable[[], GraphStore]:
    """Open a second, independent connection to the graph behind ``store``."""

    def _reopen() -> GraphStore:
        if isinstance(store, FalkorDBStore):
            return FalkorDBStore(store.graph_name, server=store._server)
        return request.getfixturevalue("neo4j_servers").store("graphs")

    return _reopen


# --- a small resolved city, shared by the API and telemetry tests ---------------------------------


@pytest.fixture(scope="session")
def city_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("api-city")


@pytest.fixture(scope="session")
def resolved_city(request: pytest.FixtureRequest, city_root: Path) -> Iterator[City]:
    """Read-only (tests must not change it): a resolved 150-enterprise city, all 84 feeds."""
    city = build_city(_graph_on(request, "api-city"), city_root)
    yield city
    city.store.clear()
    city.store.close()


@pytest.fixture
def resolved_city_copy(request: pytest.FixtureRequest, city_root: Path) -> Iterator[City]:
    """A private resolved city for tests that change it (steward mutations)."""
    city = build_city(_graph_on(request, "api-city-rw"), city_root)
    yield city
    city.store.clear()
    city.store.close()
