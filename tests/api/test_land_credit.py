"""Land and credit through HTTP: parcels with holders and history, credit events by kind and period,
mortgage networks; against the resolved generated city (read-only) and small hand-made graphs."""

from __future__ import annotations

from typing import Any

import pytest

from entgraph.api.auth import Role
from entgraph.api.graphql_client import GraphQLClient
from entgraph.graph.falkordb_store import FalkorDBStore
from entgraph.graph.port import GraphStore, Row

pytestmark = pytest.mark.stores

HISTORY = """
query ($key: String!) { parcel(key: $key) {
  key parcelNo location area towns
  holders { id }
  history { recordId dataset datasetTitle relation date price area landUse transferMethod
            parties { party enterprise { id name } } }
} }
"""
EVENTS = """
query ($kind: String, $from: String, $to: String, $town: String, $first: Int!, $after: String) {
  creditEvents(kind: $kind, from: $from, to: $to, town: $town, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { key kind decidedOn documentNo datasets enterprises { party enterprise { id } } } }
  }
}
"""
NETWORK = """
query ($id: ID!, $depth: Int!, $first: Int!) {
 mortgageNetwork(enterprise: $id, depth: $depth, first: $first) {
  center { id } truncated nodes { id }
  edges { mortgageKey hop amount registeredOn mortgagor { id } mortgagee { id } }
} }
"""


def read(store: FalkorDBStore, cypher: str, **params: Any) -> list[Row]:
    return store.read(cypher, params)


@pytest.fixture
def client(city_api: GraphQLClient) -> GraphQLClient:
    return city_api


def walk(client: GraphQLClient, query: str, field: str, first: int, **variables: Any) -> list[dict[str, Any]]:
    """Every node of a connection, page by page, checking the cursors chain."""
    nodes: list[dict[str, Any]] = []
    after = None
    for _ in range(1000):
        page = client.data(query, first=first, after=after, **variables)[field]
        assert len(page["edges"]) <= first
        nodes += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        assert page["edges"], "a page with a next page is not empty"
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
    raise AssertionError("paging did not end")


# -- parcels ---------------------------------------------------------------------------------------

PARCELS = """
query ($holder: ID, $town: String, $first: Int!, $after: String) {
  parcels(holder: $holder, town: $town, first: $first, after: $after) {
    pageInfo { hasNextPage endCursor } edges { cursor node { key holders { id } } }
  }
}
"""


def test_a_parcels_history_is_every_live_record_with_its_parties(
    client: GraphQLClient, resolved_city: Any
) -> None:
    store = resolved_city.store
    # a parcel a transfer concerns: its record names a transferee (subject) and maybe a transferor
    key = read(
        store,
        "MATCH (r:SourceRecord {dataset: 'jj_land_transfers'})-[:CONCERNS_PARCEL]->(p:LandParcel) "
        "RETURN p.key AS key ORDER BY key LIMIT 1",
    )[0]["key"]
    expected = read(
        store,
        "MATCH (p:LandParcel {key: $key})<-[x]-(r:SourceRecord) WHERE r.retired IS NULL "
        "OPTIONAL MATCH (r)-[a:ABOUT]->(e:Enterprise) "
        "RETURN r.id AS id, r.dataset AS dataset, type(x) AS relation, r.transferred_on AS on, "
        "r.transfer_method AS method, collect([a.party, e.id]) AS parties",
        key=key,
    )
    parcel = client.data(HISTORY, key=key)["parcel"]
    node = read(store, "MATCH (p:LandParcel {key: $key}) RETURN properties(p) AS p", key=key)[0]["p"]
    assert parcel["key"] == key
    assert parcel["location"] == node.get("location")
    assert parcel["area"] == node.get("area")
    history = parcel["history"]
    assert sorted(h["recordId"] for h in history) == sorted(r["id"] for r in expected)
    by_id = {r["id"]: r for r in expected}
    for item in history:
        row = by_id[item["recordId"]]
        assert (item["dataset"], item["relation"]) == (row["dataset"], row["relation"])
        assert item["datasetTitle"]
        if row["dataset"] == "jj_land_transfers":
            assert item["date"] == row["on"]
            assert item["transferMethod"] == row["method"]
        assert sorted((p["party"], p["enterprise"]["id"]) for p in item["parties"]) == sorted(
            (party, eid) for party, eid in row["parties"] if eid is not None
        )
    # dates never go backwards
    dates = [h["date"] or "" for h in history]
    assert dates == sorted(dates)
    latest = history[-1]
    assert {h["id"] for h in parcel["holders"]} == {
        p["enterprise"]["id"] for p in latest["parties"] if p["party"] == "subject"
    }


