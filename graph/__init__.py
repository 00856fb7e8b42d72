"""The graph: one ``GraphStore`` port with FalkorDB (embedded default) and Neo4j adapters.

All Cypher of the platform lives in this package, in modules named by subject (``record_queries``,
``upload_queries``, ``mention_queries``, ``canonical_queries``, ``task_queries``, ...), each holding
the reads and writes of its subject; other packages call them with plain data (dicts and lists) and
get plain data back. No domain types live here.
"""

from entgraph.graph.connect import embedded_server, open_store
from entgraph.graph.embedded_server import EmbeddedServer
from entgraph.graph.model import PLATFORM_SCHEMA
from entgraph.graph.port import (
    ConstraintViolation,
    FullTextHit,
    FullTextIndex,
    GraphSchema,
    GraphStore,
    PropertyIndex,
    QueryError,
    QueryTimedOut,
    StoreAuthError,
    StoreError,
    StoreHealth,
    StoreUnavailable,
    UniqueKey,
)

__all__ = [
    "PLATFORM_SCHEMA",
    "ConstraintViolation",
    "EmbeddedServer",
    "FullTextHit",
    "FullTextIndex",
    "GraphSchema",
    "GraphStore",
    "PropertyIndex",
    "QueryError",
    "QueryTimedOut",
    "StoreAuthError",
    "StoreError",
    "StoreHealth",
    "StoreUnavailable",
    "UniqueKey",
    "embedded_server",
    "open_store",
]
