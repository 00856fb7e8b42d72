"""What a tour of the graph shows first (the demo's examples): real ids and towns, never placeholders."""

from __future__ import annotations

from typing import Any

from entgraph.graph.port import GraphStore


def most_documented_enterprise(store: GraphStore) -> tuple[dict[str, Any], int] | None:
    """The active enterprise with the most department records, and how many."""
    rows = store.read(
        "MATCH (r:SourceRecord)-[:ABOUT]->(e:Enterprise) WHERE e.merged_into IS NULL "
        "WITH e, count(r) AS n ORDER BY n DESC, e.id LIMIT 1 RETURN e AS e, n AS n"
    )
    return (dict(rows[0]["e"]), int(rows[0]["n"])) if rows else None


def metered_enterprise(store: GraphStore) -> str | None:
    """An active enterprise with a meter attached (the one with the most meters)."""
    rows = store.read(
        "MATCH (:Meter)-[:METERS]->(e:Enterprise) WHERE e.merged_into IS NULL "
        "WITH e, count(*) AS n ORDER BY n DESC, e.id LIMIT 1 RETURN e.id AS id"
    )
    return rows[0]["id"] if rows else None


def busiest_warning_town(store: GraphStore) -> str | None:
    """The town with the most open warnings."""
    rows = store.read(
        "MATCH (w:Warning) WHERE w.status = 'open' AND w.town IS NOT NULL "
        "WITH w.town AS town, count(*) AS n ORDER BY n DESC, town LIMIT 1 RETURN town"
    )
    return rows[0]["town"] if rows else None
