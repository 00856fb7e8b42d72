"""Every statement the API sends must start from an index or a small label, never from a scan of all
source records: FalkorDB's planner starts from the records when a MATCH's WHERE filters them, which
made a panorama cost O(records in the city). This test runs the API's queries against the resolved
city, captures each distinct statement, and reads the store's plan for it (FalkorDB's and Neo4j's)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from entgraph.api.app import create_app
from entgraph.api.auth import Role
from entgraph.api.graphql_client import FULL_PANORAMA, GraphQLClient
from entgraph.city_fixtures import RecordingStore
from entgraph.graph.port import GraphStore, Params
from entgraph.settings import Settings

pytestmark = pytest.mark.stores

# Scans of the enterprise label that are accepted: substring search (the full-text index's fallback
# for text it cannot tokenise), an industry-code prefix, and the town and industry facets (aggregates
# over every live enterprise by design).
ALLOWED_ENTERPRISE_SCANS = (
    "CONTAINS $text",
    "industry_code STARTS WITH $industry",
    "e.town IS NOT NULL",
    "e.industry_code IS NOT NULL",
)


def first(store: GraphStore, cypher: str) -> Any:
    rows = store.read(cypher)
    return next(iter(rows[0].values())) if rows else None


@pytest.fixture(scope="module")
def statements(resolved_city: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Params | None]:
    store = RecordingStore(resolved_city.store)
    home = tmp_path_factory.mktemp("plans")
    settings = Settings(
        home=home, api_mode="development", api_jwt_secret="p" * 40, api_max_cost=10**8, api_max_depth=20
    )
    enterprise = first(
        resolved_city.store, "MATCH (r:SourceRecord)-[:ABOUT]->(e:Enterprise) RETURN e.id AS id LIMIT 1"
    )
    chain = first(resolved_city.store, "MATCH (c:IndustryChain) RETURN c.key AS k LIMIT 1")
    parcel = first(resolved_city.store, "MATCH (p:LandParcel) RETURN p.key AS k LIMIT 1")
    queries: list[tuple[str, dict[str, Any]]] = [
        (FULL_PANORAMA, {"id": enterprise}),
        (
            "query ($id: String) { enterprise(id: $id) { chainNeighbours { enterprise { id } } } }",
            {"id": enterprise},
        ),
        (
            "query ($n: String!) { industryChain(name: $n) { years enterpriseCount "
            "segments { enterprises { edges { node { id } } } } aggregates(by: SEGMENT_AND_TOWN) { tax } } }",
            {"n": chain},
        ),
        ('{ enterprises(search: "鞋业", first: 5) { totalCount edges { node { id } } } }', {}),
        (
            '{ enterprises(filter: {honour: "高新技术企业", town: "陈埭镇", industry: "C19", size: "小型", '
            'chain: "鞋服产业链", creditEvent: "x"}, sort: {field: NAME}, first: 5) { totalCount } }',
            {},
        ),
        ("query ($k: String!) { parcel(key: $k) { holders { id } history { date } } }", {"k": parcel}),
        ('{ parcels(first: 5, town: "陈埭镇") { edges { node { key } } } }', {}),
        (
            '{ creditEvents(first: 5, from: "2020", to: "2024", town: "陈埭镇") { totalCount '
            "edges { node { key enterprises { enterprise { id } } } } } creditEventKinds { kind count } }",
            {},
        ),
        (
            "query ($id: ID!) { mortgageNetwork(enterprise: $id, depth: 2) { edges { mortgageKey } } }",
            {"id": enterprise},
        ),
        ("{ stewardTasks(first: 5) { id candidates { enterprise { id } } } }", {}),
        ('{ fieldChecks(town: "陈埭镇") { totalCount edges { node { id enterpriseName } } } }', {}),
        (
            "{ enterpriseFacets { towns { value } industries { value } chains { value } "
            "honours { value } sizes { value } } }",
            {},
        ),
    ]
    with TestClient(create_app(settings, store, resolved_city.catalog)) as client:
        api = GraphQLClient(client, "p" * 40)
        for query, variables in queries:
            assert "errors" not in api.query(query, Role.ADMIN, **variables), query
    return store.statements


def test_the_api_sends_many_kinds_of_statement(statements: dict[str, Params | None]) -> None:
    assert len(statements) >= 25


def test_no_statement_scans_every_record_or_node(
    statements: dict[str, Params | None], resolved_city: Any
) -> None:
    store = resolved_city.store
    offenders = []
    for cypher, params in statements.items():
        scans = store.plan(cypher, params).scans
        bad = [
            scan or "(every node)"
            for scan in scans
            if scan in ("SourceRecord", "")
            or (scan == "Enterprise" and not any(a in cypher for a in ALLOWED_ENTERPRISE_SCANS))
        ]
        if bad:
            offenders.append((bad, cypher))
    assert not offenders, "\n".join(f"{bad}: {cypher}" for bad, cypher in offenders)
