"""Uploads and datasets in the graph: each load's summary, the dataset it fed, and reads of both.

Graph shape (see docs/graph-model.md):
    (:Upload {id, dataset, file_name, file_sha256, rows_read, loaded, rejected, unchanged, ...})
    (:Upload)-[:OF_DATASET]->(:Dataset {key, title, department, city})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from entgraph.graph.port import GraphStore
from entgraph.graph.write_versions import touching


def has_other_version(store: GraphStore, dataset: str, file_name: str, upload_id: str) -> bool:
    """Was a file of this name uploaded to this dataset before with other content?"""
    rows = store.read(
        "MATCH (u:Upload) WHERE u.dataset = $dataset AND u.file_name = $file AND u.id <> $upload "
        "RETURN count(u) AS c",
        {"dataset": dataset, "file": file_name, "upload": upload_id},
    )
    return rows[0]["c"] > 0


def record_dataset(store: GraphStore, dataset: Mapping[str, Any]) -> None:
    with touching(datasets=[dataset["key"]]):
        store.write(
            "MERGE (d:Dataset {key: $d.key}) SET d.title = $d.title, d.department = $d.department, "
            "d.city = $d.city, d.frequency = $d.frequency, d.subject = $d.subject",
            {"d": dict(dataset)},
        )


def record_upload(store: GraphStore, upload: Mapping[str, Any]) -> None:
    """Create or update an upload's summary (status 'running' at start, 'done' at the end)."""
    with touching(names=["intake"]):  # the feeds' bookkeeping: nothing an enterprise's answer shows
        store.write(
            "MERGE (u:Upload {id: $u.id}) SET u += $u, "
            "u.received_at = coalesce(u.received_at, $u.started_at) "
            "WITH u MATCH (d:Dataset {key: $u.dataset}) MERGE (u)-[:OF_DATASET]->(d)",
            {"u": dict(upload)},
        )


def uploads(store: GraphStore, dataset: str | None = None) -> list[dict[str, Any]]:
    """Upload summaries, newest first."""
    where = "WHERE u.dataset = $dataset " if dataset else ""
    return [
        row["u"]
        for row in store.read(
            f"MATCH (u:Upload) {where}RETURN u ORDER BY u.started_at DESC", {"dataset": dataset}
        )
    ]


def recent_uploads(store: GraphStore, dataset: str | None, first: int) -> list[dict[str, Any]]:
    """The ``first`` newest upload summaries (of one dataset, or of all): the API pages, the CLI reads all."""
    where = "WHERE u.dataset = $dataset " if dataset else ""
    return [
        dict(row["u"])
        for row in store.read(
            f"MATCH (u:Upload) {where}RETURN u ORDER BY u.started_at DESC, u.id LIMIT $first",
            {"dataset": dataset, "first": first},
        )
    ]


def upload(store: GraphStore, upload_id: str) -> dict[str, Any] | None:
    """One upload's summary by id, or None."""
    rows = store.read("MATCH (u:Upload {id: $id}) RETURN u", {"id": upload_id})
    return dict(rows[0]["u"]) if rows else None
