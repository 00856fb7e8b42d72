"""Field checks in the graph: a town's on-site visits to enterprises, each its own node beside the records.

Graph shape (see docs/graph-model.md):
    (:FieldCheck {id, enterprise_id, credit_code, town, month, status_seen, employees_seen, note,
                  photo (JSON: name, path, bytes, sha256, type), lng, lat,
                  checked_by, checked_role, checked_at, device, via})-[:CHECKED]->(:Enterprise)

A check is never rewritten and never rewrites a department's record. ``enterprise_id`` is the enterprise
it was recorded on (the survivor at that moment); when that enterprise is later merged away, its checks
are read through the ``REDIRECTS_TO`` chain on the survivor's panorama. Reads go by ``enterprise_id``
rather than the edge, so a resolution rebuilt from scratch (which recreates the enterprises, under the
same ids) finds its checks again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from entgraph.graph.port import GraphSchema, GraphStore, PropertyIndex, UniqueKey
from entgraph.graph.visibility import EVERYTHING, Visibility

FIELD_CHECK_SCHEMA = GraphSchema(
    unique=(UniqueKey("FieldCheck", "id"),),
    indexes=(
        PropertyIndex("FieldCheck", "enterprise_id"),
        PropertyIndex("FieldCheck", "town"),
        PropertyIndex("FieldCheck", "month"),
    ),
)

# As enterprise_queries follows a merged-away id to its survivor: 10 hops is generous.
_MAX_REDIRECT_HOPS = 10


def record(store: GraphStore, check: Mapping[str, Any]) -> dict[str, Any] | None:
    """Keep ``check`` (its ``enterprise_id`` names the enterprise) and link it; a check id already kept
    is returned as it was (a retried submission). None when the enterprise is not in the graph."""
    rows = store.write(
        "MATCH (e:Enterprise {id: $c.enterprise_id}) "
        "MERGE (c:FieldCheck {id: $c.id}) ON CREATE SET c += $c "
        "WITH c, e WHERE c.enterprise_id = e.id "
        "MERGE (c)-[:CHECKED]->(e) RETURN properties(c) AS c",
        {"c": {k: v for k, v in check.items() if v is not None}},
    )
    return dict(rows[0]["c"]) if rows else None


def get(store: GraphStore, check_id: str) -> dict[str, Any] | None:
    rows = store.read("MATCH (c:FieldCheck {id: $id}) RETURN properties(c) AS c", {"id": check_id})
    return dict(rows[0]["c"]) if rows else None


def current_enterprise(store: GraphStore, check_id: str, sight: Visibility = EVERYTHING) -> str | None:
    """The live enterprise a check is now about (the end of its enterprise's redirects), if the caller
    (``sight``) may see it."""
    rows = store.read(
        "MATCH (c:FieldCheck {id: $id}) WITH c MATCH (x:Enterprise {id: c.enterprise_id}) "
        f"OPTIONAL MATCH (x)-[:REDIRECTS_TO*1..{_MAX_REDIRECT_HOPS}]->(s:Enterprise) "
        "WHERE NOT (s)-[:REDIRECTS_TO]->() "
        f"WITH coalesce(s, x) AS e {sight.keep_known('e', 'e')}"
        "RETURN e.id AS id",
        {"id": check_id, **sight.params()},
    )
    return rows[0]["id"] if rows else None


def for_enterprises(store: GraphStore, ids: Sequence[str], limit: int) -> dict[str, list[dict[str, Any]]]:
    """Each enterprise's checks, latest first, at most ``limit``: its own and those recorded on
    enterprises since merged into it."""
    rows = store.read(
        "UNWIND $ids AS id MATCH (e:Enterprise {id: id}) "
        f"OPTIONAL MATCH (m:Enterprise)-[:REDIRECTS_TO*1..{_MAX_REDIRECT_HOPS}]->(e) "
        "WITH id, [id] + collect(m.id) AS family UNWIND family AS one "
        "MATCH (c:FieldCheck {enterprise_id: one}) "
        "WITH id, c ORDER BY c.checked_at DESC, c.id DESC "
        "WITH id, collect(properties(c)) AS checks RETURN id, checks[0..$limit] AS checks",
        {"ids": list(ids), "limit": limit},
    )
    return {row["id"]: [dict(c) for c in row["checks"]] for row in rows}


def _town_month(sight: Visibility) -> str:
    """The checks of a town and month with the live enterprise each is now about, kept when the caller
    may see that enterprise."""
    return (
        "MATCH (c:FieldCheck {month: $month}) WHERE c.town = $town "
        # after a WITH: planned with the check first, FalkorDB finds the enterprise by its id index
        "WITH c MATCH (x:Enterprise {id: c.enterprise_id}) "
        f"OPTIONAL MATCH (x)-[:REDIRECTS_TO*1..{_MAX_REDIRECT_HOPS}]->(s:Enterprise) "
        "WHERE NOT (s)-[:REDIRECTS_TO]->() "
        f"WITH c, coalesce(s, x) AS e {sight.keep_known('e', 'c, e')}"
    )


def by_town(
    store: GraphStore,
    town: str,
    month: str,
    first: int,
    after: tuple[str, str] | None = None,
    sight: Visibility = EVERYTHING,
) -> dict[str, Any]:
    """A page of a town's checks in a month (``YYYY-MM``, China time), latest first, after the
    ``(checked_at, id)`` of the last one seen: ``{items, total, has_next}``; each item the check's
    properties with ``enterprise`` (the live id) and ``enterprise_name``."""
    params = {"town": town, "month": month, **sight.params()}
    at, last = after or (None, None)
    rows = store.read(
        _town_month(sight) + "WITH c, e WHERE $at IS NULL OR c.checked_at < $at "
        "OR (c.checked_at = $at AND c.id < $last) "
        "RETURN properties(c) AS c, e.id AS enterprise, e.name AS name "
        "ORDER BY c.checked_at DESC, c.id DESC LIMIT $limit",
        {**params, "at": at, "last": last, "limit": first + 1},
    )
    total = store.read(_town_month(sight) + "RETURN count(c) AS n", params)
    items = [{**row["c"], "enterprise": row["enterprise"], "enterprise_name": row["name"]} for row in rows]
    return {"items": items[:first], "total": int(total[0]["n"]), "has_next": len(items) > first}


def counts_by_town(store: GraphStore, month: str) -> list[dict[str, Any]]:
    """How many checks each town recorded in a month, per status seen: ``{town, status, checks}``."""
    rows = store.read(
        "MATCH (c:FieldCheck {month: $month}) "
        "RETURN c.town AS town, c.status_seen AS status, count(c) AS checks ORDER BY town, status",
        {"month": month},
    )
    return [dict(row) for row in rows]
