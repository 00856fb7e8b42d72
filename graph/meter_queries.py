"""All Cypher of the meter registry: which enterprise(s) each meter measures.

Graph shape (docs/graph-model.md):
    (:SourceRecord:MeterReading)-[:READS]->(:Meter {key, meter_id, account_no, utility, review, judgement})
    (:Meter)-[:METERS {via, evidence, shared, at}]->(:Enterprise)
    (:Judgement {kind: 'meter', subject: 'meter:<key>', enterprises, kept, ...})   a steward's decision

``Meter`` nodes are written by the loaders (the device feeds' rows) or registered by hand for a meter
first heard over MQTT. The registry links them; ``via`` says why (credit code, utility account, name,
steward). A steward's attachment is a ``Judgement`` (kind ``meter``, as every steward decision is one):
while it stands, syncs leave the meter alone; ``Meter.judgement`` names the judgement last applied to
its links, so a judgement saved but not yet applied (a crash between the two) is applied by the next
sync.

A meter's ``key`` is the loaders' (``电能表|<id>``, ``水表|<id>``); telemetry knows a meter by its device
id alone (``meter_id``), which device serials make unique across utilities.

The statements the API serves take what the caller may see (``graph/visibility.py``): a meter names only
the enterprises the caller knows, each with its golden town only where the caller may see it, and is
shared (多户一表) for it only between enterprises it knows: one the registry flags shared with enterprises
only datasets hidden from the caller know is, to that caller, its visible enterprise's alone (neither
``shared`` nor in the ``shared`` review queue), so the flag cannot tell it that they exist. The
registry's own reads see everything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from entgraph.graph.port import GraphSchema, GraphStore, PropertyIndex, Row, UniqueKey
from entgraph.graph.visibility import EVERYTHING, Visibility

METER_SCHEMA = GraphSchema(
    unique=(UniqueKey("Meter", "key"), UniqueKey("Judgement", "id")),
    indexes=(
        PropertyIndex("Meter", "review"),
        PropertyIndex("Meter", "meter_id"),
        PropertyIndex("Judgement", "subject"),
        PropertyIndex("Judgement", "kind"),
    ),
)
SUBJECT = "meter:"  # a meter judgement's subject is ``meter:<key>``
# A row's meter has no standing judgement (one not undone): only then may the registry change its links.
_UNJUDGED = (
    "OPTIONAL MATCH (j:Judgement {subject: row.subject}) WHERE j.undone IS NULL "
    "WITH m, row, count(j) AS judged WHERE judged = 0 "
)


def meter_mentions(store: GraphStore, only_unattached: bool, keys: Sequence[str] | None = None) -> list[Row]:
    """``{key, meter, dataset, code, name, account, n}``: the identities the device feeds' rows give
    each meter (or each of ``keys``), counted."""
    head = "UNWIND $keys AS k MATCH (m:Meter {key: k}) " if keys is not None else "MATCH (m:Meter) "
    where = "m.attached_at IS NULL" if only_unattached else "true"
    return store.read(
        f"{head}WITH m WHERE {where} "
        "MATCH (r:SourceRecord)-[:READS]->(m) WITH m, r WHERE r.retired IS NULL "
        "RETURN m.key AS key, m.meter_id AS meter, r.dataset AS dataset, r.credit_code AS code, "
        "r.enterprise_name AS name, r.account_no AS account, count(*) AS n",
        {"keys": list(keys or [])},
    )


def standing_judgements(store: GraphStore) -> list[Row]:
    """Every meter judgement not undone, oldest first (a later one on the same meter wins), with the
    judgement its meter's links were last set by (``applied``; null when none or no such meter)."""
    return store.read(
        "MATCH (j:Judgement {kind: 'meter'}) WITH j WHERE j.undone IS NULL "
        "OPTIONAL MATCH (m:Meter {key: j.meter_key}) "
        "RETURN j AS j, m.judgement AS applied ORDER BY j.at, j.id"
    )


def legacy_pins(store: GraphStore) -> list[Row]:
    """Meters pinned before pins were judgements (``pinned`` flag), with their steward's and other
    links: ``{key, meter, utility, actor, at, steward, others}``."""
    return store.read(
        "MATCH (m:Meter) WITH m WHERE m.pinned = true "
        "OPTIONAL MATCH (m)-[x:METERS]->(e:Enterprise) "
        "WITH m, collect(CASE WHEN x.via = 'steward' THEN e.id END) AS steward, "
        "collect(CASE WHEN x.via <> 'steward' THEN e.id END) AS others "
        "RETURN m.key AS key, m.meter_id AS meter, m.utility AS utility, m.pinned_by AS actor, "
        "m.attached_at AS at, steward, others"
    )


