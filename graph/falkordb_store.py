"""FalkorDB adapter: the embedded default, or a FalkorDB server reached over TCP.

Spoken to with the native ``falkordb`` client (the RESP protocol), never through FalkorDB's Bolt
listener, which lost an explicitly committed write in our trials.

Time limits: every read is sent with the query ``TIMEOUT`` argument (``read_timeout_ms``, or the one
passed to ``read``); the server stops it between records, frees its thread and answers "Query timed
out", raised as ``QueryTimedOut``. Writes are sent without one. While the server's ``TIMEOUT_DEFAULT``
and ``TIMEOUT_MAX`` are 0 (the default, and what the embedded server runs with) FalkorDB ignores the
argument on a statement that writes anyway, so a load is never cut by a limit meant for reads. A
server whose ``TIMEOUT_MAX`` is set caps (and undoes) writes too, and refuses a larger read TIMEOUT:
reads are then sent with at most its ``TIMEOUT_MAX``.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis
from falkordb import FalkorDB, Graph
from falkordb.edge import Edge
from falkordb.node import Node
from falkordb.path import Path as FalkorPath
from falkordb.query_result import QueryResult
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry

from entgraph.graph.embedded_server import EmbeddedServer
from entgraph.graph.falkordb_params import header
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

_CONSTRAINT_WAIT_S = 60.0
_SCAN = re.compile(r"(?:Node By Label Scan|All Node Scan) \| \(([^)]*)\)")
_INDEX_READ = re.compile(r"Node By Index Scan \| \(([^)]*)\)")


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
        read_timeout_ms: int | None = None,
        start: bool = True,
        restart: bool | None = None,
    ) -> None:
        """``start``: start the embedded ``server`` if it is not running (else it must be).
        ``restart`` (default: ``start``): restart it if it crashes while this store is open. A server
        the operator stopped (``entgraph store stop``) is never started again by an open store."""
        self.graph_name = graph_name
        self.batch_size = batch_size
        self.read_timeout_ms = read_timeout_ms or None
        self._timeout_max: int | None = None  # the server's TIMEOUT_MAX, once it refused a larger TIMEOUT
        self._server = server
        self._host, self._port, self._password = host, port, password
        self._restart = start if restart is None else restart
        self._graph = self._connect(start)

    @property
    def location(self) -> str:
        if self._server:
            return f"embedded FalkorDB in {self._server.dir}"
        return f"FalkorDB at {self._host}:{self._port}"

    # -- connection -------------------------------------------------------------------------------

    def _connect(self, start: bool = True, unless_stopped: bool = False) -> Graph:
        if self._server:
            if start:
                info = self._server.ensure_running(unless_stopped=unless_stopped)
            else:
                info = self._server.running()
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

    def _run(
        self, cypher: str, params: Params | None, read_only: bool, limit_ms: int | None = None
    ) -> list[Row]:
        # the parameters written into the statement once, not at each retry (falkordb_params.py)
        statement = header(params) + cypher if params else cypher

        def once() -> list[Row]:
            timeout = self._capped(limit_ms)
            query = self._graph.ro_query if read_only else self._graph.query
            try:
                try:
                    result = query(statement, None, timeout=timeout)
                except redis.ResponseError as exc:
                    if not (read_only and "empty key" in str(exc)):
                        raise
                    # A read before the first write: GRAPH.QUERY creates the (empty) graph, RO_QUERY refuses.
                    result = self._graph.query(statement, None, timeout=timeout)
            except redis.ResponseError as exc:
                if timeout is None or "TIMEOUT_MAX" not in str(exc) or self._timeout_max is not None:
                    raise
                # The server caps every query (TIMEOUT_MAX) below our limit: ask within its cap.
                self._timeout_max = self._server_timeout_max()
                return once()
            return self._rows(result)

        try:
            return self._translated(once, cypher, limit_ms)
        except StoreUnavailable:
            if not self._server:
                raise
            # The embedded server died (killed, OOM, machine sleep) or was stopped: reconnect once to
            # a server running again, restarting a crashed one on the same data if this store may, never
            # one the operator stopped. Writes are idempotent by contract, so a retry after an unseen
            # commit is safe.
            self._graph = self._connect(start=self._restart, unless_stopped=True)
            return self._translated(once, cypher, limit_ms)

    def _capped(self, limit_ms: int | None) -> int | None:
        """Our limit within the server's TIMEOUT_MAX once it refused more (0: its cap is unknown)."""
        if limit_ms is None or self._timeout_max is None:
            return limit_ms
        return min(limit_ms, self._timeout_max) if self._timeout_max > 0 else None

    def _server_timeout_max(self) -> int:
        try:
            reply = self._call(
                lambda: self._db.connection.execute_command("GRAPH.CONFIG", "GET", "TIMEOUT_MAX")
            )
            return int(reply[1])
        except (redis.ResponseError, IndexError, TypeError, ValueError):
            return 0  # unknown: send no TIMEOUT, the server's own TIMEOUT_DEFAULT / TIMEOUT_MAX apply

    def _translated(self, fn: Callable[[], Any], cypher: str, limit_ms: int | None = None) -> Any:
        try:
            return self._call(fn)
        except redis.ResponseError as exc:
            raise _translate(exc, cypher, self._capped(limit_ms)) from exc

    # -- GraphStore -------------------------------------------------------------------------------

    def read(self, cypher: str, params: Params | None = None, *, timeout_ms: int | None = None) -> list[Row]:
        return self._run(cypher, params, read_only=True, limit_ms=self._read_limit_ms(timeout_ms))

    def read_many(
        self, statements: Sequence[tuple[str, Params | None]], *, timeout_ms: int | None = None
    ) -> list[list[Row]]:
        """The statements in one Redis pipeline: one round trip, run one after the other by the server.
        Any error (a statement refused, a server restarting) falls back to reading them one by one,
        which raises it as :meth:`read` would."""
        limit = self._capped(self._read_limit_ms(timeout_ms))
        pipe = self._db.connection.pipeline(transaction=False)
        for cypher, params in statements:
            timeout = ["timeout", limit] if limit else []
            text = header(params) + cypher if params else cypher
            pipe.execute_command("GRAPH.RO_QUERY", self.graph_name, text, "--compact", *timeout)
        try:
            replies = pipe.execute(raise_on_error=False)
        except (redis.RedisError, OSError):
            replies = None
        if replies is None or any(isinstance(reply, Exception) for reply in replies):
            return super().read_many(statements, timeout_ms=timeout_ms)
        return [self._rows(QueryResult(self._graph, reply)) for reply in replies]

    @staticmethod
    def _rows(result: QueryResult) -> list[Row]:
        names = [column[1] for column in result.header]
        return [dict(zip(names, map(_plain, record), strict=True)) for record in result.result_set]

    def write(self, cypher: str, params: Params | None = None) -> list[Row]:
        with self._writing():
            return self._run(cypher, params, read_only=False)

    def ensure_schema(self, schema: GraphSchema) -> None:
        existing = self._existing_indexes()
        changed = False
        for idx in (*schema.indexes, *schema.unique):
            if (idx.label, idx.property, "RANGE") not in existing:
                changed = True
                self._ddl(f"CREATE INDEX FOR (n:{_name(idx.label)}) ON (n.{_name(idx.property)})")
        for ft in schema.fulltext:
            missing = [p for p in ft.properties if (ft.label, p, "FULLTEXT") not in existing]
            if missing:
                changed = True
                props = ", ".join(f"'{_name(p)}'" for p in ft.properties)
                # Properties hold search_tokens() output: index them as plain words, no stopwords.
                self._ddl(
                    f"CALL db.idx.fulltext.createNodeIndex({{label: '{_name(ft.label)}', "
                    f"stopwords: []}}, {props})"
                )
        constraints = {(c["label"], tuple(c["properties"])): c["status"] for c in self._constraints()}
        for key in schema.unique:
            if (key.label, (key.property,)) not in constraints:
                changed = True
                self._call(lambda key=key: self._graph.create_node_unique_constraint(key.label, key.property))
        self._await_constraints(schema)
        if changed and self._server:
            # An index created in the AOF's log tail is only built once a restart has replayed the whole
            # tail, so every statement after it would replay without it (minutes for a few MB): put it
            # in the RDB base now (a background rewrite; the fork is the snapshot). Only an optimisation:
            # if it fails, the next automatic rewrite does it.
            with contextlib.suppress(redis.RedisError, StoreUnavailable):
                self._server.compact()

    def fulltext_search(self, label: str, text: str, limit: int = 20) -> list[FullTextHit]:
        tokens = query_tokens(text)
        if not tokens:
            return []
        rows = self.read(
            f"CALL db.idx.fulltext.queryNodes('{_name(label)}', $text) YIELD node, score "
            "RETURN properties(node) AS props, score ORDER BY score DESC LIMIT $limit",
            {"text": " | ".join(tokens), "limit": limit},
        )
        return [FullTextHit(row["props"], float(row["score"])) for row in rows]

    def explain(self, cypher: str, params: Params | None = None) -> str:
        """FalkorDB's execution plan of a statement, as text."""
        return str(self._translated(lambda: self._graph.explain(cypher, dict(params or {})), cypher))

    def plan(self, cypher: str, params: Params | None = None) -> QueryPlan:
        text = self.explain(cypher, params)
        # "Node By Label Scan | (r:SourceRecord)", "All Node Scan | (n)", "Node By Index Scan | (r:X)"
        scans = [m.group(1).partition(":")[2] for m in _SCAN.finditer(text)]
        index = [m.group(1).partition(":")[2] for m in _INDEX_READ.finditer(text)]
        return QueryPlan(tuple(scans), tuple(index), text)

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
        except (StoreUnavailable, StoreAuthError, QueryTimedOut) as exc:
            return StoreHealth(False, self.backend, self.location, str(exc))

    def clear(self) -> None:
        try:
            with touching_everything(), self._writing():
                self._call(self._graph.delete)
        except redis.ResponseError as exc:
            if "empty key" not in str(exc) and "Invalid graph operation" not in str(exc):
                raise
        self._graph = self._db.select_graph(self.graph_name)

    def close(self) -> None:
        self._db.connection.close()
        if self.versions is not None:
            self.versions.close()

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


def _translate(exc: redis.ResponseError, cypher: str, limit_ms: int | None = None) -> Exception:
    message = str(exc)
    if "unique constraint violation" in message.lower():
        return ConstraintViolation(f"uniqueness constraint violated: {message}")
    if "query timed out" in message.lower():
        limit = (
            f"{limit_ms} ms" if limit_ms else "the server's own time limit (TIMEOUT_DEFAULT / TIMEOUT_MAX)"
        )
        return QueryTimedOut(f"FalkorDB stopped a statement that ran past {limit}: {cypher[:200]}", limit_ms)
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
