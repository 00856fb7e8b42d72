"""The enterprise listing's filters and sort orders, against the resolved generated city (read-only):
each answer is compared with the same question asked of the graph directly."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from entgraph.api.auth import Role
from entgraph.api.graphql_client import GraphQLClient
from entgraph.graph.falkordb_store import FalkorDBStore

LISTING = """
query ($filter: EnterpriseFilter, $sort: EnterpriseSort, $first: Int!, $after: String, $search: String) {
  enterprises(filter: $filter, sort: $sort, first: $first, after: $after, search: $search) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id name town registeredCapital established } } } }"""


def walk(api: GraphQLClient, role: Role = Role.STEWARD, **variables: Any) -> tuple[list[dict[str, Any]], int]:
    """Every node over all pages of 7, and the total count the pages reported."""
    nodes: list[dict[str, Any]] = []
    after, totals = None, set()
    while True:
        page = api.data(LISTING, role, first=7, after=after, **variables)["enterprises"]
        totals.add(page["totalCount"])
        nodes += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            assert len(totals) == 1
            return nodes, totals.pop()
        after = page["pageInfo"]["endCursor"]


def live_ids(store: FalkorDBStore, pattern: str, **params: Any) -> list[str]:
    """Live enterprises a subject record in ``pattern`` (``r``, ``a``, ``e`` and a WHERE) is about."""
    rows = store.read(
        f"MATCH {pattern} AND a.party = 'subject' AND r.retired IS NULL AND NOT (e)-[:REDIRECTS_TO]->() "
        "RETURN DISTINCT e.id AS id ORDER BY id",
        params,
    )
    return [row["id"] for row in rows]


def most_common(store: FalkorDBStore, label: str, prop: str) -> str:
    rows = store.read(
        f"MATCH (f:{label})<--(:SourceRecord)-[:ABOUT {{party: 'subject'}}]->(e:Enterprise) "
        f"RETURN f.{prop} AS v, count(DISTINCT e) AS n ORDER BY n DESC, v LIMIT 1"
    )
    return rows[0]["v"]


@pytest.mark.parametrize(
    ("field", "label", "prop", "relation"),
    [
        ("chain", "IndustryChain", "key", "IN_CHAIN"),
        ("honour", "Honor", "kind", "AWARDS"),
        ("creditEvent", "CreditEvent", "kind", "RECORDS_EVENT"),
    ],
)
def test_fact_filters_list_exactly_the_enterprises_with_that_fact(
    city_api: GraphQLClient, resolved_city: Any, field: str, label: str, prop: str, relation: str
) -> None:
    store = resolved_city.store
    value = most_common(store, label, prop)
    want = live_ids(
        store,
        f"(f:{label})<-[:{relation}]-(r:SourceRecord)-[a:ABOUT]->(e:Enterprise) WHERE f.{prop} = $v",
        v=value,
    ).copy()
    nodes, total = walk(city_api, filter={field: value})
    assert [n["id"] for n in nodes] == want and total == len(want) >= 1


def test_filters_combine_and_industry_matches_a_code_prefix(
    city_api: GraphQLClient, resolved_city: Any
) -> None:
    store = resolved_city.store
    rows = store.read(
        "MATCH (e:Enterprise) WHERE e.industry_code IS NOT NULL AND NOT (e)-[:REDIRECTS_TO]->() "
        "RETURN e.id AS id, e.industry_code AS code, e.town AS town"
    )
    prefix = max({r["code"][:3] for r in rows}, key=lambda p: (sum(r["code"].startswith(p) for r in rows), p))
    by_code = {r["id"] for r in rows if r["code"].startswith(prefix)}
    nodes, _ = walk(city_api, filter={"industry": prefix})
    assert by_code <= {n["id"] for n in nodes}  # records may class more enterprises under it
    town = next(r["town"] for r in rows if r["code"].startswith(prefix) and r["town"])
    both, total = walk(city_api, filter={"industry": prefix, "town": town})
    assert both and total == len(both) and all(n["town"] == town for n in both)
    assert {n["id"] for n in both} <= {n["id"] for n in nodes}


def test_size_filter_reads_the_stated_size(city_api: GraphQLClient, resolved_city: Any) -> None:
    store = resolved_city.store
    sizes = store.read(
        "MATCH (r:SourceRecord)-[:ABOUT {party: 'subject'}]->(e:Enterprise) "
        "WHERE r.enterprise_size IS NOT NULL "
        "RETURN r.enterprise_size AS size, count(DISTINCT e) AS n ORDER BY n DESC, size LIMIT 1"
    )
    size = sizes[0]["size"]
    want = live_ids(store, "(r:SourceRecord)-[a:ABOUT]->(e:Enterprise) WHERE r.enterprise_size = $s", s=size)
    nodes, total = walk(city_api, filter={"size": size})
    assert [n["id"] for n in nodes] == want and total == len(want) >= 1


def test_credit_filter_is_forbidden_to_the_public(city_api: GraphQLClient) -> None:
    variables = {"first": 5, "filter": {"creditEvent": "法院失信被执行人信息"}}
    assert city_api.error_codes(LISTING, Role.PUBLIC, **variables) == ["FORBIDDEN"]
    assert city_api.error_codes(LISTING, Role.ANALYST, **variables) == []


@pytest.mark.parametrize(
    ("field", "prop", "missing"),
    [
        ("NAME", "name", ""),
        ("REGISTERED_CAPITAL", "registeredCapital", -1.0),
        ("ESTABLISHED", "established", ""),
    ],
)
@pytest.mark.parametrize("direction", ["ASC", "DESC"])
def test_sorted_pages_follow_keyset_cursors(
    city_api: GraphQLClient, resolved_city: Any, field: str, prop: str, missing: Any, direction: str
) -> None:
    nodes, total = walk(city_api, sort={"field": field, "direction": direction})
    live = resolved_city.store.read(
        "MATCH (e:Enterprise) WHERE NOT (e)-[:REDIRECTS_TO]->() RETURN e.id AS id"
    )
    assert sorted(n["id"] for n in nodes) == sorted(r["id"] for r in live) and total == len(live)
    keys = [(missing if n[prop] is None else n[prop]) for n in nodes]
    expected = sorted(keys, reverse=direction == "DESC")
    assert keys == expected
    # ties (and nulls) break by id, ascending, so paging never skips or repeats
    for a, b in itertools.pairwise(nodes):
        if (a[prop] if a[prop] is not None else missing) == (b[prop] if b[prop] is not None else missing):
            assert a["id"] < b["id"]


def test_a_cursor_of_one_order_is_refused_by_another(city_api: GraphQLClient) -> None:
    page = city_api.data(LISTING, first=2, sort={"field": "NAME"})["enterprises"]
    cursor = page["pageInfo"]["endCursor"]
    assert city_api.error_codes(LISTING, first=2, after=cursor, sort={"field": "ESTABLISHED"}) == [
        "BAD_INPUT"
    ]
    assert city_api.error_codes(LISTING, first=2, after=cursor) == ["BAD_INPUT"]
    assert city_api.data(LISTING, first=2, after=cursor, sort={"field": "NAME"})["enterprises"]["edges"]