def test_unknown_parcel_is_not_found(client: GraphQLClient) -> None:
    assert client.error_codes('{ parcel(key: "NO-SUCH-PARCEL") { key } }') == ["NOT_FOUND"]


def test_parcels_page_through_all_parcels_in_key_order(client: GraphQLClient, resolved_city: Any) -> None:
    everything = [r["key"] for r in read(resolved_city.store, "MATCH (p:LandParcel) RETURN p.key AS key")]
    listed = [n["key"] for n in walk(client, PARCELS, "parcels", first=7)]
    assert listed == sorted(everything)
    assert len(listed) > 14  # several pages


def test_parcels_of_a_holder_are_those_it_holds_now(client: GraphQLClient, resolved_city: Any) -> None:
    rows = read(
        resolved_city.store,
        "MATCH (e:Enterprise)<-[a:ABOUT {party: 'subject'}]-(r:SourceRecord)-->(p:LandParcel) "
        "WHERE r.retired IS NULL RETURN e.id AS id, count(DISTINCT p) AS n ORDER BY n DESC, id LIMIT 3",
    )
    assert rows
    for row in rows:
        held = walk(client, PARCELS, "parcels", first=100, holder=row["id"])
        assert held
        assert all(row["id"] in [h["id"] for h in n["holders"]] for n in held)
        # and every parcel whose holders include it is listed
        all_parcels = walk(client, PARCELS, "parcels", first=100)
        assert {n["key"] for n in held} == {
            n["key"] for n in all_parcels if row["id"] in [h["id"] for h in n["holders"]]
        }
    assert client.data(PARCELS, first=10, holder="E-NOPE")["parcels"]["edges"] == []


def test_parcels_by_town(client: GraphQLClient, resolved_city: Any) -> None:
    rows = read(
        resolved_city.store,
        "MATCH (t:Town)<-[:IN_TOWN]-(r:SourceRecord)-->(p:LandParcel) "
        "RETURN t.name AS town, collect(DISTINCT p.key) AS keys ORDER BY size(keys) DESC, town LIMIT 1",
    )
    town, keys = rows[0]["town"], rows[0]["keys"]
    listed = walk(client, PARCELS, "parcels", first=3, town=town)
    assert [n["key"] for n in listed] == sorted(keys)
    assert client.data(PARCELS, first=10, town="没有这个镇")["parcels"]["edges"] == []


def test_parcel_paging_arguments_are_checked(client: GraphQLClient) -> None:
    assert client.error_codes(PARCELS, first=101) == ["BAD_INPUT"]
    assert client.error_codes(PARCELS, first=-1) == ["BAD_INPUT"]
    assert client.error_codes(PARCELS, first=5, after="not-a-cursor") == ["BAD_INPUT"]
    # a cursor of another list is not a parcel cursor
    event_cursor = client.data(EVENTS, first=1)["creditEvents"]["edges"][0]["cursor"]
    assert client.error_codes(PARCELS, first=5, after=event_cursor) == ["BAD_INPUT"]


def test_a_page_of_parcels_costs_the_same_reads_as_one(client: GraphQLClient, counting: Any) -> None:
    query = """query ($first: Int!) { parcels(first: $first) { edges { node {
      key holders { id name } towns
      history { recordId date parties { party enterprise { id name creditCode } } } } } } }"""

    def reads(first: int) -> int:
        before = counting.reads
        page = client.data(query, first=first)["parcels"]["edges"]
        assert len(page) == first
        return counting.reads - before

    assert reads(1) == reads(40)


