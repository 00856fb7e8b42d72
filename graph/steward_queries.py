"""What a steward may read and act on, as Cypher: enterprises, records and judgements it may see.

A steward acts through :class:`~entgraph.resolution.steward.Steward`; over the API it acts as its role
may see (a :class:`~entgraph.graph.visibility.Visibility`), and what it may not see does not exist for
it, whether it reads or acts:

- an enterprise is known to it as everywhere (:meth:`Visibility.keep_known`);
- a record is visible when its dataset is (record ids are ``<dataset>:<hex>``, but the record's own
  ``dataset`` is read: an id is only a name);
- a judgement is there for it as a task is (``task_queries``): when it names no enterprise hidden from
  it (its ``object``; a merge's ``subject`` too; a meter judgement's ``enterprises``) and it has no
  records or one of them is visible; its ``records`` are then the visible ones alone.

A caller who may see everything gets the statements of ``judgement_queries`` unchanged. A task it
decides for the records it may see is handed back to those who may see the others (:func:`hand_back`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from entgraph.graph import judgement_queries
from entgraph.graph.port import GraphStore
from entgraph.graph.visibility import EVERYTHING, Visibility


def known_enterprises(store: GraphStore, ids: Sequence[str], sight: Visibility = EVERYTHING) -> set[str]:
    """Those of ``ids`` that are enterprises known to the caller (merged-away ones included)."""
    rows = store.read(
        f"UNWIND $ids AS id MATCH (e:Enterprise {{id: id}}) {sight.keep_known('e', 'id, e')}RETURN id",
        {"ids": sorted(set(ids)), **sight.params()},
    )
    return {row["id"] for row in rows}


def visible_records(store: GraphStore, ids: Sequence[str], sight: Visibility = EVERYTHING) -> set[str]:
    """Those of ``ids`` that are source records of datasets the caller may see."""
    rows = store.read(
        "UNWIND $ids AS id MATCH (r:SourceRecord {id: id}) "
        f"WITH id, r WHERE {sight.sees_record('r')} RETURN id",
        {"ids": sorted(set(ids)), **sight.params()},
    )
    return {row["id"] for row in rows}


def _seen(sight: Visibility) -> str:
    """Clauses after a ``MATCH`` of ``j`` keeping the judgements the caller may see, with ``records``:
    those of its records it may see."""
    if sight.datasets is None:
        return "WITH j, j.records AS records "
    mine = "[x IN coalesce(j.records, []) WHERE split(x, ':')[0] IN $known_datasets]"
    # the enterprises it names: a meter judgement's (several: a shared meter), else its object
    named = "CASE WHEN size(coalesce(j.enterprises, [])) > 0 THEN j.enterprises ELSE [j.object] END"
    return (
        f"WITH j WHERE size(coalesce(j.records, [])) = 0 OR size({mine}) > 0 "
        f"UNWIND {named} AS named OPTIONAL MATCH (o:Enterprise {{id: named}}) "
        + sight.mark_known("o", "j, o", "known_o")
        + "WITH j, collect(known_o) AS known WHERE all(k IN known WHERE k) "
        f"WITH j, {mine} AS records "
        "OPTIONAL MATCH (s:Enterprise {id: j.subject}) WHERE j.kind = 'merge' "
        + sight.mark_known("s", "j, records, s", "known_s")
        + "WITH j, records WHERE known_s "
    )


def _as_seen(row: dict[str, Any]) -> dict[str, Any]:
    return {**dict(row["j"]), "records": list(row["records"] or [])}


def audit_trail(
    store: GraphStore, first: int, about: str | None = None, sight: Visibility = EVERYTHING
) -> list[dict[str, Any]]:
    """Judgements the caller may see, newest first, undone ones included; ``about``: only those naming
    it on either side."""
    if sight.datasets is None:
        return judgement_queries.audit_trail(store, first, about)
    where = "WHERE j.subject = $about OR j.object = $about " if about else ""
    rows = store.read(
        f"MATCH (j:Judgement) {where}" + _seen(sight) + "RETURN j AS j, records ORDER BY j.at DESC "
        "LIMIT $first",
        {"about": about, "first": first, **sight.params()},
    )
    return [_as_seen(row) for row in rows]


def judgement(store: GraphStore, judgement_id: str, sight: Visibility = EVERYTHING) -> dict[str, Any] | None:
    """One judgement as the caller may see it; None for an unknown id and for one it may not see."""
    if sight.datasets is None:
        return judgement_queries.judgement(store, judgement_id)
    rows = store.read(
        "MATCH (j:Judgement {id: $id}) " + _seen(sight) + "RETURN j AS j, records",
        {"id": judgement_id, **sight.params()},
    )
    return _as_seen(rows[0]) if rows else None


def judgements_by_id(
    store: GraphStore, judgement_ids: Sequence[str], sight: Visibility = EVERYTHING
) -> list[dict[str, Any]]:
    """The judgements of ``judgement_ids`` the caller may see, as it may see them."""
    if sight.datasets is None:
        return judgement_queries.judgements_by_id(store, judgement_ids)
    rows = store.read(
        "UNWIND $ids AS id MATCH (j:Judgement {id: id}) " + _seen(sight) + "RETURN j AS j, records",
        {"ids": list(judgement_ids), **sight.params()},
    )
    return [_as_seen(row) for row in rows]


def hand_back(store: GraphStore, task_id: str, settled: Sequence[str], before: dict[str, Any]) -> bool:
    """After a steward decided task ``task_id`` for the records it may see (``settled``), leave the
    task to those who may see its other records as it was before (``before``: its stored properties):
    its status and closing time restored, the settled records (their mentions and stake) taken out.
    Only when the resolver run that followed did not put any of them back under review (the task's
    ``updated_at`` is still ``before``'s; else the task holds them again, as the run left it). Whether
    it was handed back."""
    rows = store.write(
        "MATCH (t:StewardTask {id: $id}) WHERE coalesce(t.updated_at, '') = $updated_at "
        "SET t.record_ids = [x IN coalesce(t.record_ids, []) WHERE NOT x IN $settled], "
        "t.mention_ids = [x IN coalesce(t.mention_ids, []) WHERE NOT split(x, '|')[0] IN $settled], "
        "t.stake_records = [x IN coalesce(t.stake_records, []) WHERE NOT split(x, '|')[0] IN $settled], "
        "t.status = $status, t.closed_at = $closed_at "
        "WITH t SET t.datasets = [d IN coalesce(t.datasets, []) "
        "WHERE any(x IN t.record_ids WHERE split(x, ':')[0] = d)], t.impact = size(t.record_ids), "
        "t.stake = reduce(s = 0.0, x IN t.stake_records | s + toFloat(split(x, '|')[2])) "
        "RETURN t.id AS id",
        {
            "id": task_id,
            "settled": sorted(set(settled)),
            "updated_at": before.get("updated_at") or "",
            "status": before.get("status") or "open",
            "closed_at": before.get("closed_at"),
        },
    )
    return bool(rows)
