"""FalkorDB adapter: the embedded default, or a FalkorDB server reached over TCP.

Spoken to with the native ``falkordb`` client (the RESP protocol), never through FalkorDB's Bolt
listener, which lost an explicitly committed write in our trials.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis
from falkordb import FalkorDB, Graph
from falkordb.edge import Edge
from falkordb.node import Node
from falkordb.path import Path as FalkorPath
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry

from entgraph.graph.embedded_server import EmbeddedServer
from entgraph.graph.port import (
    ConstraintViolation,
    FullTextHit,
    GraphSchema,
    GraphStore,
    Params,
    QueryError,
    Row,
    StoreAuthError,
    StoreHealth,
    StoreUnavailable,
)
from entgraph.graph.search_text import search_tokens

_CONSTRAINT_WAIT_S = 60.0


class FalkorDBStore(GraphStore):
    """One FalkorDB graph (a redis key) on the embedded server or on a FalkorDB server."""

    backend = "falkordb"

    def __init__(
        self,
        graph_name: str,
        *,
        server: EmbeddedServer | None = None,
        host: str = "127.0.0.1",
        port: int = 6379,
        password: str | None = None,
        batch_size: int = 2000,
    ) -> None:
        self.graph_name = graph_name
        self.batch_size = batch_size
        self._server = server
        self._host, self._port, self._password = host, port, password
        self._graph = self._connect()

    @property
    def location(self) -> str:
        if self._server:
            return f"embedded FalkorDB in {self._server.dir}"
        return f"FalkorDB at {self._host}:{self._port}"

    # -- connection -------------------------------------------------------------------------------

    def _connect(self) -> Graph:
        if self._server:
            info = self._server.ensure_running()
            kwargs = info.client_kwargs(self._server.password)
            # No client-side retries: a lost connection means the server died, and _run restarts it.
            retry = Retry(NoBackoff(), 0)
        else:
            kwargs = {"host": self._host, "port": self._port, "password": self._password}
            retry = Retry(ExponentialBackoff(cap=2.0, base=0.1), 3)
        self._db = self._call(
            lambda: FalkorDB(**kwargs, socket_connect_timeout=10, health_check_interval=30, retry=retry)
        )
        graph = self._db.select_graph(self.graph_name)
        self._call(self._db.connection.ping)
        return graph

    def _call(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except redis.AuthenticationError as exc:
            raise StoreAuthError(
                f"{self.location} refused the password; put the right one in "
                "ENTGRAPH_GRAPH=falkordb://:PASSWORD@HOST:PORT"
            ) from exc
        except redis.ResponseError as exc:
            message = str(exc)
            if "NOAUTH" in message or "WRONGPASS" in message or "invalid password" in message:
                raise StoreAuthError(
                    f"{self.location} refused the password; put the right one in "
                    "ENTGRAPH_GRAPH=falkordb://:PASSWORD@HOST:PORT"
                ) from exc
            raise
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            raise StoreUnavailable(f"cannot reach {self.location}: {exc}") from exc

    def _run(self, cypher: str, params: Params | None, read_only: bool) -> list[Row]:
        def once() -> list[Row]:
            query = self._graph.ro_query if read_only else self._graph.query
            try:
                result = query(cypher, dict(params) if params is not None else None)
            except redis.ResponseError as exc:
                if not (read_only and "empty key" in str(exc)):
                    raise
                # A read before the first write: GRAPH.QUERY creates the (empty) graph, RO_QUERY refuses.
                result = self._graph.query(cypher, dict(params) if params is not None else None)
            names = [column[1] for column in result.header]
            return [dict(zip(names, map(_plain, record), strict=True)) for record in result.result_set]

        try:
            return self._translated(once, cypher)
        except StoreUnavailable:
            if not self._server:
                raise
            # The embedded server died (killed, OOM, machine sleep): bring it back on the same data and
            # retry once. Writes are idempotent by contract, so a retry after an unseen commit is safe.
            self._graph = self._connect()
            return self._translated(once, cypher)

    def _translated(self, fn: Callable[[], Any], cypher: str) -> Any:
        try:
            return self._call(fn)
        except redis.ResponseError as exc:
            raise _translate(exc, cypher) from exc

    # -- GraphStore -------------------------------------------------------------------------------

    def read(self, cypher: str, params: Params | None = None) -> list[Row]:
        return self._run(cypher, params, read_only=True)

    def write(self, cypher: str, params: Params | None = None) -> list[Row]:
        return self._run(cypher, params, read_only=False)

    def ensure_schema(self, schema: GraphSchema) -> None:
        existing = self._existing_indexes()
        for idx in (*schema.indexes, *schema.unique):
            if (idx.label, idx.property, "RANGE") not in existing:
                self._ddl(f"CREATE INDEX FOR (n:{_name(idx.label)}) ON (n.{_name(idx.property)})")
        for ft in schema.fulltext:
            missing = [p for p in ft.properties if (ft.label, p, "FULLTEXT") not in existing]
            if missing:
                props = ", ".join(f"'{_name(p)}'" for p in ft.properties)
                # Properties hold search_tokens() output: index them as plain words, no stopwords.
                self._ddl(
                    f"CALL db.idx.fulltext.createNodeIndex({{label: '{_name(ft.label)}', "
                    f"stopwords: []}}, {props})"
                )
        constraints = {(c["label"], tuple(c["properties"])): c["status"] for c in self._constraints()}
        for key in schema.unique:
            if (key.label, (key.property,)) not in constraints:
                self._call(lambda key=key: self._graph.create_node_unique_constraint(key.label, key.property))
        self._await_constraints(schema)

    def fulltext_search(self, label: str, text: str, limit: int = 20) -> list[FullTextHit]:
        tokens = search_tokens(text).split()
        if not tokens:
            return []
        rows = self.read(
            f"CALL db.idx.fulltext.queryNodes('{_name(label)}', $text) YIELD node, score "
            "RETURN properties(node) AS props, score ORDER BY score DESC LIMIT $limit",
            {"text": " | ".join(tokens), "limit": limit},
        )
        return [FullTextHit(row["props"], float(row["score"])) for row in rows]

    def explain(self, cypher: str, params: Params | None = None) -> str:
        """FalkorDB's execution plan of a statement, as text (for tests that guard query plans)."""
        return str(self._translated(lambda: self._graph.explain(cypher, dict(params or {})), cypher))

    def health(self) -> StoreHealth:
        try:
            started = time.perf_counter()
            nodes = self.read("MATCH (n) RETURN count(n) AS nodes")[0]["nodes"]
            latency_ms = (time.perf_counter() - started) * 1000
            facts: dict[str, Any] = {"graph": self.graph_name, "nodes": nodes, "latency_ms": latency_ms}
            if self._server:
                status = self._server.status()
                facts |= {"pid": status.info.pid if status.info else None, "data_bytes": status.data_bytes}
            return StoreHealth(True, self.backend, self.location, "answering", facts)
        except (StoreUnavailable, StoreAuthError) as exc:
            return StoreHealth(False, self.backend, self.location, str(exc))

    def clear(self) -> None:
        try:
            self._call(self._graph.delete)
        except redis.ResponseError as exc:
            if "empty key" not in str(exc) and "Invalid graph operation" not in str(exc):
                raise
        self._graph = self._db.select_graph(self.graph_name)

    def close(self) -> None:
        self._db.connection.close()

    # -- helpers ----------------------------------------------------------------------------------

    def _ddl(self, statement: str) -> None:
        try:
            self._call(lambda: self._graph.query(statement))
        except redis.ResponseError as exc:
            if "already indexed" not in str(exc):
                raise _translate(exc, statement) from exc

    def _existing_indexes(self) -> set[tuple[str, str, str]]:
        try:
            rows = self.read(
                "CALL db.indexes() YIELD label, properties, types RETURN label, properties, types"
            )
        except QueryError:
            return set()
        found = set()
        for row in rows:
            for prop in row["properties"]:
                for kind in row["types"].get(prop, []):
                    found.add((row["label"], prop, kind))
        return found

    def _constraints(self) -> list[dict[str, Any]]:
        try:
            return self._call(self._graph.list_constraints)
        except redis.ResponseError:
            return []  # a graph that does not exist yet has none

    def _await_constraints(self, schema: GraphSchema) -> None:
        """FalkorDB builds constraints in the background; wait so a failed one is reported now."""
        wanted = {(k.label, (k.property,)) for k in schema.unique}
        deadline = time.monotonic() + _CONSTRAINT_WAIT_S
        while wanted:
            status = {(c["label"], tuple(c["properties"])): c["status"] for c in self._constraints()}
            failed = [w for w in wanted if status.get(w) == "FAILED"]
            if failed:
                label, props = failed[0]
                raise ConstraintViolation(
                    f"cannot make {label}.{props[0]} unique: the graph already holds duplicate values; "
                    "remove them and bootstrap the schema again"
                )
            if all(status.get(w) == "OPERATIONAL" for w in wanted):
                return
            if time.monotonic() > deadline:
                raise StoreUnavailable("constraints were still being built after 60s")
            time.sleep(0.05)


def _translate(exc: redis.ResponseError, cypher: str) -> Exception:
    message = str(exc)
    if "unique constraint violation" in message.lower():
        return ConstraintViolation(f"uniqueness constraint violated: {message}")
    return QueryError(f"FalkorDB rejected the statement ({message}): {cypher[:200]}")


def _plain(value: Any) -> Any:
    """Turn client objects into plain Python so callers never see adapter types."""
    if isinstance(value, Node | Edge):
        return dict(value.properties)
    if isinstance(value, FalkorPath):
        return [dict(n.properties) for n in value.nodes()]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _name(identifier: str) -> str:
    """Labels and property names are interpolated into DDL, so only plain identifiers pass."""
    if not identifier.replace("_", "").isalnum() or not identifier.isascii():
        raise QueryError(f"not a valid label or property name: {identifier!r}")
    return identifier
