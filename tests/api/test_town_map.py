"""The towns' map over HTTP: townBoundaries and townMap on a hand-made town (every way a point is found
or left out, what the public sees) and on the resolved generated city (its boundaries tile the city, its
parcels and enterprises are drawn where the data puts them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from entgraph.api.auth import Role
from entgraph.api.graphql_client import GraphQLClient
from entgraph.catalog.registry import Catalog
from entgraph.city_fixtures import MAP_TOWN, City, build_map_town
from entgraph.graph.port import GraphStore
from entgraph.identity.geometry import parse_geometry

pytestmark = pytest.mark.stores

MAP = """query ($town: String!) { townMap(town: $town) {
  town enterpriseCount withoutPoint truncated
  boundary { town divisionCode boundary center bbox dataset recordId }
  enterprises { id name status lng lat locatedBy parcelKey }
  parcels { key lng lat location area holderId holderName inside }
} }"""
BOUNDARIES = "{ townBoundaries { town divisionCode boundary center bbox dataset } }"


@pytest.fixture
def api(graph_api: GraphQLClient, fresh_graph: GraphStore, tmp_path: Path) -> GraphQLClient:
    build_map_town(fresh_graph, Catalog.load(entry_points=False), tmp_path)
    return graph_api


def test_a_towns_map_has_its_boundary_parcels_and_enterprises(api: GraphQLClient) -> None:
    town = api.data(MAP, Role.ADMIN, town=MAP_TOWN)["townMap"]
    boundary = town["boundary"]
    assert (boundary["town"], boundary["divisionCode"], boundary["dataset"]) == (
        MAP_TOWN,
        "350582102",
        "jj_town_boundaries",
    )
    assert boundary["boundary"]["type"] == "Polygon" and boundary["bbox"] == [118.44, 24.70, 118.50, 24.75]
    assert parse_geometry(boundary["boundary"]).contains(*boundary["center"])
    parcels = {p["key"]: p for p in town["parcels"]}
    assert sorted(parcels) == ["P-1", "P-2", "P-3", "P-5"]  # P-4 has no coordinates
    assert parcels["P-1"]["inside"] and parcels["P-2"]["inside"] and parcels["P-5"]["inside"]
    assert not parcels["P-3"]["inside"]  # its record says 安海镇, its point lies in 磁灶镇
    assert (parcels["P-1"]["holderId"], parcels["P-1"]["holderName"]) == ("E-1", "晋江市甲鞋业有限公司")
    assert (parcels["P-1"]["location"], parcels["P-1"]["area"]) == ("安海镇甲路1号", 800.0)
    assert parcels["P-2"]["holderId"] is None
    enterprises = {e["id"]: e for e in town["enterprises"]}
    assert sorted(enterprises) == ["E-1", "E-2"]
    assert (enterprises["E-1"]["locatedBy"], enterprises["E-1"]["parcelKey"]) == ("parcel", "P-1")
    assert (enterprises["E-2"]["locatedBy"], enterprises["E-2"]["parcelKey"]) == ("address", "P-2")
    assert (enterprises["E-2"]["lng"], enterprises["E-2"]["lat"]) == (118.48, 24.73)
    assert enterprises["E-1"]["status"] == "存续"
    assert (town["enterpriseCount"], town["withoutPoint"], town["truncated"]) == (3, 1, False)


def test_the_public_sees_only_what_is_open(api: GraphQLClient) -> None:
    town = api.data(MAP, Role.PUBLIC, town=MAP_TOWN)["townMap"]
    assert town["boundary"]["town"] == MAP_TOWN  # administrative boundaries are public
    assert sorted(p["key"] for p in town["parcels"]) == ["P-1", "P-2", "P-3"]  # transfers are not open
    assert {e["id"]: e["parcelKey"] for e in town["enterprises"]} == {"E-1": "P-1", "E-2": "P-2"}
    boundaries = api.data(BOUNDARIES, Role.PUBLIC)["townBoundaries"]
    assert [(b["town"], b["divisionCode"]) for b in boundaries] == [
        (MAP_TOWN, "350582102"),
        ("磁灶镇", "350582103"),
    ]


def test_an_unknown_town_is_not_found(api: GraphQLClient) -> None:
    assert api.error_codes(MAP, Role.ADMIN, town="无此镇") == ["NOT_FOUND"]


def test_the_generated_city_is_on_the_map(city_api: GraphQLClient, resolved_city: City) -> None:
    boundaries = city_api.data(BOUNDARIES, Role.ANALYST)["townBoundaries"]
    shapes = {b["town"]: parse_geometry(b["boundary"]) for b in boundaries}
    assert len(shapes) == 19
    codes = [b["divisionCode"] for b in boundaries if b["divisionCode"]]  # noise leaves a few out
    assert len(codes) > 10 and all(code.startswith("350582") for code in codes)
    # the towns tile the city: each one's label point lies in it and in no other
    for b in boundaries:
        assert [town for town, shape in shapes.items() if shape.contains(*b["center"])] == [b["town"]]
    drawn = 0
    for name, shape in shapes.items():
        town = city_api.data(MAP, Role.ANALYST, town=name)["townMap"]
        assert town["enterpriseCount"] == len(town["enterprises"]) + town["withoutPoint"]
        for parcel in town["parcels"]:
            assert parcel["inside"] == shape.contains(parcel["lng"], parcel["lat"])
        # the generator puts a parcel inside the town of the enterprise its record is about
        assert all(shape.contains(e["lng"], e["lat"]) for e in town["enterprises"])
        drawn += len(town["enterprises"])
    assert drawn > 0


def test_a_parcel_shows_its_point_where_its_coordinates_show(api: GraphQLClient) -> None:
    query = "query ($k: String!) { parcel(key: $k) { key lng lat } }"
    shown = api.data(query, Role.PUBLIC, k="P-1")["parcel"]
    assert (shown["lng"], shown["lat"]) == pytest.approx((118.46, 24.72))  # the outline's centre
    assert api.data(query, Role.ADMIN, k="P-4")["parcel"] == {"key": "P-4", "lng": None, "lat": None}
    assert api.error_codes(query, Role.PUBLIC, k="P-5") == ["NOT_FOUND"]  # only a transfer knows it