# As a load leaves it: the parcel's properties are what its records state (the grant's number,
# location and area), which a caller sees only as far as it may see a record stating them.
HAND_MADE_PARCEL = """
CREATE (a:Enterprise {id: 'E-A', name: '甲公司'}), (b:Enterprise {id: 'E-B', name: '乙公司'}),
       (c:Enterprise {id: 'E-C', name: '丙公司'}),
       (p:LandParcel {key: 'P-1', parcel_no: 'P-1', location: '世纪大道1号', area: 1000.0})
CREATE (g:SourceRecord:LandGrant {id: 'g1', dataset: 'jj_land_grants', granted_on: '2020-05-01',
        price: 5000000.0, area: 1000.0, town: '青阳街道', parcel_no: 'P-1', location: '世纪大道1号'})
       -[:CONCERNS_PARCEL]->(p),
       (g)-[:ABOUT {party: 'subject'}]->(a), (g)-[:IN_TOWN]->(:Town {key: '青阳街道', name: '青阳街道'})
CREATE (t:SourceRecord:LandTransfer {id: 't1', dataset: 'jj_land_transfers', transferred_on: '2022-03-01',
        transfer_method: '买卖', land_use_after: '工业用地', area: 990.5})-[:CONCERNS_PARCEL]->(p),
       (t)-[:ABOUT {party: 'subject'}]->(b), (t)-[:ABOUT {party: 'transferor'}]->(a)
CREATE (k:SourceRecord:LandCertificate {id: 'c1', dataset: 'wh_land_certificates', issued_on: '2021-01-10'})
       -[:REGISTERS_TITLE]->(p), (k)-[:ABOUT {party: 'subject'}]->(a)
CREATE (x:SourceRecord:LandTransfer {id: 'x1', dataset: 'jj_land_transfers', transferred_on: '2023-01-01',
        retired: true})-[:CONCERNS_PARCEL]->(p), (x)-[:ABOUT {party: 'subject'}]->(c)
CREATE (u:SourceRecord:LandAllocation {id: 'u0', dataset: 'jj_land_allocations'})-[:CONCERNS_PARCEL]->(p)
"""


def test_history_is_in_date_order_and_the_latest_subject_holds(
    graph_api: GraphQLClient,
    fresh_graph: GraphStore,
) -> None:
    client, store = graph_api, fresh_graph
    store.write(HAND_MADE_PARCEL)
    parcel = client.data(HISTORY, key="P-1")["parcel"]
    history = parcel["history"]
    # undated first, then by date; the retired record is gone
    assert [h["recordId"] for h in history] == ["u0", "g1", "c1", "t1"]
    assert [h["date"] for h in history] == [None, "2020-05-01", "2021-01-10", "2022-03-01"]
    assert [h["relation"] for h in history] == [
        "CONCERNS_PARCEL",
        "CONCERNS_PARCEL",
        "REGISTERS_TITLE",
        "CONCERNS_PARCEL",
    ]
    grant, transfer = history[1], history[3]
    assert (grant["price"], grant["area"], grant["datasetTitle"]) == (5000000.0, 1000.0, "国有土地出让信息")
    assert (transfer["price"], transfer["area"], transfer["landUse"], transfer["transferMethod"]) == (
        None,
        990.5,
        "工业用地",
        "买卖",
    )
    assert [(p["party"], p["enterprise"]["id"]) for p in transfer["parties"]] == [
        ("subject", "E-B"),
        ("transferor", "E-A"),
    ]
    assert history[0]["parties"] == []
    assert parcel["holders"] == [{"id": "E-B"}]
    assert parcel["towns"] == ["青阳街道"]
    # the holder filter agrees: B holds it now; A did; C's record is retired
    assert [e["node"]["key"] for e in client.data(PARCELS, first=5, holder="E-B")["parcels"]["edges"]] == [
        "P-1"
    ]
    assert client.data(PARCELS, first=5, holder="E-A")["parcels"]["edges"] == []
    assert client.data(PARCELS, first=5, holder="E-C")["parcels"]["edges"] == []
    assert len(client.data(PARCELS, first=5, town="青阳街道")["parcels"]["edges"]) == 1


