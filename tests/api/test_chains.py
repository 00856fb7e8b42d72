"""Industry chains and metric series through HTTP: against the resolved generated city (read-only), and
against a small hand-made graph where every figure is known."""

from __future__ import annotations

import itertools
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from entgraph.api.app import create_app
from entgraph.api.auth import Role
from entgraph.api.graphql_client import GraphQLClient
from entgraph.catalog.registry import Catalog
from entgraph.graph.falkordb_store import FalkorDBStore
from entgraph.graph.port import GraphStore
from entgraph.settings import Settings

pytestmark = pytest.mark.stores

SEGMENTS = """
query ($name: String!, $year: Int) { industryChain(name: $name) {
  name years enterpriseCount(year: $year)
  segments(year: $year) {
    position year enterpriseCount enterprises(first: 100) { totalCount edges { node { id } } }
  }
  links(year: $year) { from to fromEnterprises toEnterprises }
} }
"""


def members(store: FalkorDBStore, chain: str) -> dict[tuple[int, str], set[str]]:
    rows = store.read(
        "MATCH (:IndustryChain {key: $c})<-[:IN_CHAIN]-(r:SourceRecord)-[:ABOUT {party: 'subject'}]->"
        "(e:Enterprise) WHERE NOT (e)-[:REDIRECTS_TO]->() AND r.chain_position IS NOT NULL "
        "RETURN r.year AS year, r.chain_position AS position, e.id AS id",
        {"c": chain},
    )
    out: dict[tuple[int, str], set[str]] = defaultdict(set)
    for row in rows:
        out[(row["year"], row["position"])].add(row["id"])
    return out


@pytest.fixture(scope="module")
def biggest_chain(resolved_city: Any) -> str:
    rows = resolved_city.store.read(
        "MATCH (c:IndustryChain)<-[:IN_CHAIN]-(:SourceRecord)-[:ABOUT]->(e:Enterprise) "
        "RETURN c.key AS key, count(DISTINCT e) AS n ORDER BY n DESC, key LIMIT 1"
    )
    return rows[0]["key"]


def test_chains_are_listed_by_name(city_api: GraphQLClient, resolved_city: Any) -> None:
    names = [r["k"] for r in resolved_city.store.read("MATCH (c:IndustryChain) RETURN c.key AS k ORDER BY k")]
    listed = [c["name"] for c in city_api.data("{ industryChains { name } }")["industryChains"]]
    assert listed == names and len(names) >= 2


def test_the_chain_list_takes_first(city_api: GraphQLClient) -> None:
    every = [c["name"] for c in city_api.data("{ industryChains(first: 100) { name } }")["industryChains"]]
    assert len(every) >= 2
    first = city_api.data("{ industryChains(first: 1) { name } }")["industryChains"]
    assert [c["name"] for c in first] == every[:1]
    assert city_api.error_codes("{ industryChains(first: 0) { name } }") == ["BAD_INPUT"]
    assert city_api.error_codes("{ industryChains(first: 101) { name } }") == ["BAD_INPUT"]


def test_segments_per_year_hold_exactly_the_graphs_members(
    city_api: GraphQLClient, resolved_city: Any, biggest_chain: str
) -> None:
    truth = members(resolved_city.store, biggest_chain)
    years = sorted({year for year, _ in truth})
    for year in years:
        chain = city_api.data(SEGMENTS, name=biggest_chain, year=year)["industryChain"]
        assert chain["years"] == years
        positions = [s["position"] for s in chain["segments"]]
        assert positions == [p for p in ("上游", "中游", "下游") if (year, p) in truth]  # supply order
        for segment in chain["segments"]:
            ids = {e["node"]["id"] for e in segment["enterprises"]["edges"]}
            assert ids == truth[(year, segment["position"])]
            assert segment["enterpriseCount"] == segment["enterprises"]["totalCount"] == len(ids)
        everyone = set().union(*(ids for (y, _), ids in truth.items() if y == year))
        assert chain["enterpriseCount"] >= len(everyone)
        assert [(link["from"], link["to"]) for link in chain["links"]] == list(itertools.pairwise(positions))
    latest = city_api.data(SEGMENTS, name=biggest_chain)["industryChain"]  # no year: the latest
    assert {s["year"] for s in latest["segments"]} == {years[-1]}


