"""Neo4j adapter: the production store, through the official ``neo4j`` driver.

Reads and writes run as managed transactions (``execute_read`` / ``execute_write``), which the driver
retries on transient errors and cluster leader changes; our statements are idempotent so that is safe.

Time limits: a read transaction is given the read limit as its transaction timeout
(``unit_of_work(timeout=...)``); Neo4j terminates it past that, rolls it back and answers
``Neo.ClientError.Transaction.TransactionTimedOut[ClientConfiguration]`` (a client error, so the driver
does not retry it), raised as ``QueryTimedOut``. Writes get no timeout of ours, only the server's
``db.transaction.timeout`` (unlimited unless configured). Neo4j 4.2-5.2 ignore a timeout above
``db.transaction.timeout`` and use that instead.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import neo4j
from neo4j import GraphDatabase
from neo4j import exceptions as neo4j_errors

from entgraph.graph.port import (
    ConstraintViolation,
    FullTextHit,
    GraphSchema,
    GraphStore,
    Params,
    QueryError,
    QueryPlan,
    QueryTimedOut,
    Row,
    StoreAuthError,
    StoreHealth,
    StoreUnavailable,
)
from entgraph.graph.search_text import query_tokens
from entgraph.graph.write_versions import touching_everything

if TYPE_CHECKING:
    from entgraph.graph.neo4j_server import EmbeddedNeo4j

# The driver logs connection failures as warnings; we raise them as one clear error instead, so keep
# Python's last-resort handler from printing them a second time.
logging.getLogger("neo4j").addHandler(logging.NullHandler())


class Neo4jStore(GraphStore):
    backend = "neo4j"

    def __init__(
        self,
        uri: str,
        user: str,
        password: str,
        database: str | None = None,
        batch_size: int = 2000,
        connect_timeout: float = 10.0,
        read_timeout_ms: int | None = None,
        server: EmbeddedNeo4j | None = None,
        restart: bool = True,
    ) -> None:
        self.uri = uri
        # The embedded Neo4j entgraph runs (None for a server run by others): restarted once after a
        # crash when ``restart``, as the embedded FalkorDB is, never after an operator's stop.
        self._server = server
        self._restart = restart
        self.database = database
        self.batch_size = batch_size
        self.read_timeout_ms = read_timeout_ms or None
        try:
            self._driver = GraphDatabase.driver(
                uri,
                auth=(user, password),
                connection_timeout=connect_timeout,
                # a cluster's leader change takes seconds; our own embedded server that died will not
                # come back by waiting, we restart it (see _run)
                max_transaction_retry_time=2 if server is not None else 30,
            )
            self._driver.verify_connectivity()
        except neo4j_errors.AuthError as exc:
            raise StoreAuthError(
                f"Neo4j at {uri} refused user {user!r}; check NEO4J_USER and NEO4J_PASSWORD"
            ) from exc
        except (neo4j_errors.ServiceUnavailable, OSError) as exc:
            raise StoreUnavailable(
                f"cannot reach Neo4j at {uri}; check NEO4J_URI and that the server is running ({exc})"
            ) from exc
        except neo4j_errors.ConfigurationError as exc:
            raise StoreUnavailable(f"NEO4J_URI {uri!r} is not a Neo4j address: {exc}") from exc

    @property
    def location(self) -> str:
        where = (
            f"embedded Neo4j at {self.uri}, data in {self._server.dir}"
            if self._server
            else f"Neo4j at {self.uri}"
        )
        return where + (f" (database {self.database})" if self.database else "")

    def _session(self, mode: str) -> neo4j.Session:
        return self._driver.session(database=self.database, default_access_mode=mode)

    def _run(self, cypher: str, params: Params | None, mode: str, limit_ms: int | None = None) -> list[Row]:
        try:
            return self._run_once(cypher, params, mode, limit_ms)
        except StoreUnavailable:
            if self._server is None or not self._restart:
                raise
            # Our own server died: start it again (not if the operator stopped it) and retry once;
            # every statement of ours is idempotent, so a write that did land is harmless to repeat.
            self._server.ensure_running(unless_stopped=True)
            return self._run_once(cypher, params, mode, limit_ms)

    def _run_once(
        self, cypher: str, params: Params | None, mode: str, limit_ms: int | None = None
    ) -> list[Row]:
        # None: the server's default (db.transaction.timeout); the driver takes seconds.
        @neo4j.unit_of_work(timeout=limit_ms / 1000 if limit_ms else None)
        def work(tx: neo4j.ManagedTransaction) -> list[Row]:
            return [record.data() for record in tx.run(cypher, dict(params or {}))]

        try:
            with self._session(mode) as session:
                if mode == neo4j.READ_ACCESS:
                    return session.execute_read(work)
                return session.execute_write(work)
        except neo4j_errors.ConstraintError as exc:
            raise ConstraintViolation(f"uniqueness constraint violated: {exc.message}") from exc
        except neo4j_errors.AuthError as exc:
            raise StoreAuthError(f"{self.location} refused our credentials: {exc.message}") from exc
        except (neo4j_errors.ServiceUnavailable, neo4j_errors.SessionExpired) as exc:
            raise StoreUnavailable(f"cannot reach {self.location}: {exc}") from exc
        except neo4j_errors.Neo4jError as exc:
            if _timed_out(exc):
                limit = f"{limit_ms} ms" if limit_ms else "the server's db.transaction.timeout"
                raise QueryTimedOut(
                    f"Neo4j stopped a statement that ran past {limit}: {cypher[:200]}", limit_ms
                ) from exc
            raise QueryError(f"Neo4j rejected the statement ({exc.message}): {cypher[:200]}") from exc

    def read(self, cypher: str, params: Params | None = None, *, timeout_ms: int | None = None) -> list[Row]:
        return self._run(cypher, params, neo4j.READ_ACCESS, self._read_limit_ms(timeout_ms))

    def read_many(
        self, statements: Sequence[tuple[str, Params | None]], *, timeout_ms: int | None = None
    ) -> list[list[Row]]:
        """The statements in one read transaction (one session, one consistent view). Errors fall back
        to reading them one by one, which raises them as :meth:`read` would."""
        limit_ms = self._read_limit_ms(timeout_ms)

        @neo4j.unit_of_work(timeout=limit_ms / 1000 if limit_ms else None)
        def work(tx: neo4j.ManagedTransaction) -> list[list[Row]]:
            return [[r.data() for r in tx.run(cypher, dict(params or {}))] for cypher, params in statements]

        try:
            with self._session(neo4j.READ_ACCESS) as session:
                return session.execute_read(work)
        except (neo4j_errors.Neo4jError, neo4j_errors.DriverError):
            return super().read_many(statements, timeout_ms=timeout_ms)

    def write(self, cypher: str, params: Params | None = None) -> list[Row]:
        with self._writing():
            return self._run(cypher, params, neo4j.WRITE_ACCESS)

    def ensure_schema(self, schema: GraphSchema) -> None:
        """Create what ``schema`` asks for, idempotently, and keep a ledger of it (``SchemaItem`` nodes:
        name, definition, version, when): an item whose definition changed since it was applied (a
        full-text index over other properties, say) is dropped and created anew as its next version,
        which ``IF NOT EXISTS`` alone would never do."""
        ledger = {
            row["name"]: row["definition"]
            for row in self.read("MATCH (s:SchemaItem) RETURN s.name AS name, s.definition AS definition")
        }
        changed = []
        for name, kind, create in _schema_statements(schema):
            if name in ledger and ledger[name] != create:
                self._ddl(f"DROP {kind} {name} IF EXISTS")
            self._ddl(create)
            if ledger.get(name) != create:
                changed.append({"name": name, "definition": create})
        self._ddl("CALL db.awaitIndexes(300)")
        if changed:  # recorded once built: a crash before this reapplies them, harmlessly
            self.write(
                "UNWIND $rows AS row MERGE (s:SchemaItem {name: row.name}) "
                "SET s.definition = row.definition, s.version = coalesce(s.version, 0) + 1, "
                "s.applied_at = datetime().epochMillis",
                {"rows": changed},
            )

    def applied_schema(self) -> list[dict[str, Any]]:
        """The schema ledger: ``{name, definition, version, applied_at}`` of each item, by name."""
        return self.read(
            "MATCH (s:SchemaItem) RETURN s.name AS name, s.definition AS definition, s.version AS version, "
            "s.applied_at AS applied_at ORDER BY name"
        )

    def _ddl(self, statement: str) -> None:
        # Schema statements cannot run inside an explicit transaction function.
        try:
            with self._session(neo4j.WRITE_ACCESS) as session:
                session.run(statement).consume()
        except neo4j_errors.ConstraintError as exc:
            raise ConstraintViolation(
                f"cannot create the constraint, the graph already holds duplicates: {exc.message}"
            ) from exc
        except neo4j_errors.Neo4jError as exc:
            if "Constraint" in (exc.code or "") and "Failed" in (exc.code or ""):
                # ConstraintCreationFailed / ConstraintValidationFailed: the data breaks the new rule
                raise ConstraintViolation(
                    f"cannot create the constraint, the graph already holds duplicates: {exc.message}"
                ) from exc
            raise QueryError(f"Neo4j rejected schema statement ({exc.message}): {statement}") from exc

    def fulltext_search(self, label: str, text: str, limit: int = 20) -> list[FullTextHit]:
        tokens = query_tokens(text)
        if not tokens:
            return []
        try:
            rows = self.read(
                "CALL db.index.fulltext.queryNodes($index, $text) YIELD node, score "
                "RETURN properties(node) AS props, score ORDER BY score DESC LIMIT $limit",
                {"index": _fulltext_index(label), "text": " OR ".join(tokens), "limit": limit},
            )
        except QueryError as exc:
            if "no such fulltext schema index" in str(exc):
                return []  # as FalkorDB answers a graph without the index: nothing found by it
            raise
        return [FullTextHit(row["props"], float(row["score"])) for row in rows]

    def plan(self, cypher: str, params: Params | None = None) -> QueryPlan:
        try:
            with self._session(neo4j.READ_ACCESS) as session:
                tree = session.run("EXPLAIN " + cypher, dict(params or {})).consume().plan or {}
        except neo4j_errors.Neo4jError as exc:
            raise QueryError(f"Neo4j could not plan the statement ({exc.message}): {cypher[:200]}") from exc
        scans: list[str] = []
        index: list[str] = []
        lines: list[str] = []

        def walk(op: dict[str, Any], depth: int) -> None:
            kind = str(op.get("operatorType", "")).split("@")[0]
            details = str((op.get("args") or {}).get("Details", ""))
            lines.append(f"{'  ' * depth}{kind} | {details}")
            label = _LABEL.search(details)
            if kind == "AllNodesScan":
                scans.append("")
            elif kind == "NodeByLabelScan":
                scans.append(label.group(1) if label else "")
            elif "Index" in kind and label:  # NodeIndexSeek, NodeUniqueIndexSeek, NodeIndexScan ...
                index.append(label.group(1))
            for child in op.get("children") or []:
                walk(child, depth + 1)

        walk(tree, 0)
        return QueryPlan(tuple(scans), tuple(index), "\n".join(lines))

    def health(self) -> StoreHealth:
        try:
            started = time.perf_counter()
            nodes = self.read("MATCH (n) RETURN count(n) AS nodes")[0]["nodes"]
            facts: dict[str, Any] = {
                "nodes": nodes,
                "latency_ms": (time.perf_counter() - started) * 1000,
                "database": self.database or "(default)",
            }
            if self._server is not None:  # ours: which process, and how much it keeps on disk
                status = self._server.status()
                facts |= {"pid": status.info.pid if status.info else None, "data_bytes": status.data_bytes}
            return StoreHealth(True, self.backend, self.location, "answering", facts)
        except (StoreUnavailable, StoreAuthError, QueryTimedOut) as exc:
            return StoreHealth(False, self.backend, self.location, str(exc))

    def clear(self) -> None:
        # Batched so a large graph does not need one huge transaction.
        with touching_everything():
            self._delete_all()
        for row in self.read("SHOW CONSTRAINTS YIELD name RETURN name"):
            self._ddl(f"DROP CONSTRAINT {row['name']} IF EXISTS")
        for row in self.read("SHOW INDEXES YIELD name, type WHERE type <> 'LOOKUP' RETURN name"):
            self._ddl(f"DROP INDEX {row['name']} IF EXISTS")

    def _delete_all(self) -> None:
        while self.write("MATCH (n) WITH n LIMIT 10000 DETACH DELETE n RETURN count(*) AS c")[0]["c"]:
            pass

    def close(self) -> None:
        self._driver.close()
        if self.versions is not None:
            self.versions.close()


_LABEL = re.compile(r"\w+:(\w+)")


def _schema_statements(schema: GraphSchema) -> list[tuple[str, str, str]]:
    """``(name, CONSTRAINT | INDEX, CREATE statement)`` of every item of ``schema``."""
    items = []
    for key in schema.unique:
        name = f"{key.label}_{key.property}_unique"
        items.append((name, "CONSTRAINT", f"CREATE CONSTRAINT {name} IF NOT EXISTS "
                      f"FOR (n:{key.label}) REQUIRE n.{key.property} IS UNIQUE"))  # fmt: skip
    for idx in schema.indexes:
        name = f"{idx.label}_{idx.property}"
        items.append(
            (name, "INDEX", f"CREATE INDEX {name} IF NOT EXISTS FOR (n:{idx.label}) ON (n.{idx.property})")
        )
    for ft in schema.fulltext:
        name = _fulltext_index(ft.label)
        props = ", ".join(f"n.{p}" for p in ft.properties)
        # Properties hold search_tokens() output, so a whitespace analyzer matches FalkorDB exactly.
        analyzer = "OPTIONS {indexConfig: {`fulltext.analyzer`: 'whitespace'}}"
        create = f"CREATE FULLTEXT INDEX {name} IF NOT EXISTS FOR (n:{ft.label}) ON EACH [{props}] {analyzer}"
        items.append((name, "INDEX", create))
    return items


def _fulltext_index(label: str) -> str:
    return f"{label}_fulltext"


def _timed_out(exc: neo4j_errors.Neo4jError) -> bool:
    """Terminated for time: ``Neo.ClientError.Transaction.TransactionTimedOut`` (server limit) or
    ``...TransactionTimedOutClientConfiguration`` (ours, Neo4j 5); before that, ``Terminated`` with a
    message naming the timeout."""
    code = exc.code or ""
    if "TransactionTimedOut" in code:
        return True
    return code.endswith("Transaction.Terminated") and "timeout" in (exc.message or "").lower()
