"""The GraphStore port: the only way the rest of the platform talks to a graph database.

Cypher handed to the port is written once, in the openCypher subset that FalkorDB and Neo4j both
accept. What differs between them (schema DDL, full-text search) is expressed as data or as a named
method here and translated by each adapter.

Every ``write`` is one atomic statement and may be retried by the adapter after a lost connection, so
write statements must be idempotent (``MERGE``, ``SET``), which the platform's writers are.
"""

from __future__ import annotations

import contextlib
import itertools
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from entgraph.errors import EntgraphError
from entgraph.graph.write_versions import WriteVersions

Row = dict[str, Any]
Params = Mapping[str, Any]


class FrozenParam(list):
    """A parameter value built once and never changed (the catalog's metric sources, say): an adapter
    may encode it once and reuse the encoding for every statement that passes it."""

    __slots__ = ()


class StoreError(EntgraphError):
    """The graph store could not do what was asked."""


class StoreUnavailable(StoreError):
    """The store cannot be reached or started."""


class StoreAuthError(StoreError):
    """The store refused our credentials."""

    exit_code = 2


class ConstraintViolation(StoreError):
    """A write would break a uniqueness constraint."""


class QueryError(StoreError):
    """The store rejected a statement (syntax, types, timeout)."""


class QueryTimedOut(QueryError):
    """The store stopped a statement that ran past its time limit; the store itself is free again.

    Reads get the store's read limit (``ENTGRAPH_GRAPH_QUERY_TIMEOUT_MS``) or the one passed to
    ``read``; writes are given none, so a write only times out if the store's own configuration caps it
    (FalkorDB ``TIMEOUT_DEFAULT`` / ``TIMEOUT_MAX``, Neo4j ``db.transaction.timeout``), and is then undone.
    """

    def __init__(self, message: str, limit_ms: int | None = None) -> None:
        super().__init__(message)
        self.limit_ms = limit_ms  # the limit we asked for, None when it was the store's own


@dataclass(frozen=True)
class UniqueKey:
    """``label.property`` identifies a node: creating a second one with the same value fails."""

    label: str
    property: str


@dataclass(frozen=True)
class PropertyIndex:
    """An exact-match / range index for lookups by ``label.property``."""

    label: str
    property: str


@dataclass(frozen=True)
class FullTextIndex:
    """A full-text index over ``label`` properties, tokenised for Chinese text."""

    label: str
    properties: tuple[str, ...]


@dataclass(frozen=True)
class GraphSchema:
    """Constraints and indexes as data; each adapter turns them into its own DDL."""

    unique: tuple[UniqueKey, ...] = ()
    indexes: tuple[PropertyIndex, ...] = ()
    fulltext: tuple[FullTextIndex, ...] = ()

    def merged(self, other: GraphSchema) -> GraphSchema:
        def union(a: tuple, b: tuple) -> tuple:
            return tuple(dict.fromkeys(a + b))

        return GraphSchema(
            union(self.unique, other.unique),
            union(self.indexes, other.indexes),
            union(self.fulltext, other.fulltext),
        )


@dataclass(frozen=True)
class StoreHealth:
    ok: bool
    backend: str
    location: str
    detail: str = ""
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FullTextHit:
    properties: dict[str, Any]
    score: float


@dataclass(frozen=True)
class QueryPlan:
    """Where a statement's plan reads nodes from, in each store's words made one: the labels it scans
    whole (``""``: every node), and the labels it starts from through an index. For the tests that
    guard query plans (no statement may start from every source record)."""

    scans: tuple[str, ...]
    index_reads: tuple[str, ...]
    text: str  # the store's own rendering, for messages


T = TypeVar("T")


def batched(rows: Iterable[T], size: int) -> Iterator[list[T]]:
    """Yield lists of at most ``size`` rows without materialising the whole input."""
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


class GraphStore(ABC):
    """A graph database behind the platform.

    Implementations: ``FalkorDBStore`` (embedded default, or a FalkorDB server) and ``Neo4jStore``
    (production). Both are safe to share between threads. Statements use the openCypher both accept;
    property values are what both store: numbers, strings, booleans and lists of one type (Neo4j
    refuses a mixed list as a property, and a map as a property at all).
    """

    backend: str
    batch_size: int
    read_timeout_ms: int | None = None  # the store's limit for a read statement; None: no limit
    # The machine's write-version table (graph/write_versions.py), which every write stamps so the API
    # may cache answers exactly; None for a store opened outside a deployment (tests, tools): no cache.
    versions: WriteVersions | None = None

    @abstractmethod
    def read(self, cypher: str, params: Params | None = None, *, timeout_ms: int | None = None) -> list[Row]:
        """Run a read-only statement; rows come back as ``{column: value}``.

        The store stops it after ``timeout_ms`` milliseconds (default: ``read_timeout_ms``; 0: no limit)
        and ``QueryTimedOut`` is raised.
        """

    def read_many(
        self, statements: Sequence[tuple[str, Params | None]], *, timeout_ms: int | None = None
    ) -> list[list[Row]]:
        """Run several read statements at once; each one's rows, in order. Adapters send them in one
        round trip where the store allows (FalkorDB: one pipeline; Neo4j: one read transaction)."""
        return [self.read(cypher, params, timeout_ms=timeout_ms) for cypher, params in statements]

    def _read_limit_ms(self, timeout_ms: int | None) -> int | None:
        """The limit a read runs with: the call's, else the store's; None for no limit."""
        limit = self.read_timeout_ms if timeout_ms is None else timeout_ms
        if limit is not None and limit < 0:
            raise ValueError(f"a read time limit must be 0 (none) or more milliseconds, not {limit}")
        return int(limit) if limit else None  # FalkorDB takes whole milliseconds

    @abstractmethod
    def write(self, cypher: str, params: Params | None = None) -> list[Row]:
        """Run one atomic, idempotent write statement, with no time limit of ours.

        Adapters run it inside :meth:`_writing`, so the write-version table knows of it."""

    def _writing(self) -> contextlib.AbstractContextManager[None]:
        """Around one write: its slots busy while it runs, stamped when it ends."""
        return self.versions.writing() if self.versions is not None else contextlib.nullcontext()

    def write_batches(
        self, cypher: str, rows: Iterable[Mapping[str, Any]], batch_size: int | None = None
    ) -> int:
        """Run ``cypher`` (which starts ``UNWIND $rows AS row``) over ``rows`` in batches.

        Rows are streamed: at most one batch is held in memory. Returns the number of rows sent.
        """
        if "$rows" not in cypher:
            raise QueryError("a batched write must read its rows from the $rows parameter")
        sent = 0
        for batch in batched(rows, batch_size or self.batch_size):
            self.write(cypher, {"rows": batch})
            sent += len(batch)
        return sent

    @abstractmethod
    def ensure_schema(self, schema: GraphSchema) -> None:
        """Create the constraints and indexes that do not exist yet (idempotent)."""

    @abstractmethod
    def plan(self, cypher: str, params: Params | None = None) -> QueryPlan:
        """The store's plan for a statement, without running it."""

    @abstractmethod
    def fulltext_search(self, label: str, text: str, limit: int = 20) -> list[FullTextHit]:
        """Search a full-text index created by ``ensure_schema``; best hits first."""

    @abstractmethod
    def health(self) -> StoreHealth:
        """Check the store answers; never raises for an unreachable store."""

    @abstractmethod
    def clear(self) -> None:
        """Delete every node, relationship and index of this graph (tests and demo resets)."""

    @abstractmethod
    def close(self) -> None:
        """Release connections; the store itself keeps running."""

    def __enter__(self) -> GraphStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