def forget_legacy_pin(store: GraphStore, key: str) -> None:
    """Drop the old ``pinned`` flag once its judgement is saved and applied."""
    store.write("MATCH (m:Meter {key: $key}) REMOVE m.pinned, m.pinned_by", {"key": key})


def enterprises_by_code(store: GraphStore, codes: Sequence[str]) -> dict[str, str]:
    """Credit code -> id of the live (not merged-away) enterprise carrying it."""
    rows = store.read(
        "UNWIND $codes AS c MATCH (e:Enterprise {credit_code: c}) WITH c, e WHERE e.merged_into IS NULL "
        "RETURN c AS code, e.id AS id",
        {"codes": list(codes)},
    )
    return {r["code"]: r["id"] for r in rows}


def enterprises_by_identifier(store: GraphStore, keys: Sequence[str]) -> dict[str, str]:
    """Remembered identifier (``account:<department>:<no>``) -> enterprise id."""
    rows = store.read(
        "UNWIND $keys AS k MATCH (i:Identifier {key: k})-[:IDENTIFIES]->(e:Enterprise) "
        "WITH k, e WHERE e.merged_into IS NULL RETURN k AS key, e.id AS id",
        {"keys": list(keys)},
    )
    return {r["key"]: r["id"] for r in rows}


def live_enterprises(store: GraphStore, ids: Sequence[str]) -> set[str]:
    """Those of ``ids`` that are enterprises not merged away."""
    rows = store.read(
        "UNWIND $ids AS id MATCH (e:Enterprise {id: id}) WITH e WHERE e.merged_into IS NULL "
        "RETURN e.id AS id",
        {"ids": list(ids)},
    )
    return {r["id"] for r in rows}


def enterprise_names(store: GraphStore) -> list[Row]:
    """``{id, names}`` of every live enterprise (current and former names), for exact name lookups."""
    return store.read(
        "MATCH (e:Enterprise) WITH e WHERE e.merged_into IS NULL "
        "RETURN e.id AS id, [e.name] + coalesce(e.names, []) + coalesce(e.former_names, []) AS names"
    )


def write_attachments(store: GraphStore, rows: Sequence[Mapping[str, Any]], now_ms: int) -> None:
    """Replace the registry's (non-steward) links of each meter in ``rows``:
    ``{key, meter, utility, review, owners: [{id, via, evidence}]}``."""
    if not rows:
        return
    params = [{**r, "at": now_ms, "subject": SUBJECT + r["key"]} for r in rows]
    store.write_batches(
        "UNWIND $rows AS row MATCH (m:Meter {key: row.key}) "
        + _UNJUDGED
        + "OPTIONAL MATCH (m)-[old:METERS]->(:Enterprise) DELETE old",
        params,
    )
    store.write_batches(
        "UNWIND $rows AS row MATCH (m:Meter {key: row.key}) "
        + _UNJUDGED
        + "SET m.meter_id = row.meter, m.utility = row.utility, m.review = row.review, "
        "m.owners = size(row.owners), m.attached_at = row.at "
        "WITH m, row UNWIND row.owners AS o MATCH (e:Enterprise {id: o.id}) "
        "MERGE (m)-[x:METERS]->(e) SET x.via = o.via, x.evidence = o.evidence, "
        "x.shared = size(row.owners) > 1, x.at = row.at",
        params,
    )


def register(store: GraphStore, key: str, meter: str, utility: str) -> None:
    """Make sure meter ``key`` exists (a meter first heard over MQTT has no device-feed rows)."""
    store.write(
        "MERGE (m:Meter {key: $key}) SET m.meter_id = $meter, m.utility = coalesce(m.utility, $utility)",
        {"key": key, "meter": meter, "utility": utility},
    )


