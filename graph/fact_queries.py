"""Fact nodes as one caller may see them: :func:`fact_props`.

A fact node (an honour, a mortgage, a credit event, a land parcel ...) is shared by every record that
states it, and each load writes its record's fields onto it (``graph/record_queries.py``: ``SET n +=
props``), so the node holds what records of datasets hidden from a caller wrote beside what the ones it
may see state. What it may see of the node is worked out from the records it may see
(:meth:`~entgraph.graph.visibility.Visibility.stated_props`), in the statement.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from entgraph.graph.port import GraphStore, QueryError, Row
from entgraph.graph.visibility import EVERYTHING, Visibility, also

# A fact's kind is its identity where its key carries it (``<kind>|<number>``: a credit event, an honour
# of a list keyed by kind and year): shown with the key, whichever record wrote it.
KIND_IN_KEY = "k = 'kind' AND n.key STARTS WITH (n.kind + '|')"

_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def fact_props(
    store: GraphStore,
    label: str,
    relation: str,
    keys: Sequence[str],
    sight: Visibility = EVERYTHING,
    identity: str = "",
) -> list[Row]:
    """``{key, props}``: the properties of each ``label`` node of ``keys`` as the caller (``sight``)
    may see them, from its live records of ``relation`` the caller may see (``identity``: a Cypher
    predicate on ``k`` naming properties that are the node's identity). A node no such record states
    has no row."""
    if not (_IDENT.match(label) and _IDENT.match(relation)):
        raise QueryError(f"not a label and relation: {label!r}, {relation!r}")
    rows = store.read(
        f"UNWIND $keys AS k MATCH (n:{label} {{key: k}})<-[:{relation}]-(r) "
        # r unlabelled and filtered after the WITH: only records point at fact nodes, and in the MATCH
        # FalkorDB's planner would start from a scan of every SourceRecord
        f"WITH k, n, r WHERE r.retired IS NULL{also(sight.sees_fact('r', relation))} "
        f"WITH k, n, collect(r) AS rs RETURN k AS key, {sight.stated_props('n', 'rs', identity)} AS props",
        {"keys": list(keys), **sight.params()},
    )
    return [{"key": row["key"], "props": as_props(row["props"])} for row in rows]


def as_props(value: Any) -> dict[str, Any]:
    """A ``stated_props`` column as a dict (a map, or a list of ``[name, value]`` pairs)."""
    return dict(value)
