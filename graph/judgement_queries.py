"""Steward judgements as stored: saved (one or in bulk), read back for replay, and the audit trail."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from entgraph.graph.port import GraphStore


def save_judgement(store: GraphStore, judgement: Mapping[str, Any]) -> None:
    store.write("MERGE (j:Judgement {id: $j.id}) SET j += $j", {"j": dict(judgement)})


def save_judgements(store: GraphStore, judgements: Iterable[Mapping[str, Any]]) -> None:
    """Several judgements in batched round trips (a bulk accept)."""
    store.write_batches(
        "UNWIND $rows AS row MERGE (j:Judgement {id: row.id}) SET j += row", (dict(j) for j in judgements)
    )


def judgements(store: GraphStore, include_undone: bool = False) -> list[dict[str, Any]]:
    where = "" if include_undone else "WHERE j.undone IS NULL "
    return [dict(row["j"]) for row in store.read(f"MATCH (j:Judgement) {where}RETURN j AS j ORDER BY j.at")]


def judgement(store: GraphStore, judgement_id: str) -> dict[str, Any] | None:
    rows = store.read("MATCH (j:Judgement {id: $id}) RETURN j AS j", {"id": judgement_id})
    return dict(rows[0]["j"]) if rows else None


def judgements_by_id(store: GraphStore, judgement_ids: Sequence[str]) -> list[dict[str, Any]]:
    rows = store.read(
        "UNWIND $ids AS id MATCH (j:Judgement {id: id}) RETURN j AS j", {"ids": list(judgement_ids)}
    )
    return [dict(row["j"]) for row in rows]


def audit_trail(store: GraphStore, first: int, about: str | None = None) -> list[dict[str, Any]]:
    """Judgements newest first, undone ones included; ``about``: only those naming it on either side."""
    where = "WHERE j.subject = $about OR j.object = $about " if about else ""
    return [
        dict(row["j"])
        for row in store.read(
            f"MATCH (j:Judgement) {where}RETURN j AS j ORDER BY j.at DESC LIMIT $first",
            {"about": about, "first": first},
        )
    ]
