"""Loaded department records in the graph: their keys, their writes (with derived nodes) and retirement.

The loaders hand over plain data (no spec objects): a record label and rows of ``{id, hash, props,
links}``, each link ``{relation, label, key, props}``. Every statement is an idempotent MERGE keyed on a
unique id, so a load killed half-way and run again converges to exactly the rows of one clean load.

Graph shape written here (see docs/graph-model.md):
    (:SourceRecord:<Label> {id, dataset, file_name, file_sha256, sheet, row, upload_id, content_hash, ...})
    (:SourceRecord)-[:<REL>]->(:<Node> {key, ...})   towns, industries, parcels, mortgages, honours ...
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from entgraph.graph.port import GraphSchema, GraphStore, PropertyIndex, QueryError, UniqueKey
from entgraph.graph.write_versions import touching

_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def source_schema(node_labels: Iterable[str]) -> GraphSchema:
    """Keys the writer relies on: records by id, uploads by id, every derived node label by key."""
    labels = sorted({"Town", "Industry", "Park", "IndustryChain", "Region", *node_labels})
    return GraphSchema(
        unique=(
            UniqueKey("SourceRecord", "id"),
            UniqueKey("Upload", "id"),
            UniqueKey("Dataset", "key"),
            *(UniqueKey(label, "key") for label in labels),
        ),
        indexes=(
            PropertyIndex("SourceRecord", "dataset"),
            PropertyIndex("SourceRecord", "file_name"),
            PropertyIndex("SourceRecord", "to_resolve"),
            PropertyIndex("Upload", "file_name"),
        ),
    )


def existing_hashes(store: GraphStore, ids: Sequence[str]) -> dict[str, str]:
    """Content hashes of the records among ``ids`` that are already in the graph (and active)."""
    rows = store.read(
        "UNWIND $ids AS id MATCH (r:SourceRecord {id: id}) WHERE r.retired IS NULL "
        "RETURN r.id AS id, r.content_hash AS hash",
        {"ids": list(ids)},
    )
    return {row["id"]: row["hash"] for row in rows}


def write_records(
    store: GraphStore,
    record_label: str,
    rows: Sequence[Mapping[str, Any]],
    replaced: set[str],
    to_resolve: bool = False,
) -> None:
    """MERGE records (``{id, hash, props, links}``) and their links. ``replaced``: ids whose old links
    must go (their content changed).

    ``to_resolve``: flag the records (new or changed) as work for resolution (``to_resolve = 1``,
    indexed), so a resolution run finds them without scanning every record ever loaded.
    """
    if not rows:
        return
    with touching(datasets=datasets_of(r["id"] for r in rows)):
        label = _ident(record_label)
        if replaced:
            store.write(
                "UNWIND $ids AS id MATCH (r:SourceRecord {id: id})-[e]->() WHERE e.derived = true DELETE e",
                {"ids": sorted(replaced)},
            )
        # Both labels in the MERGE pattern: adding a label with SET costs FalkorDB time that grows with
        # the graph (2.7 ms a row at 100k records against 0.06 ms, bench/growth.py), which made a 1M-row
        # load slow down as it went. A dataset's records always carry its one label, so the pattern
        # finds them.
        store.write(
            f"UNWIND $rows AS row MERGE (r:SourceRecord:{label} {{id: row.id}}) SET r += row.props"
            + (", r.to_resolve = 1" if to_resolve else "")
            + " REMOVE r.retired",
            {"rows": [{"id": r["id"], "props": dict(r["props"])} for r in rows]},
        )
        groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            for link in row["links"]:
                groups[(link["relation"], link["label"])].append(
                    {"id": row["id"], "key": link["key"], "props": dict(link.get("props") or {})}
                )
        # CREATE, not MERGE, for the edge: these records have no derived edges (new, or theirs were
        # just deleted), and MERGE would look through every edge of a town or industry node that 100k
        # records point at, making each row cost more as the graph grows.
        # The shared nodes (a town, an industry, a parcel) take the row's properties, and another
        # dataset's record may show them to a caller who cannot see this one: the "facts" slot, on
        # which every cached answer depends (graph/write_versions.py).
        for (relation, node_label), items in groups.items():
            with touching(names=["facts"]):
                store.write(
                    f"UNWIND $rows AS row MATCH (r:SourceRecord {{id: row.id}}) "
                    f"MERGE (n:{_ident(node_label)} {{key: row.key}}) SET n += row.props "
                    f"CREATE (r)-[e:{_ident(relation)}]->(n) SET e.derived = true",
                    {"rows": items},
                )
        # The content hash goes last: a record whose links a killed load did not finish has none, so
        # the rerun sees it as changed and writes it (and its links) again, instead of skipping it as
        # unchanged.
        store.write(
            "UNWIND $rows AS row MATCH (r:SourceRecord {id: row.id}) SET r.content_hash = row.hash",
            {"rows": [{"id": r["id"], "hash": r["hash"]} for r in rows]},
        )


def retire_missing(
    store: GraphStore,
    dataset: str,
    file_name: str,
    keep: Callable[[str], bool],
    upload_id: str,
    page: int = 50_000,
) -> int:
    """Mark records of an earlier version of this file that the new version no longer contains.

    Pages through the file's record ids in id order, so memory stays bounded for any file size.
    """
    retired, after = 0, ""
    while True:
        ids = [
            row["id"]
            for row in store.read(
                "MATCH (r:SourceRecord) WHERE r.dataset = $dataset AND r.file_name = $file "
                "AND r.retired IS NULL AND r.id > $after RETURN r.id AS id ORDER BY id LIMIT $page",
                {"dataset": dataset, "file": file_name, "after": after, "page": page},
            )
        ]
        if not ids:
            return retired
        gone = [record_id for record_id in ids if not keep(record_id)]
        if gone:
            with touching(datasets=[dataset]):
                store.write(
                    "UNWIND $ids AS id MATCH (r:SourceRecord {id: id}) "
                    "SET r.retired = true, r.retired_by = $upload",
                    {"ids": gone, "upload": upload_id},
                )
            retired += len(gone)
        after = ids[-1]


def retire(store: GraphStore, ids: Sequence[str], upload_id: str) -> int:
    """Retire the active records among ``ids`` (a docking batch's deletions); how many were active."""
    with touching(datasets=datasets_of(ids)):
        rows = store.write(
            "UNWIND $ids AS id MATCH (r:SourceRecord {id: id}) WHERE r.retired IS NULL "
            "SET r.retired = true, r.retired_by = $upload RETURN count(r) AS n",
            {"ids": list(ids), "upload": upload_id},
        )
    return int(rows[0]["n"]) if rows else 0


def record_count(store: GraphStore, dataset: str, file_name: str | None = None) -> int:
    where = "r.dataset = $dataset AND r.retired IS NULL" + (" AND r.file_name = $file" if file_name else "")
    return store.read(
        f"MATCH (r:SourceRecord) WHERE {where} RETURN count(r) AS c", {"dataset": dataset, "file": file_name}
    )[0]["c"]


def datasets_of(record_ids: Iterable[str]) -> set[str]:
    """The datasets of records, from their ids (``dataset:digest``, loaders/records.py)."""
    return {record_id.rsplit(":", 1)[0] for record_id in record_ids}


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise QueryError(f"not a valid label or relation name: {name!r}")
    return name
