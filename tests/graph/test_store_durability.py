"""The embedded store's durability promise, on the real server (docs/graph-store.md, persistence):

- a write the store acknowledged is on disk before the reply (``appendfsync always``): it survives a
  clean stop and a SIGKILL of the server straight after the reply;
- a restart loads the RDB base of the last AOF rewrite plus the log tail since, and finds the same data
  as before; a clean stop rewrites first, so the tail is then empty;
- the tail stays short: schema changes put their indexes into the base, and Redis rewrites by itself;
- a server still loading its data when a start gives up is left loading, not killed and replaced;
- a server the operator stopped is not started again by a store that is open.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from entgraph.graph import EmbeddedServer, GraphSchema, StoreUnavailable, UniqueKey
from entgraph.graph.embedded_server import StoreStillLoading
from entgraph.graph.falkordb_store import FalkorDBStore

SCHEMA = GraphSchema(unique=(UniqueKey("Rec", "id"), UniqueKey("Ent", "id")))
MERGE = (
    "UNWIND $rows AS row MERGE (r:Rec {id: row.id}) SET r.name = row.name, r.n = row.n "
    "MERGE (e:Ent {id: row.eid}) MERGE (r)-[:ABOUT]->(e)"
)


def rows(lo: int, hi: int) -> list[dict]:
    return [{"id": f"r{i}", "eid": f"e{i // 3}", "name": f"晋江市第{i}号公司", "n": i} for i in range(lo, hi)]


def contents(store: FalkorDBStore) -> tuple:
    recs = store.read("MATCH (r:Rec) RETURN r.id AS id, r.name AS name, r.n AS n ORDER BY id")
    edges = store.read("MATCH (r:Rec)-[:ABOUT]->(e:Ent) RETURN count(*) AS c")[0]["c"]
    ents = store.read("MATCH (e:Ent) RETURN count(e) AS c")[0]["c"]
    return tuple((r["id"], r["name"], r["n"]) for r in recs), edges, ents


def kill_9(server: EmbeddedServer) -> int:
    pid = server.status().info.pid
    os.kill(pid, signal.SIGKILL)
    if server._child is not None and server._child.pid == pid:
        server._child.wait(timeout=10)
    else:
        psutil.Process(pid).wait(timeout=10) if psutil.pid_exists(pid) else None
    return pid


def rewrites_settle(server: EmbeddedServer) -> None:
    client = server.running().client(server.password)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        info = client.info("persistence")
        if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
            return
        time.sleep(0.05)
    raise AssertionError("the AOF rewrite did not finish within 30 s")


def tail_text(server: EmbeddedServer) -> bytes:
    aof = server.dir / "appendonlydir"
    return b"".join(p.read_bytes() for p in sorted(aof.glob("*.incr.aof")))


def test_a_clean_stop_compacts_and_the_restart_finds_every_acknowledged_write(server: EmbeddedServer) -> None:
    store = FalkorDBStore("g", server=server)
    store.ensure_schema(SCHEMA)
    store.write_batches(MERGE, rows(0, 3000), batch_size=500)
    before = contents(store)
    assert server.tail_bytes() > 0
    store.close()

    assert server.stop() is True
    assert server.tail_bytes() == 0  # everything is in the RDB base: nothing to replay
    server.ensure_running()
    again = FalkorDBStore("g", server=server)
    assert contents(again) == before
    assert len(before[0]) == 3000


def test_an_acknowledged_write_survives_a_sigkill_straight_after_the_reply(server: EmbeddedServer) -> None:
    store = FalkorDBStore("g", server=server)
    store.ensure_schema(SCHEMA)
    for i in range(20):
        # appendfsync always: the reply comes after the fsync, so no waiting before the kill.
        store.write("MERGE (r:Rec {id: $id}) SET r.name = 'acked', r.n = $n", {"id": f"k{i}", "n": i})
    old = kill_9(server)

    assert not server.status().running
    reopened = FalkorDBStore("g", server=server)  # restarts it on the same files
    assert server.status().info.pid != old
    got = reopened.read("MATCH (r:Rec) RETURN r.id AS id, r.n AS n ORDER BY r.n")
    assert got == [{"id": f"k{i}", "n": i} for i in range(20)]


def test_a_restart_after_a_rewrite_loads_the_base_and_the_tail(server: EmbeddedServer) -> None:
    store = FalkorDBStore("g", server=server)
    store.ensure_schema(SCHEMA)
    store.write_batches(MERGE, rows(0, 2000), batch_size=500)
    assert server.compact(wait=True) is True
    assert server.tail_bytes() == 0
    store.write_batches(MERGE, rows(2000, 2500), batch_size=100)  # the tail, on top of the base
    store.write("MATCH (r:Rec {id: 'r7'}) SET r.name = 'changed after the rewrite'")
    store.write("MATCH (r:Rec {id: 'r8'}) DETACH DELETE r")
    assert server.tail_bytes() > 0
    before = contents(store)

    kill_9(server)  # a crash: base + tail are replayed
    after_crash = FalkorDBStore("g", server=server)
    assert contents(after_crash) == before
    assert ("r7", "changed after the rewrite", 7) in before[0]
    assert not any(r[0] == "r8" for r in before[0])

    after_crash.close()
    server.stop()  # a clean stop: the base alone
    assert contents(FalkorDBStore("g", server=server)) == before


def test_a_schema_change_puts_its_indexes_into_the_base(server: EmbeddedServer) -> None:
    """Replaying an index created in the tail builds it only at the end of loading, so the statements
    after it would replay as label scans (quadratic); ensure_schema rewrites the AOF to avoid that."""
    store = FalkorDBStore("g", server=server)
    store.write("CREATE (:Other {id: 1})")  # something in the tail before the schema
    store.ensure_schema(SCHEMA)
    rewrites_settle(server)
    assert b"INDEX" not in tail_text(server).upper()
    assert b"CONSTRAINT" not in tail_text(server).upper()
    store.write_batches(MERGE, rows(0, 500), batch_size=100)

    # Nothing new: no rewrite for every loader run that checks the schema.
    client = server.running().client(server.password)
    count = client.info("persistence")["aof_rewrites"]
    store.ensure_schema(SCHEMA)
    assert client.info("persistence")["aof_rewrites"] == count

    kill_9(server)
    again = FalkorDBStore("g", server=server)
    indexes = again.read("CALL db.indexes() YIELD label RETURN collect(label) AS labels")[0]["labels"]
    assert {"Rec", "Ent"} <= set(indexes)
    assert len(contents(again)[0]) == 500


def test_redis_rewrites_the_aof_by_itself_so_the_tail_stays_short(server: EmbeddedServer) -> None:
    store = FalkorDBStore("g", server=server)
    pad = "x" * 400
    store.write_batches(
        "UNWIND $rows AS row CREATE (:Blob {id: row.id, pad: row.pad})",
        ({"id": i, "pad": pad} for i in range(12_000)),  # about 5 MB of log
        batch_size=1000,
    )
    time.sleep(0.5)  # Redis decides on automatic rewrites in its cron, a few times a second
    rewrites_settle(server)
    persistence = server.running().client(server.password).info("persistence")
    assert persistence["aof_rewrites"] >= 1  # no BGREWRITEAOF of ours here: all automatic
    # Settled: the AOF is below 1.5x its size at the end of the last rewrite (or below 1 MB).
    assert persistence["aof_current_size"] < max(1.5 * persistence["aof_base_size"], 1 << 20)
    conf = (server.dir / "redis.conf").read_text()
    assert "appendfsync always" in conf
    assert "no-appendfsync-on-rewrite no" in conf
    assert "aof-use-rdb-preamble yes" in conf


class OldWay(EmbeddedServer):
    """The configuration before restarts were kept fast: rewrites only past 64 MB, none at a stop."""

    aof_rewrite_percentage = 100
    aof_rewrite_min_size = "64mb"


def _slow_to_load(home: Path) -> EmbeddedServer:
    """A data dir whose log tail takes seconds to replay: an index and 6000 MERGEs on it in the tail,
    written the old way (no rewrite after the schema change or at the stop)."""
    old = OldWay(home, start_timeout=30, compaction=False)
    store = FalkorDBStore("g", server=old)
    store.ensure_schema(SCHEMA)
    store.write_batches(MERGE, rows(0, 6000), batch_size=2000)
    store.close()
    old.stop()
    assert old.tail_bytes() > 300_000
    return old


def test_a_server_still_loading_is_left_running_and_the_message_says_what_to_do(tmp_path: Path) -> None:
    _slow_to_load(tmp_path / "home")
    impatient = EmbeddedServer(tmp_path / "home", start_timeout=0.5)
    try:
        with pytest.raises(StoreStillLoading, match=r"still loading.*ENTGRAPH_STORE_START_TIMEOUT"):
            impatient.ensure_running()
        loading = impatient._read_state()
        assert loading is not None and psutil.pid_exists(loading.pid)  # not killed
        assert impatient._loading(loading)  # by its log: it has not said it is ready yet

        # A later caller waits for the same server instead of replacing it (which would start over).
        patient = EmbeddedServer(tmp_path / "home", start_timeout=120)
        assert patient.ensure_running().pid == loading.pid
        assert len(contents(FalkorDBStore("g", server=patient))[0]) == 6000
    finally:
        EmbeddedServer(tmp_path / "home").stop()


def test_an_open_store_does_not_start_a_server_the_operator_stopped(server: EmbeddedServer) -> None:
    store = FalkorDBStore("g", server=server)  # may start it, and restart it after a crash
    store.write("CREATE (:Rec {id: 'kept'})")
    assert server.stop() is True
    assert server.stopped_by_operator()
    with pytest.raises(StoreUnavailable, match="entgraph store start"):
        store.read("MATCH (r:Rec) RETURN r.id AS id")
    assert server._read_state() is None
    assert "stopped" in server.status().detail

    server.ensure_running()  # the operator starts it again: the open store reconnects
    assert not server.stopped_by_operator()
    assert store.read("MATCH (r:Rec) RETURN r.id AS id") == [{"id": "kept"}]


def test_a_store_opened_without_restart_does_not_restart_a_crashed_server(server: EmbeddedServer) -> None:
    store = FalkorDBStore("g", server=server, restart=False)  # started at open, never later
    store.write("CREATE (:Rec {id: 'kept'})")
    kill_9(server)
    with pytest.raises(StoreUnavailable, match="not running"):
        store.read("MATCH (r:Rec) RETURN r.id AS id")
    assert server._read_state() is None or not server.is_alive()

    with pytest.raises(StoreUnavailable, match="entgraph store start"):
        FalkorDBStore("g", server=server, start=False)  # attach only
    server.ensure_running()
    assert store.read("MATCH (r:Rec) RETURN r.id AS id") == [{"id": "kept"}]
