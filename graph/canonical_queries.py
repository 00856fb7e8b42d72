"""Canonical enterprises in Cypher: golden records, redirects, identifiers and relations.

As resolution keeps them: golden records, redirects of merged-away ids, identifiers seen with a code,
legal representatives, registration regions and branches."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from entgraph.graph.port import GraphStore

# What a resolve run matches on and looks enterprises up by. Not their golden sources (JSON of about
# 1.7 KB an enterprise, four fifths of its bytes), search tokens or business scope: an enterprise a run
# updates is read whole first (``enterprises_by_id``), the others are only matched against.
MATCH_PROPERTIES = (
    "id", "name", "names", "former_names", "credit_code", "org_code", "division", "code_entity_type",
    "entity_type", "legal_rep", "phone", "address", "town", "industry_code", "provisional", "merged_into",
)  # fmt: skip


def all_enterprises(
    store: GraphStore, page: int = 10_000, properties: Sequence[str] | None = None
) -> Iterator[dict[str, Any]]:
    """Every enterprise, merged-away ones included (their names still find their survivor): whole, or
    only ``properties`` (those it has)."""
    columns = (
        "e AS e"
        if properties is None
        else ", ".join(f"e.{_property(name)} AS {_property(name)}" for name in properties)
    )
    after = ""
    while True:
        rows = store.read(
            f"MATCH (e:Enterprise) WHERE e.id > $after RETURN {columns} ORDER BY e.id LIMIT $page",
            {"after": after, "page": page},
        )
        if not rows:
            return
        for row in rows:
            yield dict(row["e"]) if properties is None else {k: v for k, v in row.items() if v is not None}
        after = rows[-1]["e"]["id"] if properties is None else rows[-1]["id"]


def enterprises_by_id(store: GraphStore, ids: Sequence[str]) -> list[dict[str, Any]]:
    """The given enterprises, whole (those that exist)."""
    rows = store.read("UNWIND $ids AS id MATCH (e:Enterprise {id: id}) RETURN e AS e", {"ids": list(ids)})
    return [dict(row["e"]) for row in rows]


def _property(name: str) -> str:
    if not name.isidentifier():
        raise ValueError(f"not a property name: {name!r}")
    return name


def enterprise(store: GraphStore, enterprise_id: str) -> dict[str, Any] | None:
    rows = store.read("MATCH (e:Enterprise {id: $id}) RETURN e AS e", {"id": enterprise_id})
    return dict(rows[0]["e"]) if rows else None


def upsert_enterprises(store: GraphStore, rows: Iterable[Mapping[str, Any]]) -> int:
    """MERGE enterprises by id and set the given properties (``props`` maps name -> value)."""
    return store.write_batches(
        "UNWIND $rows AS row MERGE (e:Enterprise {id: row.id}) SET e += row.props",
        ({"id": row["id"], "props": dict(row["props"])} for row in rows),
    )


def redirects(store: GraphStore) -> dict[str, str]:
    rows = store.read("MATCH (a:Enterprise)-[:REDIRECTS_TO]->(b:Enterprise) RETURN a.id AS a, b.id AS b")
    return {row["a"]: row["b"] for row in rows}


def set_redirect(store: GraphStore, loser: str, survivor: str) -> None:
    store.write(
        "MATCH (a:Enterprise {id: $loser}) MATCH (b:Enterprise {id: $survivor}) "
        "SET a.merged_into = $survivor MERGE (a)-[:REDIRECTS_TO]->(b)",
        {"loser": loser, "survivor": survivor},
    )


def remove_redirect(store: GraphStore, loser: str) -> None:
    store.write(
        "MATCH (a:Enterprise {id: $loser}) SET a.merged_into = null "
        "WITH a OPTIONAL MATCH (a)-[x:REDIRECTS_TO]->() DELETE x",
        {"loser": loser},
    )


def identifier_links(store: GraphStore, keys: Sequence[str]) -> dict[str, str]:
    rows = store.read(
        "UNWIND $keys AS key MATCH (i:Identifier {key: key})-[:IDENTIFIES]->(e:Enterprise) "
        "RETURN i.key AS key, e.id AS id",
        {"keys": list(keys)},
    )
    return {row["key"]: row["id"] for row in rows}


def remember_identifiers(store: GraphStore, rows: Sequence[Mapping[str, str]]) -> None:
    """Identifier keys seen on a deterministically linked record point at that enterprise."""
    store.write_batches(
        "UNWIND $rows AS row MERGE (i:Identifier {key: row.key}) "
        "WITH i, row OPTIONAL MATCH (i)-[old:IDENTIFIES]->() DELETE old "
        "WITH i, row MATCH (e:Enterprise {id: row.enterprise_id}) MERGE (i)-[:IDENTIFIES]->(e)",
        (dict(r) for r in rows),
    )


def set_legal_representatives(store: GraphStore, rows: Sequence[Mapping[str, str]]) -> None:
    """(Enterprise)-[:LEGAL_REP]->(Person): the golden record's representative, replacing the old one.

    A Person is keyed per enterprise (name + enterprise id): the feeds carry no identity numbers for
    people (and should not), so two 张伟 of two enterprises are not claimed to be one person.
    """
    store.write_batches(
        "UNWIND $rows AS row MATCH (e:Enterprise {id: row.enterprise}) "
        "OPTIONAL MATCH (e)-[old:LEGAL_REP]->() DELETE old "
        "WITH e, row MERGE (p:Person {key: row.key}) SET p.name = row.name "
        "MERGE (e)-[:LEGAL_REP]->(p)",
        (dict(r) for r in rows),
    )


def set_registration_regions(store: GraphStore, rows: Sequence[Mapping[str, str]]) -> None:
    """(Enterprise)-[:REGISTERED_IN]->(Region): the division a credit code's authority sits in."""
    store.write_batches(
        "UNWIND $rows AS row MATCH (e:Enterprise {id: row.enterprise}) "
        "MERGE (g:Region {key: row.region}) ON CREATE SET g.name = row.region, g.division = row.division "
        "MERGE (e)-[:REGISTERED_IN]->(g)",
        (dict(r) for r in rows),
    )


def set_branch_links(store: GraphStore, rows: Sequence[Mapping[str, str]]) -> None:
    store.write_batches(
        "UNWIND $rows AS row MATCH (b:Enterprise {id: row.branch}) MATCH (p:Enterprise {id: row.parent}) "
        "MERGE (b)-[:BRANCH_OF]->(p)",
        (dict(r) for r in rows),
    )


def reset_profiles(store: GraphStore, enterprise_ids: Sequence[str], fields: Sequence[str]) -> None:
    """Forget what enterprises learned from their records (names, golden values), to relearn it."""
    cleared = ", ".join(f"e.{name} = null" for name in fields)
    store.write(
        f"UNWIND $ids AS id MATCH (e:Enterprise {{id: id}}) SET e.names = [], e.former_names = [], "
        f"e.golden_sources = '{{}}', {cleared}",
        {"ids": list(enterprise_ids)},
    )
