"""Coordinates as land bureaus write them: WKT, GeoJSON and ``lng,lat`` text read into points and areas,
the point that stands for an area, and what is refused and why."""

from __future__ import annotations

import pytest

from entgraph.identity.geometry import Geometry, GeometryError, parse_geometry, point, polygon

SQUARE = [(118.5, 24.7), (118.6, 24.7), (118.6, 24.8), (118.5, 24.8), (118.5, 24.7)]


@pytest.mark.parametrize(
    "text",
    [
        "118.58,24.81",
        "118.58，24.81",
        "118.58 24.81",
        "24.81, 118.58",  # latitude first: only the second number can be a longitude
        "POINT (118.58 24.81)",
        "point(118.58 24.81)",
        "SRID=4490;POINT(118.58 24.81)",
        "POINT Z (118.58 24.81 12.5)",
        '{"type": "Point", "coordinates": [118.58, 24.81]}',
        '{"type": "Feature", "geometry": {"type": "Point", "coordinates": [118.58, 24.81]}}',
    ],
)
def test_a_point_however_written(text: str) -> None:
    assert parse_geometry(text) == point(118.58, 24.81)


def test_areas_from_wkt_and_geojson_agree_and_round_trip() -> None:
    wkt = parse_geometry("POLYGON ((118.5 24.7, 118.6 24.7, 118.6 24.8, 118.5 24.8, 118.5 24.7))")
    geojson = parse_geometry({"type": "Polygon", "coordinates": [[list(p) for p in SQUARE]]})
    assert wkt == geojson == polygon(SQUARE[:-1])  # an unclosed ring is closed
    assert parse_geometry(wkt.to_json()) == wkt and parse_geometry(wkt.to_wkt()) == wkt
    assert wkt.bbox() == (118.5, 24.7, 118.6, 24.8)
    assert wkt.point() == pytest.approx((118.55, 24.75))
    assert wkt.contains(118.55, 24.75) and not wkt.contains(118.65, 24.75)


def test_a_multipolygon_with_a_hole() -> None:
    shape = parse_geometry(
        "MULTIPOLYGON (((0 0, 4 0, 4 4, 0 4, 0 0), (1 1, 3 1, 3 3, 1 3, 1 1)),"
        " ((10 10, 11 10, 11 11, 10 10)))"
    )
    assert shape.kind == "MultiPolygon" and len(shape.polygons()) == 2
    assert not shape.contains(2, 2)  # in the hole
    assert shape.contains(0.5, 0.5) and shape.contains(10.8, 10.2)
    lng, lat = shape.point()  # the largest area's centroid lies in its hole: a point beside it instead
    assert shape.contains(lng, lat)


def test_a_u_shaped_parcels_point_lies_inside_it() -> None:
    u = polygon([(0, 0), (3, 0), (3, 3), (2, 3), (2, 1), (1, 1), (1, 3), (0, 3)])
    assert u.contains(*u.point())


@pytest.mark.parametrize(
    ("value", "zh", "en"),
    [
        ("见附件", "无法识别的坐标", "unrecognised coordinates"),
        ("118.58", "无法识别的坐标", "unrecognised coordinates"),
        ("POINT (39500000 2740000)", "投影坐标", "projected metres"),
        ("SRID=4547;POINT (500000 2740000)", "SRID=4547", "not longitude/latitude"),
        ("LINESTRING (118.5 24.7, 118.6 24.8)", "不是点或面", "no point or area"),
        ("POLYGON ((118.5 24.7, 118.6 24.8, 118.5 24.7))", "围成面积", "encloses no area"),
        ("POLYGON ((118.5 24.7, 118.6 x, 118.5 24.7))", "WKT 格式错误", "malformed WKT"),
        ("POINT EMPTY", "空图形", "empty"),
        ('{"type": "Point"', "GeoJSON 格式错误", "malformed GeoJSON"),
        ({"type": "LineString", "coordinates": [[1, 2], [3, 4]]}, "不是点或面", "no point or area"),
        ({"type": "Feature", "geometry": None}, "没有图形", "no geometry"),
        (118.58, "不是坐标或图形", "not a point or shape"),
    ],
)
def test_what_is_refused_says_why(value: object, zh: str, en: str) -> None:
    with pytest.raises(GeometryError) as refused:
        parse_geometry(value)
    assert zh in refused.value.reason_zh and en in refused.value.reason_en


def test_coordinates_are_rounded_to_a_centimetre() -> None:
    assert parse_geometry("118.123456789, 24.987654321") == Geometry("Point", (118.1234568, 24.9876543))
