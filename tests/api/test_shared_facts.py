"""Shared fact nodes and values from columns stricter than their dataset, as each role may see them.

A fact node (an honour, a mortgage, an industry chain, a credit event ...) is one node every record
stating it points at, and each load writes its record's fields onto it (``SET n += props``): so it holds
what records of datasets hidden from a caller wrote, beside what the ones it may see state. The API
shows a fact, and each of its properties, only as records the caller may see state it; and where the
catalog makes one column stricter than its dataset (a reason 不予共享 in a register shared
conditionally), only as that column allows. Each test serves a hand-made graph under a catalog made
for it (as ``test_public_leaks.py`` does for the credit event and the parcel two registers share).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from entgraph.api.auth import Role
from entgraph.catalog.registry import Catalog, Feed
from entgraph.catalog.spec import Sharing, Usage
from entgraph.city_fixtures import City
from entgraph.graph.port import GraphStore

CLOSED = Sharing(usage=Usage.NOT_SHARED)
STAFF = (Role.ANALYST, Role.STEWARD)


def with_closed_copies(catalog: Catalog, copies: Mapping[str, str]) -> Catalog:
    """``catalog`` plus, for each ``new key: existing key``, a 不予共享 copy of that dataset (another
    department's register of the same facts)."""
    feeds = list(catalog)
    for key, original in copies.items():
        spec = catalog.get(original).spec
        columns = [column.model_copy(update={"sharing": None}) for column in spec.columns]
        update = {"key": key, "title": f"{spec.title}（内部）", "sharing": CLOSED, "columns": columns}
        feeds.append(Feed(spec.model_copy(update=update), None, "test"))
    return Catalog(feeds)


def with_closed_columns(catalog: Catalog, closed: Mapping[str, Iterable[str]]) -> Catalog:
    """``catalog`` with the named columns (``dataset: [field, ...]``) made 不予共享, their datasets as
    they are."""
    feeds = []
    for feed in catalog:
        spec = feed.spec
        fields = set(closed.get(spec.key, ()))
        if fields:
            columns = [
                c.model_copy(update={"sharing": CLOSED}) if c.field in fields else c for c in spec.columns
            ]
            spec = spec.model_copy(update={"columns": columns})
        feeds.append(Feed(spec, feed.loader, feed.origin))
    return Catalog(feeds)


# A high-tech certificate (高新技术企业) the open list states and a closed register re-certified later:
# both point at the one Honor node keyed by the certificate, which holds the closed register's date.
# An industry chain only a closed draft register states, beside one the chain register states.
SHARED_FACTS = """
CREATE (a:Enterprise {id: 'E-A', name: '甲公司'})
CREATE (h:Honor {key: '高新技术企业|GR202135000001', kind: '高新技术企业',
        certificate_no: 'GR202135000001', recognised_on: '2024-12-02'})
CREATE (o:SourceRecord {id: 'jj_high_tech_enterprises:o1', dataset: 'jj_high_tech_enterprises',
        certificate_no: 'GR202135000001', recognised_on: '2021-11-30'})-[:AWARDS]->(h),
       (o)-[:ABOUT {party: 'subject'}]->(a)
CREATE (c:SourceRecord {id: 'jj_high_tech_recertified:c1', dataset: 'jj_high_tech_recertified',
        certificate_no: 'GR202135000001', recognised_on: '2024-12-02'})-[:AWARDS]->(h),
       (c)-[:ABOUT {party: 'subject'}]->(a)
CREATE (k1:IndustryChain {key: '鞋服产业链', name: '鞋服产业链'}),
       (k2:IndustryChain {key: '光伏产业链', name: '光伏产业链'})
CREATE (m:SourceRecord {id: 'jj_industry_chains:m1', dataset: 'jj_industry_chains', chain_name: '鞋服产业链',
        year: 2023, chain_position: '中游'})-[:IN_CHAIN]->(k1), (m)-[:ABOUT {party: 'subject'}]->(a)
CREATE (d:SourceRecord {id: 'jj_industry_chains_draft:d1', dataset: 'jj_industry_chains_draft',
        chain_name: '光伏产业链', year: 2023, chain_position: '上游'})-[:IN_CHAIN]->(k2),
       (d)-[:ABOUT {party: 'subject'}]->(a)
"""
HONOURS = '{ enterprise(id: "E-A") { honours { key kind recognisedOn } chains { name } } }'
CHAINS = "{ industryChains(first: 100) { name years } }"
CHAIN = "query ($name: String!) { industryChain(name: $name) { name enterpriseCount } }"
CHAIN_FACET = "{ enterpriseFacets { chains { value count } honours { value count } } }"


def test_a_shared_fact_shows_only_what_records_the_caller_may_see_state(
    fresh_graph: GraphStore, resolved_city: City, serve_city: Any, tmp_path: Any
) -> None:
    fresh_graph.write(SHARED_FACTS)
    copies = {
        "jj_high_tech_recertified": "jj_high_tech_enterprises",
        "jj_industry_chains_draft": "jj_industry_chains",
    }
    with serve_city(fresh_graph, with_closed_copies(resolved_city.catalog, copies), tmp_path) as api:
        for role in (Role.PUBLIC, *STAFF):
            # The open list states the certificate, but not the date on the node (the closed one's).
            honours = api.data(HONOURS, role)["enterprise"]["honours"]
            assert honours == [
                {"key": "高新技术企业|GR202135000001", "kind": "高新技术企业", "recognisedOn": None}
            ], role
        for role in STAFF:
            # A chain only the closed draft states is no chain of theirs: not listed, not found.
            assert api.data(CHAINS, role)["industryChains"] == [{"name": "鞋服产业链", "years": [2023]}]
            assert api.error_codes(CHAIN, role, name="光伏产业链") == ["NOT_FOUND"], role
            assert api.data(HONOURS, role)["enterprise"]["chains"] == [{"name": "鞋服产业链"}]
            facets = api.data(CHAIN_FACET, role)["enterpriseFacets"]
            assert facets["chains"] == [{"value": "鞋服产业链", "count": 1}]
        # the admin sees every register: the node as the loads left it, and both chains
        admin = api.data(HONOURS, Role.ADMIN)["enterprise"]
        assert admin["honours"][0]["recognisedOn"] == "2024-12-02"
        assert {c["name"] for c in api.data(CHAINS, Role.ADMIN)["industryChains"]} == {
            "鞋服产业链",
            "光伏产业链",
        }
        assert api.data(CHAIN, Role.ADMIN, name="光伏产业链")["industryChain"]["enterpriseCount"] == 1


# A credit event, a mortgage and a park whose registers the staff may see, in a catalog that closes
# one column of each (不予共享) while the dataset stays shared: the event's reason, the mortgage's
# amount, and the park of the park register.
COLUMNS_CLOSED = {
    "wh_credit_wuhai": ["reason"],
    "jj_real_estate_mortgages": ["mortgage_amount"],
    "jj_park_enterprises": ["park"],
}
COLUMN_FACTS = """
CREATE (a:Enterprise {id: 'E-A', name: '甲公司'}), (b:Enterprise {id: 'E-B', name: '晋江农商银行'})
CREATE (v:CreditEvent {key: '行政处罚|D-3', kind: '行政处罚', document_no: 'D-3',
        reason: '未按规定公示年报', decided_on: '2021-05-05'})
CREATE (r:SourceRecord {id: 'wh_credit_wuhai:c3', dataset: 'wh_credit_wuhai', kind: '行政处罚',
        document_no: 'D-3', reason: '未按规定公示年报', decided_on: '2021-05-05'})-[:RECORDS_EVENT]->(v),
       (r)-[:ABOUT {party: 'subject'}]->(a)
CREATE (m:Mortgage {key: 'DY-1', case_no: 'DY-1', mortgage_amount: 3500000.0, registered_on: '2022-03-01'})
CREATE (g:SourceRecord {id: 'jj_real_estate_mortgages:g1', dataset: 'jj_real_estate_mortgages',
        case_no: 'DY-1', mortgage_amount: 3500000.0, registered_on: '2022-03-01'})-[:SECURED_BY]->(m),
       (g)-[:ABOUT {party: 'subject'}]->(a), (g)-[:ABOUT {party: 'mortgagee'}]->(b)
CREATE (p:Park {key: '晋江经济开发区', name: '晋江经济开发区'})
CREATE (k:SourceRecord {id: 'jj_park_enterprises:k1', dataset: 'jj_park_enterprises',
        park: '晋江经济开发区'})-[:IN_PARK]->(p), (k)-[:ABOUT {party: 'subject'}]->(a)
"""
COLUMN_VIEWS = """{ enterprise(id: "E-A") { parks { name } creditEvents { key documentNo reason decidedOn }
    mortgages { key role amount registeredOn } }
  creditEvents { edges { node { key documentNo reason decidedOn } } }
  mortgageNetwork(enterprise: "E-A") { edges { mortgageKey amount registeredOn } } }"""


def test_a_value_from_a_column_the_caller_may_not_see_does_not_show(
    fresh_graph: GraphStore, resolved_city: City, serve_city: Any, tmp_path: Any
) -> None:
    fresh_graph.write(COLUMN_FACTS)
    with serve_city(fresh_graph, with_closed_columns(resolved_city.catalog, COLUMNS_CLOSED), tmp_path) as api:
        event = {"key": "行政处罚|D-3", "documentNo": "D-3", "reason": None, "decidedOn": "2021-05-05"}
        for role in STAFF:
            found = api.data(COLUMN_VIEWS, role)
            enterprise = found["enterprise"]
            # The register is theirs to see, its closed column is not: the rest of the fact shows.
            assert enterprise["creditEvents"] == [event], role
            assert [e["node"] for e in found["creditEvents"]["edges"]] == [event], role
            assert enterprise["mortgages"] == [
                {"key": "DY-1", "role": "MORTGAGOR", "amount": None, "registeredOn": "2022-03-01"}
            ], role
            assert found["mortgageNetwork"]["edges"] == [
                {"mortgageKey": "DY-1", "amount": None, "registeredOn": "2022-03-01"}
            ], role
            # a park is the park column's value: no park the caller may not see
            assert enterprise["parks"] == [], role
        admin = api.data(COLUMN_VIEWS, Role.ADMIN)
        assert admin["enterprise"]["creditEvents"][0]["reason"] == "未按规定公示年报"
        assert admin["enterprise"]["mortgages"][0]["amount"] == 3500000.0
        assert admin["mortgageNetwork"]["edges"][0]["amount"] == 3500000.0
        assert admin["enterprise"]["parks"] == [{"name": "晋江经济开发区"}]


# A steward task on a record of the register of above-scale enterprises (staff may see it), whose town
# column the catalog closes: the town the task's name key carries is that column's value (and its
# candidate has no golden town to show instead).
TOWN_TASK = """
CREATE (v:Enterprise {id: 'E-V', name: '甲公司'})
CREATE (:SourceRecord {id: 'jj_enterprise_registration:v', dataset: 'jj_enterprise_registration'})
       -[:ABOUT {party: 'subject'}]->(v)
CREATE (:SourceRecord {id: 'jj_above_scale_enterprises:t', dataset: 'jj_above_scale_enterprises',
        enterprise_name: '甲公司', town: '青阳街道'})
CREATE (:StewardTask {id: 'T-1', status: 'open', name: '甲公司', town: '青阳街道',
        mention_key: 'name:甲公司|青阳街道', datasets: ['jj_above_scale_enterprises'],
        record_ids: ['jj_above_scale_enterprises:t'], named_by: 'jj_above_scale_enterprises:t|subject',
        mention_ids: ['jj_above_scale_enterprises:t|subject'],
        stake_records: ['jj_above_scale_enterprises:t|other|1.0'], impact: 1, stake: 1.0,
        candidates: '[{"enterprise_id": "E-V", "probability": 0.8, "match_weight": 2.0, "explanation": []}]'})
"""
TASK_TOWNS = """query ($town: String) { stewardTask(id: "T-1") { town }
  stewardTasks(town: $town) { id } stewardTownQueues { town tasks } }"""


def test_a_task_shows_a_town_only_where_the_caller_may_see_the_town_column(
    fresh_graph: GraphStore, resolved_city: City, serve_city: Any, tmp_path: Any
) -> None:
    fresh_graph.write(TOWN_TASK)
    catalog = with_closed_columns(resolved_city.catalog, {"jj_above_scale_enterprises": ["town"]})
    with serve_city(fresh_graph, catalog, tmp_path) as api:
        found = api.data(TASK_TOWNS, Role.STEWARD, town="青阳街道")
        # the task is the steward's (its record's dataset is), its town is not (that column is closed)
        assert found["stewardTask"] == {"town": None}
        assert found["stewardTasks"] == []
        assert found["stewardTownQueues"] == [{"town": None, "tasks": 1}]
        admin = api.data(TASK_TOWNS, Role.ADMIN, town="青阳街道")
        assert admin["stewardTask"] == {"town": "青阳街道"} and admin["stewardTasks"] == [{"id": "T-1"}]
