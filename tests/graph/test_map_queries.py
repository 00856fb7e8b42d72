"""The map's Cypher (graph/map_queries.py) on the real store, on each store: boundaries, parcels placed in
a town or inside its box, their points, location and holders, and the town's enterprises with the
parcels they hold; what a caller who may not see a dataset or a column gets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from entgraph.catalog.registry import Catalog
from entgraph.city_fixtures import MAP_BOUNDARY, MAP_TOWN, build_map_town
from entgraph.graph import map_queries as queries
from entgraph.graph.port import GraphStore
from entgraph.graph.visibility import Visibility

pytestmark = pytest.mark.stores

GEOMETRY, LOCATION, AREA, DATES = ("parcel_geo",), ("location",), ("area", "parcel_area"), ("granted_on",)


@pytest.fixture
def town(fresh_graph: GraphStore, catalog: Catalog, tmp_path: Path) -> GraphStore:
    build_map_town(fresh_graph, catalog, tmp_path)
    return fresh_graph


def points(store: GraphStore, keys: list[str], sight: Visibility | None = None) -> dict[str, dict]:
    rows = queries.parcel_points(store, keys, GEOMETRY, LOCATION, AREA, DATES, sight or Visibility())
    return {row["key"]: row for row in rows}


def test_boundaries_per_town_newest_first(town: GraphStore, catalog: Catalog, tmp_path: Path) -> None:
    rows = queries.boundaries(town, ["jj_town_boundaries"])
    assert [row["town"] for row in rows] == [MAP_TOWN, "磁灶镇"]
    ring = json.loads(rows[0]["props"]["boundary"])["coordinates"][0]
    assert [tuple(p) for p in ring] == [*MAP_BOUNDARY, MAP_BOUNDARY[0]]
    assert rows[0]["props"]["division_code"] == "350582102" and rows[0]["id"].startswith(
        "jj_town_boundaries:"
    )
    (one,) = queries.boundaries(town, ["jj_town_boundaries"], MAP_TOWN)
    assert one["id"] == rows[0]["id"]
    hidden = Visibility(datasets=("jj_land_grants",))  # a caller who may not see the layer
    assert queries.boundaries(town, ["jj_town_boundaries"], sight=hidden) == []


def test_parcels_of_a_town_by_record_and_by_box(town: GraphStore) -> None:
    assert queries.parcel_keys_in_town(town, MAP_TOWN) == ["P-1", "P-3", "P-5"]  # P-4 has no point
    boxed = queries.parcel_keys_in_box(town, 118.44, 24.70, 118.50, 24.75, 100)
    assert [row["key"] for row in boxed] == ["P-1", "P-2", "P-5"]
    assert (boxed[1]["lng"], boxed[1]["lat"]) == (118.48, 24.73)
    assert [row["key"] for row in queries.parcel_keys_in_box(town, 118.44, 24.70, 118.50, 24.75, 2)] == [
        "P-1",
        "P-2",
    ]


def test_parcel_points_with_location_area_and_holders(town: GraphStore) -> None:
    found = points(town, ["P-1", "P-2", "P-3", "P-4", "P-5", "nope"])
    assert sorted(found) == ["P-1", "P-2", "P-3", "P-5"]
    p1 = found["P-1"]
    assert (p1["lng"], p1["lat"]) == pytest.approx((118.46, 24.72))
    assert json.loads(p1["geometry"])["type"] == "Polygon"
    assert (p1["location"], p1["area"]) == ("安海镇甲路1号", 800.0)
    assert [(h["id"], h["name"], h["on"]) for h in p1["holders"]] == [
        ("E-1", "晋江市甲鞋业有限公司", "2023-04-03")
    ]
    assert [h["id"] for h in found["P-2"]["holders"]] == [None]  # its record is linked to nobody


def test_what_a_caller_may_not_see_is_not_on_the_map(town: GraphStore) -> None:
    # transfers hidden: the transferred parcel has no record the caller may see
    public = Visibility(datasets=("jj_land_grants", "jj_town_boundaries"))
    assert sorted(points(town, ["P-1", "P-5"], public)) == ["P-1"]
    # the grants' coordinates column hidden: no point, whatever the node holds
    no_coordinates = Visibility(columns=("jj_land_grants:parcel_geo",))
    assert sorted(points(town, ["P-1", "P-2", "P-5"], no_coordinates)) == ["P-5"]
    assert queries.held_parcel_points(town, ["E-1"], GEOMETRY, no_coordinates) == [
        {"id": "E-1", "key": "P-5", "lng": 118.45, "lat": 24.71}
    ]
    location_hidden = Visibility(columns=("jj_land_grants:location",))
    assert points(town, ["P-1"], location_hidden)["P-1"]["location"] is None


def test_a_towns_enterprises_and_the_parcels_they_hold(town: GraphStore) -> None:
    rows = queries.town_enterprises(town, MAP_TOWN, 100)
    assert [row["id"] for row in rows] == ["E-1", "E-2", "E-3"]  # E-4 merged away, E-5 elsewhere
    assert rows[1]["address"] == "福建省晋江市安海镇乙路2号" and rows[2]["status"] == "注销"
    assert [row["id"] for row in queries.town_enterprises(town, MAP_TOWN, 2)] == ["E-1", "E-2"]
    held = queries.held_parcel_points(town, ["E-1", "E-2", "E-3"], GEOMETRY)
    assert [(row["id"], row["key"]) for row in held] == [("E-1", "P-1"), ("E-1", "P-5")]
    # a caller who may see the town only from the transfers' column sees none of them in the town
    stated = Visibility(golden={"town": ("jj_land_transfers",)})
    assert queries.town_enterprises(town, MAP_TOWN, 100, stated) == []
