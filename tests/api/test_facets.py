"""enterpriseFacets over HTTP on the resolved city: each facet value, used as the filter it belongs to,
finds exactly its count of enterprises, for staff and for the public, who see the facts of the datasets
open to them."""

from __future__ import annotations

from typing import Any

import pytest

from entgraph.api.auth import Role
from entgraph.api.enterprise_listing import industry_facet
from entgraph.api.graphql_client import GraphQLClient

FACETS = """{ enterpriseFacets {
  towns { value label count } industries { value label count } chains { value label count }
  honours { value label count } sizes { value label count } } }"""
COUNT = "query($f: EnterpriseFilter) { enterprises(filter: $f, first: 1) { totalCount } }"
KEYS = {"towns": "town", "industries": "industry", "chains": "chain", "honours": "honour", "sizes": "size"}


@pytest.fixture(scope="module")
def facets(city_api: GraphQLClient) -> dict[str, list[dict[str, Any]]]:
    return city_api.data(FACETS, Role.ANALYST)["enterpriseFacets"]


@pytest.fixture(scope="module")
def public_facets(city_api: GraphQLClient) -> dict[str, list[dict[str, Any]]]:
    return city_api.data(FACETS, Role.PUBLIC)["enterpriseFacets"]


def _check_counts(api: GraphQLClient, role: Role, facet: str, values: list[dict[str, Any]]) -> None:
    assert len({v["value"] for v in values}) == len(values)
    # Most first, then by value.
    assert [(-v["count"], v["value"]) for v in values] == sorted((-v["count"], v["value"]) for v in values)
    for item in values:
        found = api.data(COUNT, role, f={KEYS[facet]: item["value"]})["enterprises"]
        assert found["totalCount"] == item["count"] > 0, (facet, item)


@pytest.mark.parametrize("facet", sorted(KEYS))
def test_each_value_as_its_filter_finds_exactly_its_count(
    city_api: GraphQLClient, facets: dict[str, list[dict[str, Any]]], facet: str
) -> None:
    assert facets[facet], f"the city has {facet}"
    _check_counts(city_api, Role.ANALYST, facet, facets[facet])


def test_the_public_counts_the_facts_of_open_datasets_only(
    city_api: GraphQLClient,
    facets: dict[str, list[dict[str, Any]]],
    public_facets: dict[str, list[dict[str, Any]]],
) -> None:
    # The chain register and the feeds stating sizes are 有条件使用; honours come from lists the city
    # publishes and from conditionally shared registers, so the public counts fewer.
    assert public_facets["chains"] == [] and public_facets["sizes"] == []
    staff = {v["value"]: v["count"] for v in facets["honours"]}
    public = {v["value"]: v["count"] for v in public_facets["honours"]}
    assert public and all(count <= staff[value] for value, count in public.items())
    assert sum(public.values()) < sum(staff.values())
    for facet in ("honours", "towns"):
        _check_counts(city_api, Role.PUBLIC, facet, public_facets[facet])
    # a chain given as a filter finds nobody for the public, as its facet says
    chain = facets["chains"][0]["value"]
    assert city_api.data(COUNT, Role.PUBLIC, f={"chain": chain})["enterprises"]["totalCount"] == 0


def test_towns_cover_every_live_enterprise_with_a_town(
    facets: dict[str, list[dict[str, Any]]], resolved_city: Any
) -> None:
    live = resolved_city.store.read(
        "MATCH (e:Enterprise) WHERE e.town IS NOT NULL AND e.merged_into IS NULL RETURN count(e) AS n"
    )[0]["n"]
    assert sum(v["count"] for v in facets["towns"]) == live
    sizes = {v["value"] for v in facets["sizes"]}
    assert sizes and sizes <= {"大型", "中型", "小型", "微型"}


def test_industry_divisions_group_codes_as_the_filter_matches_them() -> None:
    rows = [
        {"id": "a", "code": "C1951", "name": None},
        {"id": "a", "code": "C19", "name": "皮革、毛皮、羽毛及其制品和制鞋业"},
        {"id": "b", "code": "1952", "name": None},
        {"id": "c", "code": "C18", "name": None},
        {"id": "c", "code": "C", "name": None},
    ]
    assert [(v.value, v.label, v.count) for v in industry_facet(rows)] == [
        ("C", None, 2),  # a's and c's codes start with C
        ("19", None, 1),
        ("C18", None, 1),
        ("C19", "皮革、毛皮、羽毛及其制品和制鞋业", 1),  # a once, though two of its codes are in C19
    ]
