"""Honours published on application: applications, their review, publication, withdrawal and restoration.

Graph shape (see docs/graph-model.md):
    (:HonourApplication {id, credit_code, title, awarded_by, recognised_on, statement, files (JSON),
                         applied_by, applied_at, due_at, status, reviewed_by, reviewed_at, review_note,
                         published_at, withdrawn_at, withdrawn_reason, withdrawn_records,
                         restored_by, restored_at, restored_over, change_reported_at,
                         change_reported_by, change_note, change_due_at, updated_at, updated_by,
                         update_note, history (JSON), revoked_at, revoked_by, revoke_note})
status: pending -> published | rejected; published -> withdrawn (a dishonesty record) -> published
(restored by the awarding department, over the records it saw); published or withdrawn -> revoked.
A reported change (change_due_at) stays until the department updates or revokes the honour.
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


def open_deadlines(store: GraphStore) -> list[dict[str, Any]]:
    """What awarding departments owe: each pending review (``kind`` review, due ``due_at``) and each
    reported change not yet settled (``kind`` change, due ``change_due_at``)."""
    rows = store.read(
        "MATCH (h:HonourApplication) WHERE h.status = 'pending' OR h.change_due_at IS NOT NULL "
        "RETURN h.awarded_by AS department, h.status AS status, h.due_at AS due_at, "
        "h.change_due_at AS change_due_at",
        {},
    )
    return [
        {
            "department": row["department"],
            "kind": "change" if row.get("change_due_at") else "review",
            "due": row.get("change_due_at") or row["due_at"],
        }
        for row in rows
    ]


def update(
    store: GraphStore,
    application_id: str,
    expected: str | Sequence[str],
    props: Mapping[str, Any],
    clear: Sequence[str] = (),
) -> dict[str, Any] | None:
    """Set ``props`` (and remove the ``clear`` properties) if the application's status is still
    ``expected`` (one, or one of several): a review, a withdrawal, a restoration, a change; None when it
    was not (decided meanwhile, or unknown)."""
    statuses = [expected] if isinstance(expected, str) else list(expected)
    removed = "".join(f" REMOVE h.{_ident(name)}" for name in clear)
    rows = store.write(
        "MATCH (h:HonourApplication {id: $id}) WHERE h.status IN $expected "
        f"SET h += $props{removed} RETURN h AS h",
        {"id": application_id, "expected": statuses, "props": dict(props)},
    )
    return dict(rows[0]["h"]) if rows else None


def _ident(name: str) -> str:
    if not name.isidentifier() or not name.isascii():
        raise ValueError(f"not a property name: {name!r}")
    return name


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
