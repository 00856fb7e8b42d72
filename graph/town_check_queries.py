"""Cypher for the towns' monthly cross-checks: what each enterprise is known to, meters, verdicts.

The cross-check lists (``resolution/verification.py``) are computed from three reads, each linear in
what it reads and none walking the whole graph:

* :func:`enterprise_evidence`: per live enterprise (of one town, or all), which of the given datasets
  its live records come from (registration, tax and power feeds), their periods and count;
* :func:`electricity_meters`: every electricity meter's links to enterprises, with their names, and
  the names the device feeds' rows gave the meter;
* :func:`verdicts`: the towns' standing verdicts (judgements of kind ``verify``).

The items a refresh finds are kept (:func:`keep_items`), so a town's list says when each item reached
it (``first_seen_at``, ``first_round``) and when the data cleared it (``gone_at``).

Graph shape (see docs/graph-model.md):
    (:CheckItem {key: 'check:<check>:<subject>', check, subject, town, name, enterprise, credit_code,
                 evidence (list), since, extra (JSON), first_seen_at, first_round, last_seen_at, gone_at})
    (:Judgement {kind: 'verify', subject: <item key>, object: <enterprise id or ''>, verdict, town,
                 round, user, at, reason})   undone like any judgement (undone, undone_by, undone_at)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from entgraph.graph.port import GraphSchema, GraphStore, PropertyIndex, Row, UniqueKey

KIND = "verify"
CHECK_SCHEMA = GraphSchema(
    unique=(UniqueKey("CheckItem", "key"),),
    indexes=(PropertyIndex("CheckItem", "town"), PropertyIndex("Judgement", "kind")),
)


def enterprise_evidence(store: GraphStore, datasets: Sequence[str], town: str | None) -> list[Row]:
    """``{id, name, credit_code, provisional, town, datasets, since, latest, records}`` for every live
    enterprise (of ``town``, or all) a live record of ``datasets`` is about as its subject."""
    if not datasets:
        return []
    return store.read(
        "MATCH (e:Enterprise) WHERE ($town IS NULL OR e.town = $town) AND e.merged_into IS NULL "
        "MATCH (r:SourceRecord)-[a:ABOUT]->(e) "
        # the record filters after a WITH: FalkorDB plans them as a scan when they sit in the MATCH
        "WITH e, r, a WHERE a.party = 'subject' AND r.retired IS NULL AND r.dataset IN $datasets "
        "RETURN e.id AS id, e.name AS name, e.credit_code AS credit_code, e.provisional AS provisional, "
        "e.town AS town, collect(DISTINCT r.dataset) AS datasets, min(toString(r.period)) AS since, "
        "max(toString(r.period)) AS latest, count(r) AS records ORDER BY id",
        {"datasets": list(datasets), "town": town},
    )


def electricity_meters(store: GraphStore) -> list[Row]:
    """``{key, meter, enterprise, name, names, town, shared}``: each electricity meter's link to an
    enterprise (a meter measuring several has a row for each)."""
    return store.read(
        "MATCH (m:Meter)-[x:METERS]->(e:Enterprise) WHERE m.utility = 'electricity' "
        "RETURN m.key AS key, m.meter_id AS meter, e.id AS enterprise, e.name AS name, e.names AS names, "
        "e.town AS town, x.shared AS shared ORDER BY key, enterprise",
        {},
    )


def save_verdict(store: GraphStore, verdict: Mapping[str, Any]) -> None:
    store.write("MERGE (j:Judgement {id: $j.id}) SET j += $j", {"j": {**dict(verdict), "kind": KIND}})


def verdicts(store: GraphStore, include_undone: bool = False) -> list[dict[str, Any]]:
    """The towns' verdicts, oldest first (a later verdict on the same item wins)."""
    where = "" if include_undone else "AND j.undone IS NULL "
    return [
        dict(row["j"])
        for row in store.read(
            f"MATCH (j:Judgement) WHERE j.kind = $kind {where}RETURN j AS j ORDER BY j.at", {"kind": KIND}
        )
    ]


def undo_verdict(store: GraphStore, verdict_id: str, by: str, at: str) -> dict[str, Any] | None:
    rows = store.write(
        "MATCH (j:Judgement {id: $id}) WHERE j.kind = $kind AND j.undone IS NULL "
        "SET j.undone = true, j.undone_by = $by, j.undone_at = $at RETURN j AS j",
        {"id": verdict_id, "kind": KIND, "by": by, "at": at},
    )
    return dict(rows[0]["j"]) if rows else None


def keep_items(store: GraphStore, items: Sequence[Mapping[str, Any]], now: str, round_: str) -> int:
    """Record the items a refresh found (new ones received ``now``, in ``round_``), and mark those it
    no longer finds as cleared by the data (``gone_at``); returns how many were cleared."""
    store.write_batches(
        "UNWIND $rows AS row MERGE (c:CheckItem {key: row.key}) "
        "ON CREATE SET c.first_seen_at = row.now, c.first_round = row.round "
        "SET c += row.props, c.last_seen_at = row.now REMOVE c.gone_at",
        ({"key": item["key"], "props": dict(item), "now": now, "round": round_} for item in items),
    )
    rows = store.write(
        "MATCH (c:CheckItem) WHERE c.gone_at IS NULL AND c.last_seen_at < $now "
        "SET c.gone_at = $now RETURN count(c) AS n",
        {"now": now},
    )
    return int(rows[0]["n"]) if rows else 0


def items(store: GraphStore, town: str | None) -> list[dict[str, Any]]:
    """The kept items (of ``town``, or all), cleared ones included."""
    return [
        dict(row["c"])
        for row in store.read(
            "MATCH (c:CheckItem) WHERE $town IS NULL OR c.town = $town RETURN c AS c ORDER BY c.key",
            {"town": town},
        )
    ]


def item(store: GraphStore, key: str) -> dict[str, Any] | None:
    rows = store.read("MATCH (c:CheckItem {key: $key}) RETURN c AS c", {"key": key})
    return dict(rows[0]["c"]) if rows else None