def test_segment_pages_follow_cursors(
    city_api: GraphQLClient, resolved_city: Any, biggest_chain: str
) -> None:
    truth = members(resolved_city.store, biggest_chain)
    (year, position), ids = max(truth.items(), key=lambda item: (len(item[1]), item[0]))
    assert len(ids) >= 2, "the generated city should have a segment of two or more"
    page_query = """query ($n: String!, $y: Int, $after: String) { industryChain(name: $n) {
      segments(year: $y) { position enterprises(first: 1, after: $after) {
        edges { node { id } } pageInfo { hasNextPage endCursor } } } } }"""
    seen: list[str] = []
    after = None
    while True:
        chain = city_api.data(page_query, n=biggest_chain, y=year, after=after)["industryChain"]
        segments = chain["segments"]
        page = next(s for s in segments if s["position"] == position)["enterprises"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == sorted(ids)


def test_neighbours_sit_in_the_segment_upstream_downstream_or_alongside(
    city_api: GraphQLClient, resolved_city: Any, biggest_chain: str
) -> None:
    truth = members(resolved_city.store, biggest_chain)
    year = max(y for y, _ in truth)
    midstream = sorted(truth.get((year, "中游"), set()) | truth.get((year, "下游"), set()))
    assert midstream, "the generated city should have a 中游 or 下游 member"
    me = midstream[0]
    own = next(p for (y, p), ids in truth.items() if y == year and me in ids)
    query = """query ($id: String, $chain: String, $year: Int) { enterprise(id: $id) {
      chainNeighbours(chain: $chain, year: $year) {
        enterprise { id } chain year relation position reason } } }"""
    found = city_api.data(query, id=me, chain=biggest_chain, year=year)["enterprise"]["chainNeighbours"]
    order = ["上游", "中游", "下游"]
    expected = {
        "UPSTREAM": order[order.index(own) - 1] if order.index(own) > 0 else None,
        "DOWNSTREAM": order[order.index(own) + 1] if order.index(own) < 2 else None,
        "PEER": own,
    }
    for relation, position in expected.items():
        got = {n["enterprise"]["id"] for n in found if n["relation"] == relation}
        want = truth.get((year, position), set()) - {me} if position else set()
        assert got == want, relation
    assert found and all(n["chain"] == biggest_chain and n["year"] == year for n in found)
    assert all(biggest_chain in n["reason"] and n["position"] in n["reason"] for n in found)
    upstream_only = query.replace("year: $year)", "year: $year, relations: [UPSTREAM])")
    only_up = city_api.data(upstream_only, id=me, chain=biggest_chain, year=year)["enterprise"]
    assert {n["relation"] for n in only_up["chainNeighbours"]} <= {"UPSTREAM"}
    too_many = query.replace("year: $year)", "year: $year, first: 101)")
    assert city_api.error_codes(too_many, id=me) == ["BAD_INPUT"]


def test_unknown_chain_is_not_found(city_api: GraphQLClient) -> None:
    assert city_api.error_codes('{ industryChain(name: "没有这条链") { name } }') == ["NOT_FOUND"]
    assert city_api.error_codes('{ industryChain(name: " ") { name } }') == ["BAD_INPUT"]


# -- metric series on the panorama ------------------------------------------------------------------


def test_metric_series_sum_the_records_per_month(city_api: GraphQLClient, resolved_city: Any) -> None:
    rows = resolved_city.store.read(
        "MATCH (r:SourceRecord {dataset: 'jj_tax_net_receipts'})-[:ABOUT {party: 'subject'}]->(e:Enterprise) "
        "RETURN e.id AS id, left(r.period_end, 7) AS month, r.amount_paid AS amount"
    )
    by_enterprise: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for row in rows:
        by_enterprise[row["id"]][row["month"]] += row["amount"]
    enterprise_id = max(by_enterprise, key=lambda k: (len(by_enterprise[k]), k))
    query = """query ($id: String, $from: String, $to: String) { enterprise(id: $id) {
      metrics(names: ["tax"], from: $from, to: $to) {
        metric unit dataset department points { period value } } } }"""
    series = city_api.data(query, role=Role.ANALYST, id=enterprise_id)["enterprise"]["metrics"]
    tax = next(s for s in series if s["dataset"] == "jj_tax_net_receipts")
    assert {s["metric"] for s in series} == {"tax"} and tax["unit"] == "元" and tax["department"]
    points = {p["period"]: p["value"] for p in tax["points"]}
    assert points == pytest.approx(dict(by_enterprise[enterprise_id]))
    assert [p["period"] for p in tax["points"]] == sorted(points)
    months = sorted(points)
    last = {"from": months[-1], "to": months[-1]}
    bounded = city_api.data(query, role=Role.ANALYST, id=enterprise_id, **last)
    assert [p["period"] for s in bounded["enterprise"]["metrics"] for p in s["points"]] == [months[-1]]
    # Tax figures are 有条件使用 and not open to the public: the public sees no series at all.
    assert city_api.data(query, role=Role.PUBLIC, id=enterprise_id)["enterprise"]["metrics"] == []
    assert city_api.error_codes(query, id=enterprise_id, **{"from": "April"}) == ["BAD_INPUT"]


# -- aggregates on a graph whose every figure is known ----------------------------------------------

KNOWN = """
CREATE (c:IndustryChain {key: '鞋服产业链', name: '鞋服产业链'})
CREATE (a:Enterprise {id: 'E-A', name: '甲鞋材', town: '陈埭镇'}),
       (b:Enterprise {id: 'E-B', name: '乙鞋业', town: '陈埭镇'}),
       (d:Enterprise {id: 'E-D', name: '丁服装', town: '池店镇'}),
       (x:Enterprise {id: 'E-X', name: '旧名'})-[:REDIRECTS_TO]->(b)
CREATE (:SourceRecord {id: 'm1', dataset: 'jj_industry_chains', year: 2022, chain_position: '上游'})
         -[:IN_CHAIN]->(c),
       (:SourceRecord {id: 'm2', dataset: 'jj_industry_chains', year: 2022, chain_position: '中游'})
         -[:IN_CHAIN]->(c),
       (:SourceRecord {id: 'm3', dataset: 'jj_industry_chains', year: 2022, chain_position: '下游'})
         -[:IN_CHAIN]->(c),
       (:SourceRecord {id: 'm4', dataset: 'jj_industry_chains', year: 2021, chain_position: '中游'})
         -[:IN_CHAIN]->(c),
       (:SourceRecord {id: 'm5', dataset: 'jj_industry_chains', year: 2022, chain_position: '中游'})
         -[:IN_CHAIN]->(c)
WITH c, a, b, d, x
MATCH (m1 {id: 'm1'}), (m2 {id: 'm2'}), (m3 {id: 'm3'}), (m4 {id: 'm4'}), (m5 {id: 'm5'})
CREATE (m1)-[:ABOUT {party: 'subject'}]->(a), (m2)-[:ABOUT {party: 'subject'}]->(b),
       (m3)-[:ABOUT {party: 'subject'}]->(d), (m4)-[:ABOUT {party: 'subject'}]->(a),
       (m5)-[:ABOUT {party: 'subject'}]->(x)
CREATE (:SourceRecord {id: 't1', dataset: 'jj_tax_net_receipts', amount_paid: 100.0,
                       period_end: '2022-01-31'})
         -[:ABOUT {party: 'subject'}]->(a),
       (:SourceRecord {id: 't2', dataset: 'jj_tax_net_receipts', amount_paid: 50.0,
                       period_end: '2022-02-28'})
         -[:ABOUT {party: 'subject'}]->(a),
       (:SourceRecord {id: 't3', dataset: 'jj_tax_net_receipts', amount_paid: 999.0,
                       period_end: '2021-12-31'})
         -[:ABOUT {party: 'subject'}]->(a),
       (:SourceRecord {id: 't4', dataset: 'wh_tax_revenue', net_tax: 120.0, period: '2022-03'})
         -[:ABOUT {party: 'subject'}]->(a),
       (:SourceRecord {id: 't5', dataset: 'jj_tax_net_receipts', amount_paid: 70.0, period_end: '2022-05-31'})
         -[:ABOUT {party: 'subject'}]->(b),
       (:SourceRecord {id: 't6', dataset: 'jj_tax_net_receipts', amount_paid: 5.0, period_end: '2022-05-31',
                       retired: true})-[:ABOUT {party: 'subject'}]->(b),
       (:SourceRecord {id: 'k1', dataset: 'jj_key_enterprise_electricity', electricity_kwh: 4000.0,
                       period: '2022-06'})-[:ABOUT {party: 'subject'}]->(d)
"""

AGGREGATES = """query ($by: ChainGrouping!) { industryChain(name: "鞋服产业链") {
  years enterpriseCount
  aggregates(by: $by) { position town enterprises tax electricityKwh outputValue } } }"""


@pytest.fixture
def known(fresh_graph: GraphStore, tmp_path: Path) -> Any:
    fresh_graph.write(KNOWN)
    settings = Settings(
        home=tmp_path, api_mode="development", api_jwt_secret="k" * 40, api_keys_file=tmp_path / "keys.toml"
    )
    with TestClient(create_app(settings, fresh_graph, Catalog.load(entry_points=False))) as client:
        yield GraphQLClient(client, "k" * 40, default_role=Role.ANALYST)


def test_aggregates_add_each_enterprise_once_per_group(known: GraphQLClient) -> None:
    chain = known.data(AGGREGATES, by="SEGMENT")["industryChain"]
    assert chain["years"] == [2021, 2022] and chain["enterpriseCount"] == 3
    by_segment = {g["position"]: g for g in chain["aggregates"]}
    assert list(by_segment) == ["上游", "中游", "下游"]
    # E-A's 2022 tax: 150 from the tax bureau's feed, 120 from another: the larger, not 270; 2021's 999
    # is another year.
    assert by_segment["上游"] == {
        "position": "上游",
        "town": None,
        "enterprises": 1,
        "tax": 150.0,
        "electricityKwh": 0.0,
        "outputValue": 0.0,
    }
    # E-B is counted once although a merged-away id's membership also points at it; the retired
    # record's 5.0 is not counted.
    assert (by_segment["中游"]["enterprises"], by_segment["中游"]["tax"]) == (1, 70.0)
    assert (by_segment["下游"]["tax"], by_segment["下游"]["electricityKwh"]) == (0.0, 4000.0)
    by_town = {g["town"]: g for g in known.data(AGGREGATES, by="TOWN")["industryChain"]["aggregates"]}
    assert (by_town["陈埭镇"]["enterprises"], by_town["陈埭镇"]["tax"]) == (2, 220.0)
    assert by_town["池店镇"]["position"] is None
    both = known.data(AGGREGATES, by="SEGMENT_AND_TOWN")["industryChain"]["aggregates"]
    pairs = {(g["position"], g["town"]) for g in both}
    assert pairs == {("上游", "陈埭镇"), ("中游", "陈埭镇"), ("下游", "池店镇")}
    # The public may not see the chain register (有条件使用) at all, nor tax or electricity figures.
    assert known.error_codes(AGGREGATES, role=Role.PUBLIC, by="SEGMENT") == ["FORBIDDEN"]
    assert known.error_codes("{ industryChains { name } }", role=Role.PUBLIC) == ["FORBIDDEN"]
