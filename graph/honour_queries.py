"""Honours published on application: applications, their review, publication, withdrawal and restoration.

Graph shape (see docs/graph-model.md):
    (:HonourApplication {id, credit_code, title, awarded_by, recognised_on, statement, files (JSON),
                         applied_by, applied_at, due_at, status, reviewed_by, reviewed_at, review_note,
                         published_at, withdrawn_at, withdrawn_reason, withdrawn_records,
                         restored_by, restored_at, restored_over})
status: pending -> published | rejected; published -> withdrawn (a dishonesty record) -> published
(restored by the awarding department, over the records it saw).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from entgraph.graph.port import GraphSchema, GraphStore, PropertyIndex, UniqueKey

HONOUR_SCHEMA = GraphSchema(
    unique=(UniqueKey("HonourApplication", "id"),),
    indexes=(
        PropertyIndex("HonourApplication", "credit_code"),
        PropertyIndex("HonourApplication", "awarded_by"),
        PropertyIndex("HonourApplication", "status"),
    ),
)


def apply(store: GraphStore, application: Mapping[str, Any]) -> dict[str, Any]:
    rows = store.write(
        "MERGE (h:HonourApplication {id: $h.id}) ON CREATE SET h += $h, h.status = 'pending' RETURN h AS h",
        {"h": dict(application)},
    )
    return dict(rows[0]["h"])


def application(store: GraphStore, application_id: str) -> dict[str, Any] | None:
    rows = store.read("MATCH (h:HonourApplication {id: $id}) RETURN h AS h", {"id": application_id})
    return dict(rows[0]["h"]) if rows else None


def applications(
    store: GraphStore,
    *,
    credit_code: str | None = None,
    awarded_by: str | None = None,
    statuses: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Applications of one enterprise, or to one awarding department, or all; newest first."""
    where = ["($code IS NULL OR h.credit_code = $code)", "($by IS NULL OR h.awarded_by = $by)"]
    if statuses is not None:
        where.append("h.status IN $statuses")
    return [
        dict(row["h"])
        for row in store.read(
            f"MATCH (h:HonourApplication) WHERE {' AND '.join(where)} RETURN h AS h "
            "ORDER BY h.applied_at DESC, h.id",
            {"code": credit_code, "by": awarded_by, "statuses": list(statuses or [])},
        )
    ]


def update(
    store: GraphStore, application_id: str, expected: str, props: Mapping[str, Any]
) -> dict[str, Any] | None:
    """Set ``props`` if the application is still ``expected`` (a review, a withdrawal, a restoration);
    None when it was not (decided meanwhile, or unknown)."""
    rows = store.write(
        "MATCH (h:HonourApplication {id: $id, status: $expected}) SET h += $props RETURN h AS h",
        {"id": application_id, "expected": expected, "props": dict(props)},
    )
    return dict(rows[0]["h"]) if rows else None


def dishonesty_records(store: GraphStore, credit_code: str, words: Sequence[str]) -> list[dict[str, Any]]:
    """Live records linked to the enterprise of ``credit_code`` that record a credit event whose kind
    holds one of ``words`` (失信, 严重违法 ...)."""
    rows = store.read(
        "MATCH (e:Enterprise {credit_code: $code})<-[:ABOUT]-(r:SourceRecord) "
        "MATCH (r)-[:RECORDS_EVENT]->(c:CreditEvent) "
        "WHERE r.retired IS NULL AND any(w IN $words WHERE c.kind CONTAINS w) "
        "RETURN DISTINCT r.id AS record, r.dataset AS dataset, c.kind AS kind ORDER BY record",
        {"code": credit_code, "words": list(words)},
    )
    return [dict(row) for row in rows]
