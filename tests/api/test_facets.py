"""enterpriseFacets over HTTP on the resolved city: each facet value, used as the filter it belongs to,
finds exactly its count of enterprises; public callers may read the facets."""

from __future__ import annotations

from typing import Any

import pytest

from entgraph.api.auth import Role
from entgraph.api.enterprise import industry_facet
from entgraph.api.testing import GraphQLClient

FACETS = """{ enterpriseFacets {
  towns { value label count } industries { value label count } chains { value label count }
  honours { value label count } sizes { value label count } } }"""
COUNT = "query($f: EnterpriseFilter) { enterprises(filter: $f, first: 1) { totalCount } }"
KEYS = {"towns": "town", "industries": "industry", "chains": "chain", "honours": "honour", "sizes": "size"}


@pytest.fixture(scope="module")
def facets(city_api: GraphQLClient) -> dict[str, list[dict[str, Any]]]:
    return city_api.data(FACETS, Role.PUBLIC)["enterpriseFacets"]


@pytest.mark.parametrize("facet", sorted(KEYS))
def test_each_value_as_its_filter_finds_exactly_its_count(
    city_api: GraphQLClient, facets: dict[str, list[dict[str, Any]]], facet: str
) -> None:
    values = facets[facet]
    assert values, f"the city has {facet}"
    assert len({v["value"] for v in values}) == len(values)
    # Most first, then by value.
    assert [(-v["count"], v["value"]) for v in values] == sorted((-v["count"], v["value"]) for v in values)
    for item in values:
        found = city_api.data(COUNT, Role.PUBLIC, f={KEYS[facet]: item["value"]})["enterprises"]
        assert found["totalCount"] == item["count"] > 0, (facet, item)


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
