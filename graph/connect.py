"""Choose and open the configured graph store from one setting, ``ENTGRAPH_GRAPH``.

- ``embedded`` (default): FalkorDB started by entgraph under ``ENTGRAPH_HOME``
- ``neo4j-embedded``: Neo4j Community started by entgraph under ``ENTGRAPH_HOME`` (``neo4j_server.py``)
- ``falkordb://[:PASSWORD@]HOST:PORT``: a FalkorDB server run by someone else
- ``neo4j``: Neo4j at ``NEO4J_URI``; or the URI itself (``neo4j://``, ``neo4j+s://``, ``bolt://`` ...)

A store opened with ``read_limit=True`` (the API's) stops a read statement after
``ENTGRAPH_GRAPH_QUERY_TIMEOUT_MS`` (0: never); batch jobs (load, resolve, telemetry) read without a
limit, as a page of a city's enterprises may legitimately take longer. Writes have no limit of ours.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from entgraph.errors import ConfigurationError
from entgraph.graph.embedded_server import EmbeddedServer
from entgraph.graph.falkordb_store import FalkorDBStore
from entgraph.graph.neo4j_server import EmbeddedNeo4j
from entgraph.graph.port import GraphStore, StoreUnavailable
from entgraph.graph.write_versions import WriteVersions
from entgraph.settings import Settings

NEO4J_SCHEMES = ("neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc")


def embedded_server(settings: Settings) -> EmbeddedServer:
    return EmbeddedServer(settings.home, port=settings.store_port, start_timeout=settings.store_start_timeout)


def embedded_neo4j(settings: Settings) -> EmbeddedNeo4j:
    return EmbeddedNeo4j(
        settings.home,
        port=settings.store_port,
        start_timeout=max(settings.store_start_timeout, 120.0),  # a JVM's cold start, and a recovery
        heap=settings.neo4j_heap,
        pagecache=settings.neo4j_pagecache,
    )


def runs_embedded(settings: Settings) -> bool:
    """Whether the configured store is one entgraph runs itself (FalkorDB or Neo4j)."""
    return settings.graph.strip() in ("embedded", "neo4j-embedded")


def managed_server(settings: Settings) -> EmbeddedServer | EmbeddedNeo4j:
    """The server entgraph runs for the configured store (see :func:`runs_embedded`)."""
    return (
        embedded_neo4j(settings) if settings.graph.strip() == "neo4j-embedded" else embedded_server(settings)
    )


def open_store(
    settings: Settings,
    *,
    read_limit: bool = False,
    start: bool | None = None,
    restart: bool | None = None,
) -> GraphStore:
    """Open the store named by ``settings.graph``.

    For the embedded store, ``start`` says whether opening starts the server when it is not running
    (default ``ENTGRAPH_STORE_AUTOSTART``; false: it must be running, ``entgraph store start``), and
    ``restart`` (default: ``start``) whether the open store restarts it after a crash. A server the
    operator stopped (``entgraph store stop``) is never started again by a store already open: the API
    opens with ``restart=False`` and then answers "unavailable" until the operator starts it.
    """
    store = _open(settings, read_limit=read_limit, start=start, restart=restart)
    # every process writing this graph on this machine stamps the same table (the API's cache reads it)
    identity = f"{settings.graph.strip()}|{settings.graph_name}|{settings.neo4j_database}"
    store.versions = WriteVersions.for_graph(settings.home, identity)
    return store


def _open(settings: Settings, *, read_limit: bool, start: bool | None, restart: bool | None) -> GraphStore:
    target = settings.graph.strip()
    timeout = settings.graph_query_timeout_ms if read_limit else None
    if target == "embedded":
        return FalkorDBStore(
            settings.graph_name,
            server=embedded_server(settings),
            batch_size=settings.batch_size,
            read_timeout_ms=timeout,
            start=settings.store_autostart if start is None else start,
            restart=restart,
        )
    if target == "neo4j-embedded":
        from entgraph.graph.neo4j_store import Neo4jStore

        server = embedded_neo4j(settings)
        autostart = settings.store_autostart if start is None else start
        if autostart:
            info = server.ensure_running(unless_stopped=restart is False)
        else:
            state = server.status()
            if not state.running or state.info is None:
                raise StoreUnavailable(
                    f"the embedded Neo4j in {server.dir} is {state.detail}; `entgraph store start` starts it"
                )
            info = state.info
        return Neo4jStore(
            info.uri, "neo4j", "", batch_size=settings.batch_size, read_timeout_ms=timeout,
            server=server, restart=autostart if restart is None else restart,
        )  # fmt: skip
    scheme = target.split("://", 1)[0] if "://" in target else target
    if scheme == "falkordb":
        url = urlsplit(target)
        if not url.hostname:
            raise ConfigurationError(
                f"ENTGRAPH_GRAPH={target!r} names no host; write falkordb://[:PASSWORD@]HOST:PORT"
            )
        try:
            port = url.port or 6379
        except ValueError:
            raise ConfigurationError(f"ENTGRAPH_GRAPH={target!r} has a bad port number") from None
        return FalkorDBStore(
            settings.graph_name,
            host=url.hostname,
            port=port,
            password=unquote(url.password) if url.password else None,
            batch_size=settings.batch_size,
            read_timeout_ms=timeout,
        )
    if scheme in NEO4J_SCHEMES:
        uri = settings.neo4j_uri if target == "neo4j" else target
        if not uri:
            raise ConfigurationError("ENTGRAPH_GRAPH=neo4j needs NEO4J_URI, for example neo4j://host:7687")
        # imported here: the neo4j driver is a fifth of every command's start-up, and most never use it
        from entgraph.graph.neo4j_store import Neo4jStore

        return Neo4jStore(
            uri,
            settings.neo4j_user,
            settings.neo4j_password.get_secret_value(),
            database=settings.neo4j_database,
            batch_size=settings.batch_size,
            read_timeout_ms=timeout,
        )
    raise ConfigurationError(
        f"ENTGRAPH_GRAPH={target!r} is not a store entgraph knows; use 'embedded', 'neo4j-embedded', "
        "'falkordb://[:PASSWORD@]HOST:PORT', 'neo4j' (with NEO4J_URI) or a neo4j:// URI"
    )
