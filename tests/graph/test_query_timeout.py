"""Store-side time limits (issue 15): the store stops a read that runs too long, answers QueryTimedOut
and is free again at once; writes are never cut by the read limit.

The expensive reads here would run for hours (a cartesian product of tens of billions of rows), so a
test that comes back at all shows the store stopped them; ``pytest.mark.timeout`` turns a store that
ignores its limit into a failure instead of a hang. No test asserts exact timings.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import pytest
from neo4j import exceptions as neo4j_errors

from entgraph.graph import EmbeddedServer, GraphStore, QueryError, open_store
from entgraph.graph.falkordb_store import FalkorDBStore
from entgraph.graph.neo4j_store import Neo4jStore
from entgraph.graph.port import FullTextIndex, GraphSchema, QueryTimedOut
from entgraph.graph.search_text import MAX_QUERY_TOKENS, query_tokens, search_tokens
from entgraph.settings import Settings

# 3,000^3 = 27 billion rows: hours of work, in the openCypher both stores speak.
ENDLESS_READ = (
    "UNWIND range(1, 3000) AS a UNWIND range(1, 3000) AS b UNWIND range(1, 3000) AS c RETURN count(*) AS n"
)
N_NODES = 1500
# Every node against every node: 2.25 M rows, a fraction of a second to a few seconds.
PAIRS_READ = "MATCH (a:N), (b:N) WITH a, count(b) AS k RETURN sum(k) AS total"
PAIRS_WRITE = "MATCH (a:N), (b:N) WITH a, count(b) AS k SET a.k = k RETURN count(a) AS n"

pytestmark = pytest.mark.timeout(120)


def _graph(server: EmbeddedServer, **kwargs) -> FalkorDBStore:
    return FalkorDBStore(f"timeout-{uuid.uuid4().hex[:10]}", server=server, **kwargs)


@pytest.fixture
def limited(shared_server: EmbeddedServer) -> Iterator[FalkorDBStore]:
    """A graph whose reads are limited to 200 ms, holding N_NODES nodes."""
    store = _graph(shared_server, read_timeout_ms=200)
    store.write("UNWIND range(1, $n) AS i CREATE (:N {i: i})", {"n": N_NODES})
    yield store
    store.clear()
    store.close()


# --- both adapters ---------------------------------------------------------------------------------


def test_a_read_past_its_limit_is_stopped_and_the_store_answers_again(store: GraphStore) -> None:
    with pytest.raises(QueryTimedOut) as caught:
        store.read(ENDLESS_READ, timeout_ms=200)
    assert isinstance(caught.value, QueryError)  # callers catching QueryError still catch it
    assert caught.value.limit_ms == 200
    assert "200 ms" in str(caught.value)
    assert store.read("RETURN 1 AS one") == [{"one": 1}]


def test_a_negative_limit_is_refused(store: GraphStore) -> None:
    with pytest.raises(ValueError):
        store.read("RETURN 1 AS one", timeout_ms=-1)


# --- FalkorDB -----------------------------------------------------------------------------------------


def test_the_store_limit_applies_to_every_read(limited: FalkorDBStore) -> None:
    assert limited.read("MATCH (n:N) RETURN count(n) AS c") == [{"c": N_NODES}]
    with pytest.raises(QueryTimedOut, match="200 ms"):
        limited.read(ENDLESS_READ)
    with pytest.raises(QueryTimedOut):
        limited.read("MATCH (a:N), (b:N), (c:N) RETURN count(*) AS n")  # a cartesian product of nodes
    assert limited.read("MATCH (n:N {i: 7}) RETURN n.i AS i") == [{"i": 7}]


def test_a_call_may_lift_or_tighten_the_limit(limited: FalkorDBStore) -> None:
    with pytest.raises(QueryTimedOut):
        limited.read(PAIRS_READ, timeout_ms=1)
    # 0: no limit for this call, so the pairs (longer than 1 ms, shorter than hours) are all counted.
    assert limited.read(PAIRS_READ, timeout_ms=0) == [{"total": N_NODES * N_NODES}]


def test_a_write_is_not_cut_by_the_read_limit(limited: FalkorDBStore) -> None:
    # The same work as a read runs past 1 ms; as a write it is given no limit and completes.
    with pytest.raises(QueryTimedOut):
        limited.read(PAIRS_READ, timeout_ms=1)
    limited.read_timeout_ms = 1
    assert limited.write(PAIRS_WRITE) == [{"n": N_NODES}]
    limited.read_timeout_ms = None
    assert limited.read("MATCH (a:N) WHERE a.k = $n RETURN count(a) AS c", {"n": N_NODES}) == [{"c": N_NODES}]


def test_batched_writes_are_not_cut_either(limited: FalkorDBStore) -> None:
    limited.read_timeout_ms = 1
    rows = ({"i": i} for i in range(20_000))
    assert (
        limited.write_batches("UNWIND $rows AS row CREATE (:M {i: row.i})", rows, batch_size=10_000) == 20_000
    )
    limited.read_timeout_ms = None
    assert limited.read("MATCH (m:M) RETURN count(m) AS c") == [{"c": 20_000}]


def test_timed_out_reads_free_the_store_threads(limited: FalkorDBStore) -> None:
    """More endless reads at once than the store has threads (2): all stop, then a read answers."""
    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(limited.read, ENDLESS_READ) for _ in range(6)]
        errors = [f.exception() for f in futures]
    assert all(isinstance(e, QueryTimedOut) for e in errors), errors
    started = time.monotonic()
    assert limited.read("MATCH (n:N) RETURN count(n) AS c", timeout_ms=0) == [{"c": N_NODES}]
    assert time.monotonic() - started < 10  # nothing is still running on the store: no queueing


def test_a_timed_out_read_leaves_health_false_not_raising(limited: FalkorDBStore) -> None:
    with mock.patch.object(limited, "read", side_effect=QueryTimedOut("stopped", 200)):
        health = limited.health()
    assert not health.ok
    assert "stopped" in health.detail


def test_the_setting_reaches_the_apis_store(shared_server: EmbeddedServer, monkeypatch) -> None:
    info = shared_server.ensure_running()
    monkeypatch.setenv("ENTGRAPH_GRAPH_QUERY_TIMEOUT_MS", "150")
    settings = Settings(
        graph=f"falkordb://:{shared_server.password}@127.0.0.1:{info.port}",
        graph_name=f"timeout-{uuid.uuid4().hex[:10]}",
    )
    assert settings.graph_query_timeout_ms == 150
    batch = open_store(settings)  # load, resolve, telemetry: no read limit
    assert batch.read_timeout_ms is None
    batch.close()
    store = open_store(settings, read_limit=True)  # the API's
    try:
        assert store.read_timeout_ms == 150
        with pytest.raises(QueryTimedOut, match="150 ms"):
            store.read(ENDLESS_READ)
    finally:
        store.clear()
        store.close()
    monkeypatch.delenv("ENTGRAPH_GRAPH_QUERY_TIMEOUT_MS")
    assert Settings().graph_query_timeout_ms == 10_000
    assert Settings(graph_query_timeout_ms=0).graph_query_timeout_ms == 0  # 0: no limit


def test_a_server_timeout_max_below_ours_caps_reads_and_writes(server: EmbeddedServer) -> None:
    """A FalkorDB configured with TIMEOUT_MAX refuses a larger query TIMEOUT; we send its cap instead.
    Such a server cuts (and undoes) writes too: they come back as QueryTimedOut without a limit of ours."""
    info = server.ensure_running()
    store = _graph(server, read_timeout_ms=10_000)
    try:
        store.write("UNWIND range(1, $n) AS i CREATE (:N {i: i})", {"n": N_NODES})
        info.client(server.password).execute_command("GRAPH.CONFIG", "SET", "TIMEOUT_MAX", 100)
        assert store.read("MATCH (n:N) RETURN count(n) AS c") == [{"c": N_NODES}]
        with pytest.raises(QueryTimedOut) as caught:
            store.read(ENDLESS_READ)
        assert caught.value.limit_ms == 100
        with pytest.raises(QueryTimedOut, match="server's own time limit") as cut:
            store.write(
                "UNWIND range(1, 3000) AS a UNWIND range(1, 3000) AS b UNWIND range(1, 3000) AS c "
                "WITH count(*) AS n CREATE (:Never {n: n})"
            )
        assert cut.value.limit_ms is None
        assert store.read("MATCH (x:Never) RETURN count(x) AS c") == [{"c": 0}]
    finally:
        store.close()


def test_a_huge_search_text_costs_what_its_first_tokens_do(falkordb_graph: FalkorDBStore) -> None:
    """The full-text engine's time grows with the square of the OR'd terms and is spent before its
    TIMEOUT is checked: 300 KB of random Chinese made 100,000 bigrams and took many seconds."""
    falkordb_graph.ensure_schema(GraphSchema(fulltext=(FullTextIndex("Thing", ("name_tokens",)),)))
    name = "晋江市恒安纸业有限公司"
    falkordb_graph.write(
        "CREATE (:Thing {name: $name, name_tokens: $tokens})", {"name": name, "tokens": search_tokens(name)}
    )
    rnd = random.Random(15)
    noise = "".join(chr(rnd.randrange(0x4E00, 0x9FA5)) for _ in range(100_000))
    started = time.monotonic()
    hits = falkordb_graph.fulltext_search("Thing", name + noise, limit=5)
    assert time.monotonic() - started < 10  # uncapped: tens of seconds on this machine
    assert [h.properties["name"] for h in hits] == [name]


# --- query tokens ------------------------------------------------------------------------------------


def test_query_tokens_are_the_first_unique_search_tokens() -> None:
    text = "晋江市恒安纸业 Co. 晋江市恒安纸业"
    assert query_tokens(text) == search_tokens(text).split()
    assert query_tokens(text, limit=3) == ["晋江", "江市", "市恒"]
    assert query_tokens("") == [] and query_tokens(None) == []
    rnd = random.Random(1)
    long_text = "".join(chr(rnd.randrange(0x4E00, 0x9FA5)) for _ in range(50_000))
    capped = query_tokens(long_text)
    assert len(capped) == MAX_QUERY_TOKENS
    assert capped == search_tokens(long_text).split()[:MAX_QUERY_TOKENS]


# --- Neo4j, without a server: the transaction timeout and the error mapping ----------------------------


def _neo4j_store(execute) -> tuple[Neo4jStore, list]:
    """A Neo4jStore whose session runs ``execute(work)``; records the transaction timeouts asked for."""
    asked: list = []

    class Session:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def execute_read(self, work):
            asked.append(("read", getattr(work, "timeout", None)))
            return execute(work)

        def execute_write(self, work):
            asked.append(("write", getattr(work, "timeout", None)))
            return execute(work)

    store = Neo4jStore.__new__(Neo4jStore)
    store.uri, store.database, store.batch_size, store.read_timeout_ms = "neo4j://test", None, 10, 2500
    store._driver = mock.Mock(session=lambda **kwargs: Session())
    store._server, store._restart = None, False
    return store, asked


def test_neo4j_reads_run_with_the_transaction_timeout_and_writes_without() -> None:
    store, asked = _neo4j_store(lambda work: [])
    store.read("RETURN 1")
    store.read("RETURN 1", timeout_ms=400)
    store.read("RETURN 1", timeout_ms=0)
    store.write("CREATE (:X)")
    assert asked == [("read", 2.5), ("read", 0.4), ("read", None), ("write", None)]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration", "terminated, timeout"),
        ("Neo.ClientError.Transaction.TransactionTimedOut", "has not completed within the specified timeout"),
        ("Neo.TransientError.Transaction.Terminated", "has not completed within the specified timeout"),
    ],
)
def test_neo4j_timeouts_become_query_timed_out(code: str, message: str) -> None:
    error = neo4j_errors.Neo4jError._hydrate_neo4j(code=code, message=message)

    def fail(work):
        raise error

    store, _ = _neo4j_store(fail)
    with pytest.raises(QueryTimedOut, match="2500 ms") as caught:
        store.read("MATCH (n) RETURN n")
    assert caught.value.limit_ms == 2500
    assert not error.is_retryable()  # the driver's managed transaction does not run it again


def test_other_neo4j_errors_stay_query_errors() -> None:
    error = neo4j_errors.Neo4jError._hydrate_neo4j(
        code="Neo.ClientError.Statement.SyntaxError", message="bad"
    )

    def fail(work):
        raise error

    store, _ = _neo4j_store(fail)
    with pytest.raises(QueryError) as caught:
        store.read("MATCH (n RETURN n")
    assert not isinstance(caught.value, QueryTimedOut)