def test_record_values_follow_their_columns_sharing(
    graph_api: GraphQLClient, fresh_graph: GraphStore
) -> None:
    client, store = graph_api, fresh_graph
    store.write(HAND_MADE_PARCEL)
    # Land grants are publicly announced (无条件使用, open); transfers, allocations and certificates are
    # 有条件使用: the public sees the parcel as the grant states it, and who holds it by that record.
    public = client.data(HISTORY, Role.PUBLIC, key="P-1")["parcel"]
    assert [h["recordId"] for h in public["history"]] == ["g1"]
    assert (public["history"][0]["date"], public["history"][0]["price"]) == ("2020-05-01", 5000000.0)
    assert (public["parcelNo"], public["location"], public["area"]) == ("P-1", "世纪大道1号", 1000.0)
    assert public["holders"] == [{"id": "E-A"}]  # the transfer to E-B is not the public's to know
    analyst = client.data(HISTORY, Role.ANALYST, key="P-1")["parcel"]
    assert [h["recordId"] for h in analyst["history"]] == ["u0", "g1", "c1", "t1"]
    assert analyst["history"][3]["date"] == "2022-03-01" and analyst["holders"] == [{"id": "E-B"}]


def test_a_parcel_only_hidden_datasets_know_is_not_found_for_the_public(
    graph_api: GraphQLClient, fresh_graph: GraphStore
) -> None:
    key = "闽(2023)晋江市不动产权第1号"
    fresh_graph.write(
        "CREATE (p:LandParcel {key: $key, certificate_no: $key}), "
        "(:SourceRecord {id: 'c9', dataset: 'wh_land_certificates'})-[:REGISTERS_TITLE]->(p)",
        {"key": key},
    )
    doc = "query ($key: String!) { parcel(key: $key) { key certificateNo } }"
    assert graph_api.error_codes(doc, Role.PUBLIC, key=key) == ["NOT_FOUND"]
    assert graph_api.data(doc, Role.ANALYST, key=key)["parcel"]["certificateNo"] == key
    listed = "{ parcels(first: 10) { edges { node { key } } } }"
    assert graph_api.data(listed, Role.PUBLIC)["parcels"]["edges"] == []
    assert len(graph_api.data(listed, Role.ANALYST)["parcels"]["edges"]) == 1


# -- credit events ---------------------------------------------------------------------------------

EVENT_DATES = (
    "MATCH (n:CreditEvent)<-[:RECORDS_EVENT]-(r:SourceRecord) WHERE r.retired IS NULL "
    "WITH n, coalesce(n.decided_on, n.occurred_on, r.decided_on, r.occurred_on) AS on "
    "RETURN n.key AS key, n.kind AS kind, on"
)


@pytest.fixture(scope="module")
def events(resolved_city: Any) -> dict[str, dict[str, Any]]:
    rows = read(resolved_city.store, EVENT_DATES)
    assert len({r["key"] for r in rows}) == len(rows), "one live record per event in the city"
    return {r["key"]: r for r in rows}


def test_credit_events_by_kind_are_all_of_that_kind(
    client: GraphQLClient, events: dict[str, dict[str, Any]]
) -> None:
    kinds = client.data("{ creditEventKinds { kind count } }")["creditEventKinds"]
    expected: dict[str, int] = {}
    for event in events.values():
        expected[event["kind"]] = expected.get(event["kind"], 0) + 1
    assert {k["kind"]: k["count"] for k in kinds} == expected
    assert len(expected) >= 3
    for kind in expected:
        listed = walk(client, EVENTS, "creditEvents", first=4, kind=kind)
        assert all(n["kind"] == kind for n in listed)
        assert [n["key"] for n in listed] == sorted(k for k, e in events.items() if e["kind"] == kind)
    assert client.data(EVENTS, first=5, kind="没有这种")["creditEvents"]["edges"] == []