def apply_judgement(
    store: GraphStore, key: str, enterprise_ids: Sequence[str], kept: Sequence[str], actor: str,
    judgement_id: str, now_ms: int,
) -> list[str]:  # fmt: skip
    """Set meter ``key``'s links as judgement ``judgement_id`` decided: exactly ``enterprise_ids``
    (several: a shared meter), besides its links to ``kept``, the enterprises hidden from the steward
    that it neither saw nor judged (those still linked stay as they are; the meter's ``owners``,
    ``review`` and ``shared`` count them too). Idempotent. Returns the ids linked by the judgement."""
    kept = [r["id"] for r in store.read(
        "MATCH (m:Meter {key: $key})-[:METERS]->(e:Enterprise) WITH e WHERE e.id IN $kept RETURN e.id AS id",
        {"key": key, "kept": list(kept)},
    )]  # fmt: skip
    ids = list(dict.fromkeys(enterprise_ids))
    owners = len(set(ids) | set(kept))
    params = {"key": key, "kept": kept, "owners": owners}
    store.write(
        "MATCH (m:Meter {key: $key})-[old:METERS]->(e:Enterprise) WITH old, e WHERE NOT e.id IN $kept "
        "DELETE old",
        params,
    )
    if kept:
        store.write(
            "MATCH (m:Meter {key: $key})-[k:METERS]->(e:Enterprise) WITH k, e WHERE e.id IN $kept "
            "SET k.shared = $owners > 1",
            params,
        )
    rows = store.write(
        "MATCH (m:Meter {key: $key}) SET m.attached_at = $now, "
        "m.owners = $owners, m.review = CASE WHEN $owners = 0 THEN 'unattached' "
        "WHEN $owners > 1 THEN 'shared' ELSE null END "
        "WITH m UNWIND $ids AS id MATCH (e:Enterprise {id: id}) "
        "MERGE (m)-[x:METERS]->(e) SET x.via = 'steward', x.evidence = $actor, x.shared = $owners > 1, "
        "x.at = $now RETURN e.id AS id",
        {"key": key, "ids": ids, "owners": owners, "actor": actor, "now": now_ms},
    )
    # last: a crash before this leaves the judgement unapplied, and the next sync applies it again
    store.write("MATCH (m:Meter {key: $key}) SET m.judgement = $j", {"key": key, "j": judgement_id})
    return [r["id"] for r in rows]


def release(store: GraphStore, key: str) -> None:
    """After its judgement is undone, meter ``key`` is the registry's again: the steward's links go and
    the next sync of it decides (``attached_at`` cleared so an incremental sync takes it too)."""
    store.write(
        "MATCH (m:Meter {key: $key}) REMOVE m.judgement, m.attached_at "
        "WITH m OPTIONAL MATCH (m)-[x:METERS {via: 'steward'}]->(:Enterprise) DELETE x",
        {"key": key},
    )


def hidden_owners(store: GraphStore, key: str, sight: Visibility = EVERYTHING) -> list[str]:
    """Ids of the enterprises meter ``key`` is linked to that the caller (``sight``) does not know."""
    if sight.datasets is None:
        return []
    rows = store.read(
        "MATCH (m:Meter {key: $key})-[:METERS]->(e:Enterprise) "
        + sight.mark_known("e", "e", "known_e")
        + "WITH e WHERE NOT known_e RETURN e.id AS id ORDER BY id",
        {"key": key, **sight.params()},
    )
    return [r["id"] for r in rows]


def registered_as(store: GraphStore, meter: str) -> list[Row]:
    """``{key, utility}`` of the registered meters with id ``meter`` (one per utility at most)."""
    return store.read(
        "MATCH (m:Meter {meter_id: $meter}) RETURN m.key AS key, m.utility AS utility", {"meter": meter}
    )


def known_meters(store: GraphStore) -> list[Row]:
    """``{meter, utility}`` of every registered meter, attached or not."""
    return store.read("MATCH (m:Meter) RETURN m.key AS key, m.meter_id AS meter, m.utility AS utility")


def owners(
    store: GraphStore, meters: Sequence[str] | None = None, sight: Visibility = EVERYTHING
) -> list[Row]:
    """``{meter, utility, enterprise, town, shared}`` for every attached meter (or those in ``meters``):
    its enterprises known to the caller (``sight``), each with its golden town as the caller may see it
    (null where it may not)."""
    head = "UNWIND $meters AS k MATCH (m:Meter {meter_id: k}) " if meters is not None else "MATCH (m:Meter) "
    return store.read(
        head
        + "MATCH (m)-[x:METERS]->(e:Enterprise) "
        + sight.keep_known("e", "m, x, e")
        + f"RETURN m.meter_id AS meter, m.utility AS utility, e.id AS enterprise, {sight.value('town')} "
        "AS town, x.shared AS shared",
        {"meters": list(meters or []), **sight.params()},
    )


