"""The embedded Neo4j (ENTGRAPH_GRAPH=neo4j-embedded): started, found, checked, restarted and stopped by
entgraph like the embedded FalkorDB, with its data kept across stops and crashes."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from entgraph.child_process import wait_exit
from entgraph.graph.connect import open_store
from entgraph.graph.neo4j_server import EmbeddedNeo4j, build_launcher
from entgraph.graph.neo4j_store import Neo4jStore
from entgraph.graph.port import FullTextIndex, GraphSchema, PropertyIndex, StoreUnavailable, UniqueKey
from entgraph.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def neo4j(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNeo4j]:
    """One embedded Neo4j for the module (a JVM start costs seconds); tests stop and kill it."""
    server = EmbeddedNeo4j(tmp_path_factory.mktemp("neo4j-home"), heap="256m", pagecache="32m")
    yield server
    server.stop()


def _store(server: EmbeddedNeo4j, restart: bool = True) -> Neo4jStore:
    return Neo4jStore(server.ensure_running().uri, "neo4j", "", server=server, restart=restart)


def test_the_launcher_is_built_once_per_source_digest(tmp_path: Path) -> None:
    argfile = build_launcher()
    assert argfile.is_file() and "org.neo4j" not in argfile.read_text().split("-cp")[0]
    assert build_launcher() == argfile  # cached: no second Maven run
    assert (argfile.parent / "classes" / "org" / "entgraph" / "neo4j" / "Launcher.class").is_file()


def test_a_write_survives_stop_and_start_on_the_same_port(neo4j: EmbeddedNeo4j) -> None:
    store = _store(neo4j)
    store.write("MERGE (:Thing {key: 'kept', name: '保留'})")
    port = neo4j.ensure_running().port
    store.close()
    assert neo4j.stop()
    assert not neo4j.status().running and "stopped by" in neo4j.status().detail
    again = _store(neo4j)
    assert neo4j.ensure_running().port == port  # clients find it where they left it
    assert again.read("MATCH (t:Thing {key: 'kept'}) RETURN t.name AS n") == [{"n": "保留"}]
    again.clear()
    again.close()


def test_a_killed_server_is_restarted_by_the_store_with_its_data(neo4j: EmbeddedNeo4j) -> None:
    store = _store(neo4j)
    store.write("MERGE (:Thing {key: 'crash', n: 1})")
    info = neo4j.ensure_running()
    os.kill(info.pid, signal.SIGKILL)  # a crash: no clean shutdown, recovery from the transaction log
    assert wait_exit(info.pid, 10, None)
    assert store.read("MATCH (t:Thing {key: 'crash'}) RETURN t.n AS n") == [{"n": 1}]
    assert neo4j.ensure_running().pid != info.pid
    store.clear()
    store.close()


def test_a_store_never_restarts_a_server_the_operator_stopped(neo4j: EmbeddedNeo4j) -> None:
    store = _store(neo4j)
    assert neo4j.stop()
    with pytest.raises(StoreUnavailable):
        store.read("RETURN 1 AS one")
    assert not neo4j.status().running
    store.close()


def test_settings_open_the_embedded_neo4j_and_status_needs_it_running(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, graph="neo4j-embedded", neo4j_heap="256m", neo4j_pagecache="32m")
    with pytest.raises(StoreUnavailable, match="entgraph store start"):
        open_store(settings, start=False)
    try:
        with open_store(settings) as store:
            health = store.health()
            assert health.ok and "embedded Neo4j" in health.location
            assert health.facts["pid"] == EmbeddedNeo4j(tmp_path).status().info.pid
            assert health.facts["data_bytes"] > 0
            assert store.read("RETURN 1 + 1 AS two") == [{"two": 2}]
    finally:
        EmbeddedNeo4j(tmp_path).stop()


def test_a_configured_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = EmbeddedNeo4j(tmp_path, port=taken.getsockname()[1], heap="256m", pagecache="32m")
        with pytest.raises(StoreUnavailable, match=r"already in use|is taken"):
            server.ensure_running()


def test_schema_items_are_versioned_and_a_changed_definition_is_migrated(neo4j: EmbeddedNeo4j) -> None:
    store = _store(neo4j)
    first = GraphSchema(
        unique=(UniqueKey("Thing", "key"),),
        indexes=(PropertyIndex("Thing", "town"),),
        fulltext=(FullTextIndex("Thing", ("name_tokens",)),),
    )
    store.ensure_schema(first)
    store.ensure_schema(first)  # idempotent: nothing new to record
    assert {r["name"]: r["version"] for r in store.applied_schema()} == {
        "Thing_fulltext": 1, "Thing_key_unique": 1, "Thing_town": 1,
    }  # fmt: skip
    # The full-text index now covers another property: IF NOT EXISTS alone would keep the old one.
    second = GraphSchema(unique=first.unique, indexes=first.indexes,
                         fulltext=(FullTextIndex("Thing", ("alias_tokens",)),))  # fmt: skip
    store.write("CREATE (:Thing {key: 'a', alias_tokens: '恒安 安纸'})")
    store.ensure_schema(second)
    assert {r["name"]: r["version"] for r in store.applied_schema()}["Thing_fulltext"] == 2
    assert [h.properties["key"] for h in store.fulltext_search("Thing", "恒安")] == ["a"]
    store.clear()
    assert store.applied_schema() == []
    store.close()