def test_credit_events_page_through_everything_with_a_total(
    client: GraphQLClient, events: dict[str, dict[str, Any]]
) -> None:
    listed = walk(client, EVENTS, "creditEvents", first=9)
    assert [n["key"] for n in listed] == sorted(events)
    assert client.data(EVENTS, first=1)["creditEvents"]["totalCount"] == len(events)
    for node in listed:
        assert node["decidedOn"] == events[node["key"]]["on"]


def test_the_period_filter_keeps_events_decided_within_it(
    client: GraphQLClient, events: dict[str, dict[str, Any]]
) -> None:
    dates = sorted(e["on"] for e in events.values() if e["on"])
    low, high = dates[len(dates) // 4], dates[3 * len(dates) // 4]
    listed = walk(client, EVENTS, "creditEvents", first=100, **{"from": low, "to": high})
    inside = sorted(k for k, e in events.items() if e["on"] and low <= e["on"] <= high)
    assert [n["key"] for n in listed] == inside
    assert 0 < len(inside) < len(events)
    assert all(low <= n["decidedOn"] <= high for n in listed)
    # partial dates: a year is the whole year
    year = dates[0][:4]
    whole = walk(client, EVENTS, "creditEvents", first=100, **{"from": year, "to": year})
    assert [n["key"] for n in whole] == sorted(k for k, e in events.items() if (e["on"] or "")[:4] == year)
    page = client.data(EVENTS, first=1, **{"from": year, "to": year})["creditEvents"]
    assert page["totalCount"] == len(whole)
    # from alone, and kinds counted over the period
    later = walk(client, EVENTS, "creditEvents", first=100, **{"from": high})
    assert [n["key"] for n in later] == sorted(k for k, e in events.items() if e["on"] and e["on"] >= high)
    counted = client.data("query ($f: String) { creditEventKinds(from: $f) { count } }", f=high)
    assert sum(k["count"] for k in counted["creditEventKinds"]) == len(later)


def test_credit_events_name_their_enterprises_and_datasets(client: GraphQLClient, resolved_city: Any) -> None:
    rows = read(
        resolved_city.store,
        "MATCH (n:CreditEvent)<-[:RECORDS_EVENT]-(r:SourceRecord) WHERE r.retired IS NULL "
        "OPTIONAL MATCH (r)-[a:ABOUT]->(e:Enterprise) "
        "RETURN n.key AS key, collect(DISTINCT r.dataset) AS datasets, collect([a.party, e.id]) AS parties",
    )
    expected = {r["key"]: r for r in rows}
    listed = walk(client, EVENTS, "creditEvents", first=100)
    assert any(n["enterprises"] for n in listed)
    for node in listed:
        row = expected[node["key"]]
        assert node["datasets"] == sorted(row["datasets"])
        assert [(p["party"], p["enterprise"]["id"]) for p in node["enterprises"]] == sorted(
            {(party, eid) for party, eid in row["parties"] if eid is not None}
        )


def test_credit_events_by_town_are_about_an_enterprise_there(
    client: GraphQLClient, resolved_city: Any
) -> None:
    rows = read(
        resolved_city.store,
        "MATCH (n:CreditEvent)<-[:RECORDS_EVENT]-(r:SourceRecord)-[:ABOUT]->(e:Enterprise) "
        "WHERE e.town IS NOT NULL AND r.retired IS NULL "
        "RETURN e.town AS town, collect(DISTINCT n.key) AS keys ORDER BY size(keys) DESC, town LIMIT 1",
    )
    town, keys = rows[0]["town"], rows[0]["keys"]
    listed = walk(client, EVENTS, "creditEvents", first=100, town=town)
    assert [n["key"] for n in listed] == sorted(keys)


def test_a_page_of_credit_events_costs_the_same_reads_as_one(client: GraphQLClient, counting: Any) -> None:
    query = """query ($first: Int!) { creditEvents(first: $first) { edges { node {
      key datasets enterprises { party enterprise { id name creditEvents { key } } } } } } }"""

    def reads(first: int) -> int:
        before = counting.reads
        assert len(client.data(query, first=first)["creditEvents"]["edges"]) == first
        return counting.reads - before

    assert reads(1) == reads(30)


def test_public_callers_get_no_credit_data(client: GraphQLClient) -> None:
    for query in ("{ creditEvents { edges { node { key } } } }", "{ creditEventKinds { kind count } }"):
        body = client.query(query, Role.PUBLIC)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
        assert body["data"] is None
        assert client.data(query, Role.ANALYST)


def test_credit_event_arguments_are_checked(client: GraphQLClient) -> None:
    for bad in ({"from": "2021-13-01"}, {"to": "yesterday"}, {"from": "2022", "to": "2021"}):
        assert client.error_codes(EVENTS, first=5, **bad) == ["BAD_INPUT"], bad
    assert client.error_codes(EVENTS, first=101) == ["BAD_INPUT"]
    assert client.error_codes(EVENTS, first=5, after="eA==") == ["BAD_INPUT"]
    assert client.error_codes('{ creditEventKinds(from: "2021-02-30") { kind } }') == ["BAD_INPUT"]


# -- mortgage networks -----------------------------------------------------------------------------

MORTGAGE_LINKS = (
    "MATCH (g:Enterprise)<-[:ABOUT {party: 'subject'}]-(r:SourceRecord)-[:SECURED_BY]->(m:Mortgage), "
    "(r)-[:ABOUT {party: 'mortgagee'}]->(h:Enterprise) WHERE r.retired IS NULL "
    "RETURN DISTINCT m.key AS key, g.id AS mortgagor, h.id AS mortgagee, m.mortgage_amount AS amount, "
    "m.registered_on AS registered_on"
)


def test_mortgage_network_edges_match_the_graph(client: GraphQLClient, resolved_city: Any) -> None:
    links = read(resolved_city.store, MORTGAGE_LINKS)
    by_mortgagee: dict[str, list[Row]] = {}
    for link in links:
        by_mortgagee.setdefault(link["mortgagee"], []).append(link)
    bank, banks_links = max(by_mortgagee.items(), key=lambda item: (len(item[1]), item[0]))
    assert len({link["mortgagor"] for link in banks_links}) >= 2
    borrower = min(link["mortgagor"] for link in banks_links)

    def as_edges(rows: list[Row]) -> set[tuple[Any, ...]]:
        return {(r["key"], r["mortgagor"], r["mortgagee"], r["amount"], r["registered_on"]) for r in rows}

    def served(network: dict[str, Any]) -> set[tuple[Any, ...]]:
        return {
            (e["mortgageKey"], e["mortgagor"]["id"], e["mortgagee"]["id"], e["amount"], e["registeredOn"])
            for e in network["edges"]
        }

    one = client.data(NETWORK, id=borrower, depth=1, first=100)["mortgageNetwork"]
    own = [link for link in links if borrower in (link["mortgagor"], link["mortgagee"])]
    assert one["center"] == {"id": borrower}
    assert served(one) == as_edges(own)
    assert {e["hop"] for e in one["edges"]} == {1}
    assert not one["truncated"]
    assert {n["id"] for n in one["nodes"]} == {borrower} | {
        x for r in own for x in (r["mortgagor"], r["mortgagee"])
    }
    assert one["nodes"][0] == {"id": borrower}

    # two hops: also every other link of its counterparties (the bank's other borrowers)
    two = client.data(NETWORK, id=borrower, depth=2, first=100)["mortgageNetwork"]
    reached = {x for r in own for x in (r["mortgagor"], r["mortgagee"])}
    second = [link for link in links if reached & {link["mortgagor"], link["mortgagee"]}]
    assert served(two) == as_edges(second)
    assert as_edges(banks_links) <= served(two)
    assert {
        (e["mortgageKey"], e["mortgagor"]["id"], e["mortgagee"]["id"]) for e in two["edges"] if e["hop"] == 1
    } == {(r["key"], r["mortgagor"], r["mortgagee"]) for r in own}
    # seen from the bank, one hop is all of its mortgages
    from_bank = client.data(NETWORK, id=bank, depth=1, first=100)["mortgageNetwork"]
    assert served(from_bank) == as_edges(banks_links)

    capped = client.data(NETWORK, id=bank, depth=1, first=1)["mortgageNetwork"]
    assert len(capped["edges"]) == 1 and capped["truncated"]
    assert len(capped["nodes"]) == 2


HAND_MADE_MORTGAGES = [  # mortgagor, mortgagee, mortgage key, registered on
    ("E-A", "E-BANK1", "m1", "2021-01-01"),
    ("E-B", "E-BANK1", "m2", "2021-02-01"),
    ("E-B", "E-BANK2", "m3", "2021-03-01"),
    ("E-C", "E-BANK2", "m4", "2021-04-01"),
]


def write_mortgages(store: FalkorDBStore) -> None:
    store.write(
        "UNWIND $ids AS id CREATE (:Enterprise {id: id})",
        {"ids": ["E-A", "E-B", "E-C", "E-BANK1", "E-BANK2", "E-LONE"]},
    )
    store.write(
        "UNWIND $links AS l MATCH (g:Enterprise {id: l.g}) MATCH (h:Enterprise {id: l.h}) "
        "CREATE (g)<-[:ABOUT {party: 'subject'}]-(r:SourceRecord:MortgageRecord "
        "{id: 'r-' + l.key, dataset: 'jj_real_estate_mortgages'})-[:ABOUT {party: 'mortgagee'}]->(h) "
        "CREATE (r)-[:SECURED_BY]->(:Mortgage {key: l.key, mortgage_amount: 1000000.0, registered_on: l.on})",
        {"links": [{"g": g, "h": h, "key": k, "on": on} for g, h, k, on in HAND_MADE_MORTGAGES]},
    )


def test_mortgage_network_depth_follows_links_both_ways(
    graph_api: GraphQLClient, fresh_graph: GraphStore
) -> None:
    client, store = graph_api, fresh_graph
    write_mortgages(store)

    def keys(depth: int, center: str = "E-A") -> list[tuple[str, int]]:
        network = client.data(NETWORK, id=center, depth=depth, first=50)["mortgageNetwork"]
        return [(e["mortgageKey"], e["hop"]) for e in network["edges"]]

    # A -> BANK1 <- B -> BANK2 <- C
    assert keys(1) == [("m1", 1)]
    assert keys(2) == [("m1", 1), ("m2", 2)]
    assert keys(3) == [("m1", 1), ("m2", 2), ("m3", 3)]
    assert keys(1, "E-BANK2") == [("m3", 1), ("m4", 1)]
    assert keys(2, "E-BANK2") == [("m3", 1), ("m4", 1), ("m2", 2)]
    nodes = client.data(NETWORK, id="E-A", depth=3, first=50)["mortgageNetwork"]["nodes"]
    assert [n["id"] for n in nodes] == ["E-A", "E-BANK1", "E-B", "E-BANK2"]
    lone = client.data(NETWORK, id="E-LONE", depth=3, first=50)["mortgageNetwork"]
    assert lone["edges"] == [] and lone["nodes"] == [{"id": "E-LONE"}] and not lone["truncated"]


def test_mortgage_network_arguments_are_checked(client: GraphQLClient, resolved_city: Any) -> None:
    some = read(resolved_city.store, "MATCH (e:Enterprise) RETURN e.id AS id ORDER BY id LIMIT 1")[0]["id"]
    for depth in (0, 4, -1):
        assert client.error_codes(NETWORK, id=some, depth=depth, first=10) == ["BAD_INPUT"], depth
    assert client.error_codes(NETWORK, id=some, depth=1, first=101) == ["BAD_INPUT"]
    assert client.error_codes(NETWORK, id="E-NOPE", depth=1, first=10) == ["NOT_FOUND"]
