"""Records as resolution sees them: which wait to be resolved, and their ABOUT links to enterprises.

A record is pending while it carries ``to_resolve = 1`` (set by the loader when it is new or changed,
and by steward operations; removed when its links are written). Links are (record, party) →
enterprise, with the method, probability and explanation that made them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from entgraph.graph.port import GraphStore, batched


def pending_records(store: GraphStore, dataset: str, page: int = 5_000) -> Iterator[dict[str, Any]]:
    """Active records of ``dataset`` not yet resolved in their current content, in id order.

    The pending ids come first (one indexed query, ids only), then the records in pages by id. Paging
    with ``r.id > $after`` instead made every page scan the dataset's pending records again (FalkorDB
    intersects the id range with the index), so a dataset cost pages x records: quadratic in its size.
    """
    ids = [
        row["id"]
        for row in store.read(
            "MATCH (r:SourceRecord {to_resolve: 1}) WHERE r.dataset = $dataset AND r.retired IS NULL "
            "RETURN r.id AS id ORDER BY id",
            {"dataset": dataset},
        )
    ]
    for chunk in batched(ids, page):
        rows = store.read(
            "UNWIND $ids AS id MATCH (r:SourceRecord {id: id}) "
            "WHERE r.to_resolve = 1 AND r.retired IS NULL RETURN r AS r",
            {"ids": chunk},
        )
        # still pending (a record may have been resolved meanwhile), in id order
        yield from sorted((dict(row["r"]) for row in rows), key=lambda r: r["id"])


def records_by_id(store: GraphStore, ids: Sequence[str]) -> list[dict[str, Any]]:
    rows = store.read("UNWIND $ids AS id MATCH (r:SourceRecord {id: id}) RETURN r AS r", {"ids": list(ids)})
    return [dict(row["r"]) for row in rows]


def anything_pending(store: GraphStore) -> bool:
    """Whether any active record waits to be resolved (one indexed lookup)."""
    rows = store.read(
        "MATCH (r:SourceRecord {to_resolve: 1}) WHERE r.retired IS NULL RETURN r.id AS id LIMIT 1", {}
    )
    return bool(rows)


def describe_records(store: GraphStore, record_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Records with the explanation of each of their links (for evaluation reports)."""
    rows = store.read(
        "UNWIND $ids AS id MATCH (r:SourceRecord {id: id}) OPTIONAL MATCH (r)-[a:ABOUT]->() "
        "RETURN r AS r, collect([a.party, a.explanation]) AS links",
        {"ids": list(record_ids)},
    )
    return [{"r": dict(row["r"]), "links": row["links"]} for row in rows]


def mark_resolved(store: GraphStore, record_ids: Iterable[str]) -> None:
    store.write_batches(
        "UNWIND $rows AS id MATCH (r:SourceRecord {id: id}) "
        "SET r.resolved_hash = r.content_hash REMOVE r.to_resolve",
        record_ids,
    )


def mark_pending(store: GraphStore, record_ids: Iterable[str]) -> None:
    store.write_batches("UNWIND $rows AS id MATCH (r:SourceRecord {id: id}) SET r.to_resolve = 1", record_ids)


def linked_mentions(store: GraphStore, enterprise_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Records linked to the given enterprises, with the party of each link."""
    rows = store.read(
        "UNWIND $ids AS id MATCH (r:SourceRecord)-[a:ABOUT]->(e:Enterprise {id: id}) "
        "RETURN e.id AS enterprise_id, a.party AS party, a.method AS method, r AS r",
        {"ids": list(enterprise_ids)},
    )
    return [{**row, "r": dict(row["r"])} for row in rows]


def record_links(store: GraphStore, record_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The links of the given records: one row per (record, party)."""
    return store.read(
        "UNWIND $ids AS id MATCH (r:SourceRecord {id: id})-[a:ABOUT]->(e:Enterprise) "
        "RETURN r.id AS record_id, a.party AS party, e.id AS enterprise_id, a.method AS method",
        {"ids": list(record_ids)},
    )


def records_of_enterprises(store: GraphStore, enterprise_ids: Sequence[str]) -> list[str]:
    rows = store.read(
        "UNWIND $ids AS id MATCH (r:SourceRecord)-[:ABOUT]->(:Enterprise {id: id}) "
        "RETURN DISTINCT r.id AS id",
        {"ids": list(enterprise_ids)},
    )
    return [row["id"] for row in rows]


def links_page(store: GraphStore, dataset: str, after: str, page: int) -> list[dict[str, Any]]:
    """Rows of a dataset with their links (for export), in id order. Records derived by the platform
    (telemetry's monthly totals: ``derived`` set) are no department's row and are left out."""
    return store.read(
        "MATCH (r:SourceRecord) WHERE r.dataset = $dataset AND r.retired IS NULL AND r.id > $after "
        "AND r.derived IS NULL "
        "WITH r ORDER BY r.id LIMIT $page "
        "OPTIONAL MATCH (r)-[a:ABOUT]->(e:Enterprise) "
        "RETURN r.id AS id, r.file_name AS file, r.sheet AS sheet, r.row AS row, "
        "collect([a.party, e.id, a.method, a.probability]) AS links ORDER BY id",
        {"dataset": dataset, "after": after, "page": page},
    )


def write_links(store: GraphStore, rows: Iterable[Mapping[str, Any]], resolved_at: str) -> None:
    """Replace each (record, party)'s link. ``enterprise_id`` None: awaiting a steward (no link).

    ``rows`` is read once, a batch at a time (the batch's old links deleted, then its new ones
    created), so a caller can stream a run's links instead of holding them all. Each (record, party)
    appears once, so the end state is the one of deleting every old link before creating any."""
    for batch in batched(rows, store.batch_size):
        store.write(
            "UNWIND $rows AS row MATCH (r:SourceRecord {id: row.record_id})-[a:ABOUT]->() "
            "WHERE a.party = row.party DELETE a",
            {"rows": [{"record_id": r["record_id"], "party": r["party"]} for r in batch]},
        )
        linked = [{"explanation": None, "relation": None, **r} for r in batch if r["enterprise_id"]]
        if linked:
            store.write(
                "UNWIND $rows AS row MATCH (r:SourceRecord {id: row.record_id}) "
                "MATCH (e:Enterprise {id: row.enterprise_id}) "
                "CREATE (r)-[:ABOUT {party: row.party, relation: row.relation, method: row.method, "
                "probability: row.probability, explanation: row.explanation, resolved_at: $at}]->(e)",
                {"rows": linked, "at": resolved_at},
            )


def mentions_of_enterprise(store: GraphStore, enterprise_id: str) -> list[tuple[str, str]]:
    """``(record id, party)`` of every live record linked to the enterprise."""
    rows = store.read(
        "MATCH (r:SourceRecord)-[a:ABOUT]->(:Enterprise {id: $id}) WHERE r.retired IS NULL "
        "RETURN r.id AS record, a.party AS party ORDER BY record, party",
        {"id": enterprise_id},
    )
    return [(row["record"], row["party"]) for row in rows]