def meters_of(store: GraphStore, enterprise_ids: Sequence[str], sight: Visibility = EVERYTHING) -> list[Row]:
    """``{enterprise, meter, utility, account_no, via, evidence, shared, review}`` for many enterprises in
    one round trip (the API's DataLoader). ``shared`` (and a ``shared`` review) as the caller
    (``sight``) may see it: the meter also measures another enterprise it knows."""
    columns = (
        "id AS enterprise, m.meter_id AS meter, m.utility AS utility, m.account_no AS account_no, "
        "x.via AS via, x.evidence AS evidence"
    )
    if sight.datasets is None:
        return store.read(
            "UNWIND $ids AS id MATCH (m:Meter)-[x:METERS]->(e:Enterprise {id: id}) "
            f"RETURN {columns}, x.shared AS shared, m.review AS review ORDER BY id, meter",
            {"ids": list(enterprise_ids)},
        )
    # the meter's other enterprises, each walked to its records only when the registry says it is shared
    return store.read(
        "UNWIND $ids AS id MATCH (m:Meter)-[x:METERS]->(e:Enterprise {id: id}) "
        "OPTIONAL MATCH (m)-[:METERS]->(o:Enterprise) WHERE x.shared AND o.id <> id "
        + sight.mark_known("o", "id, m, x, o", "known_o")
        + "WITH id, m, x, collect(CASE WHEN known_o THEN o.id END) AS others "
        f"RETURN {columns}, size(others) > 0 AS shared, "
        "CASE WHEN m.review = 'shared' AND size(others) = 0 THEN null ELSE m.review END AS review "
        "ORDER BY id, meter",
        {"ids": list(enterprise_ids), **sight.params()},
    )


def meters_for_review(
    store: GraphStore, review: str, first: int, after: str, sight: Visibility = EVERYTHING
) -> list[Row]:
    """Meters flagged for stewards (``shared``: 多户一表, ``unattached``), in key order after ``after``,
    each with the enterprises it is attached to that the caller (``sight``) knows, and whether it is
    ``shared`` between them. A meter the registry flags shared is in the ``shared`` queue only when it
    is shared between enterprises the caller knows (see the module docstring)."""
    known = "" if sight.datasets is None else sight.mark_known("e", "m, key, e", "known_e")
    enterprise = "e.id" if sight.datasets is None else "CASE WHEN known_e THEN e.id END"
    rows = store.read(
        "MATCH (m:Meter {review: $review}) WITH m, m.meter_id AS key WHERE key > $after "
        f"OPTIONAL MATCH (m)-[x:METERS]->(e:Enterprise) {known}"
        f"WITH key, m, collect({enterprise}) AS enterprises "
        "WHERE $review <> 'shared' OR size(enterprises) > 1 "
        "RETURN key AS meter, m.utility AS utility, m.account_no AS account_no, enterprises, "
        "size(enterprises) > 1 AS shared ORDER BY key LIMIT $first",
        {"review": review, "first": first, "after": after, **sight.params()},
    )
    # collect() keeps no order a store promises (FalkorDB's and Neo4j's differ): ids in order
    return [{**row, "enterprises": sorted(row["enterprises"])} for row in rows]


# --- telemetry's monthly totals as enterprise metrics -------------------------------------------------


def write_monthly_totals(store: GraphStore, rows: Sequence[Mapping[str, Any]]) -> None:
    """``{id, enterprise, props}``: one ``(:SourceRecord:MeterMonthly)`` per meter and month, about the
    meter's (single) enterprise. Rewriting a month replaces its figure; a meter moved to another
    enterprise moves its records."""
    if not rows:
        return
    store.write_batches(
        "UNWIND $rows AS row MERGE (r:SourceRecord:MeterMonthly {id: row.id}) SET r += row.props "
        "REMOVE r.retired WITH r, row MATCH (r)-[old:ABOUT]->(x:Enterprise) "
        "WITH old, x, row WHERE x.id <> row.enterprise DELETE old",
        [dict(r) for r in rows],
    )
    store.write_batches(
        "UNWIND $rows AS row MATCH (r:SourceRecord:MeterMonthly {id: row.id}) "
        "MATCH (e:Enterprise {id: row.enterprise}) MERGE (r)-[a:ABOUT]->(e) "
        "SET a.party = 'subject', a.method = 'meter_registry'",
        [dict(r) for r in rows],
    )


def retire_monthly_totals(store: GraphStore, keep_meters: Sequence[str], now_ms: int) -> int:
    """Retire the monthly records of meters no longer attached to exactly one enterprise (now shared
    or unattached): their consumption is nobody's until a steward decides."""
    rows = store.write(
        "MATCH (r:MeterMonthly) WITH r WHERE r.retired IS NULL AND NOT r.meter_id IN $keep "
        "SET r.retired = $now RETURN count(r) AS n",
        {"keep": list(keep_meters), "now": now_ms},
    )
    return int(rows[0]["n"]) if rows else 0
