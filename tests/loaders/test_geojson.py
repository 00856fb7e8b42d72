"""GeoJSON layers and coordinates through the load engine: the town-boundary dataset read from a
FeatureCollection (provenance kept, a bad feature refused and reported, a bad file refused whole saying how
to fix it), and land parcels placed on the map by their 宗地空间地理信息."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from entgraph.catalog.registry import Catalog
from entgraph.city_fixtures import write_csv
from entgraph.graph.port import GraphStore
from entgraph.identity.geometry import parse_geometry
from entgraph.loaders.engine import Loader
from entgraph.loaders.readers import FileRejected, open_table

pytestmark = pytest.mark.stores

ANHAI = [[118.44, 24.70], [118.50, 24.70], [118.50, 24.75], [118.44, 24.75], [118.44, 24.70]]
CIZAO = [[118.44, 24.80], [118.50, 24.80], [118.47, 24.86], [118.44, 24.80]]


def feature(properties: dict[str, Any] | None, geometry: dict[str, Any] | None) -> dict[str, Any]:
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def polygon(ring: list[list[float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [ring]}


def layer(path: Path, features: list[Any], **extra: Any) -> Path:
    path.write_text(
        json.dumps({"type": "FeatureCollection", **extra, "features": features}), encoding="utf-8"
    )
    return path


@pytest.fixture
def loader(fresh_graph: GraphStore, catalog: Catalog, tmp_path: Path) -> Loader:
    return Loader(fresh_graph, catalog, tmp_path / "reports")


def issues(report: Path) -> list[tuple[Any, ...]]:
    book = openpyxl.load_workbook(report, read_only=True)
    return [row[:6] for row in book["问题 Issues"].iter_rows(min_row=2, values_only=True) if row[1]]


def test_a_boundary_layer_loads_one_record_per_town_and_reports_the_bad_feature(
    loader: Loader, fresh_graph: GraphStore, tmp_path: Path
) -> None:
    path = layer(
        tmp_path / "晋江镇街边界.geojson",
        [
            feature({"镇街名称": "安海镇", "行政区划代码": "350582102"}, polygon(ANHAI)),
            feature({"镇街名称": "磁灶镇", "XZQDM": 350582103}, polygon(CIZAO)),
            feature({"镇街名称": "东石镇"}, {"type": "Polygon", "coordinates": [[[491234.5, 2730000.0]]]}),
            feature({"镇街名称": "内坑镇"}, None),
        ],
    )
    result = loader.load(path)
    assert result.dataset == "jj_town_boundaries"
    assert (result.rows_read, result.new, result.rejected) == (4, 2, 2)
    rows = fresh_graph.read(
        "MATCH (r:SourceRecord:TownBoundary)-[:IN_TOWN]->(t:Town) "
        "RETURN t.key AS town, r.boundary AS boundary, r.file_name AS file, r.sheet AS sheet, r.row AS row "
        "ORDER BY row"
    )
    assert [(r["town"], r["file"], r["sheet"], r["row"]) for r in rows] == [
        ("安海镇", path.name, path.name, 2),
        ("磁灶镇", path.name, path.name, 3),
    ]
    assert parse_geometry(rows[0]["boundary"]).as_geojson() == polygon(ANHAI)
    reported = issues(result.report_path)
    # the projected feature (3rd) and the one without a geometry (4th), in the rows a spreadsheet of the
    # layer's attribute table would give them, under the header as the file names it
    assert [(r[1], r[2]) for r in reported] == [(4, "geometry"), (5, "geometry")]
    assert "不是经纬度" in reported[0][4] and "projected" in reported[0][5]
    assert "为空" in reported[1][4]

    again = loader.load(path)
    assert (again.new, again.updated, again.unchanged, again.rejected) == (0, 0, 2, 2)


def test_a_corrected_layer_replaces_a_towns_boundary(
    loader: Loader, fresh_graph: GraphStore, tmp_path: Path
) -> None:
    loader.load(layer(tmp_path / "镇街边界_2023.geojson", [feature({"name": "安海镇"}, polygon(ANHAI))]))
    moved = [[x + 0.01, y] for x, y in ANHAI]
    result = loader.load(
        layer(tmp_path / "镇街边界_2024.geojson", [feature({"name": "安海镇"}, polygon(moved))])
    )
    assert (result.new, result.updated) == (0, 1)  # keyed by town: the same record, now the new outline
    (row,) = fresh_graph.read("MATCH (r:TownBoundary) RETURN r.boundary AS b, r.file_name AS f")
    assert parse_geometry(row["b"]).as_geojson() == polygon(moved) and row["f"] == "镇街边界_2024.geojson"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("{not json", "not valid JSON"),
        ('{"type": "Polygon", "coordinates": []}', "not a FeatureCollection"),
        ('{"type": "FeatureCollection", "features": []}', "has no features"),
        ('{"type": "FeatureCollection", "features": {}}', 'no "features" list'),
        (
            '{"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": '
            '"urn:ogc:def:crs:EPSG::4547"}}, "features": [{"type": "Feature"}]}',
            "EPSG:4547, a projected coordinate system",
        ),
    ],
)
def test_a_bad_file_is_refused_whole_saying_how_to_fix_it(
    loader: Loader, tmp_path: Path, text: str, says: str
) -> None:
    path = tmp_path / "镇街边界.geojson"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FileRejected) as refused:
        loader.load(path)
    assert says in str(refused.value)
    assert "export" in str(refused.value)  # how to fix it


def test_a_layer_without_the_town_names_is_refused_naming_the_nearest_attribute(
    loader: Loader, tmp_path: Path
) -> None:
    path = layer(tmp_path / "镇街边界.geojson", [feature({"镇名": "安海镇"}, polygon(ANHAI))])
    with pytest.raises(FileRejected) as refused:
        loader.load(path)
    message = str(refused.value)
    assert "“镇街名称”" in message and "“镇名”" in message and "“geometry”" in message


def test_the_reader_reads_a_layer_as_its_attribute_table(tmp_path: Path) -> None:
    path = layer(
        tmp_path / "x.json",
        [feature({"a": 1, "nested": {"b": 2}}, polygon(ANHAI)), "not a feature", feature(None, None)],
    )
    (sheet,) = open_table(path)
    rows = list(sheet.rows())
    assert rows[0] == (1, ["a", "nested", "geometry"])
    assert rows[1][0] == 2 and rows[1][1][:2] == [1, '{"b": 2}']
    assert json.loads(rows[1][1][2]) == polygon(ANHAI)
    assert rows[2] == (3, [None, None, '"not a feature"'])
    assert rows[3] == (4, [])


def test_a_gb18030_layer_reads_and_a_json_that_is_no_geojson_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "边界.geojson"
    path.write_bytes(
        json.dumps(
            {"type": "FeatureCollection", "features": [feature({"名称": "安海镇"}, None)]}, ensure_ascii=False
        ).encode("gb18030")
    )
    assert list(open_table(path)[0].rows())[1] == (2, ["安海镇"])
    other = tmp_path / "config.json"
    other.write_text('{"a": 1}', encoding="utf-8")
    with pytest.raises(FileRejected, match="JSON without a GeoJSON type"):
        open_table(other)


def test_parcels_get_a_point_from_their_spatial_column(
    loader: Loader, fresh_graph: GraphStore, tmp_path: Path
) -> None:
    header = [
        "出让单位",
        "受让单位",
        "出让时间",
        "成交金额",
        "所属地区",
        "出让面积",
        "土地坐落",
        "宗地编号",
        "宗地空间地理信息",
    ]
    square = "POLYGON ((118.46 24.71, 118.47 24.71, 118.47 24.72, 118.46 24.72, 118.46 24.71))"
    path = write_csv(
        tmp_path / "国有土地出让信息_2023-04.csv",
        header,
        [
            [
                "晋江市自然资源局",
                "晋江市甲鞋业有限公司",
                "2023-04-03",
                "100",
                "安海镇",
                "1000",
                "安海镇甲路1号",
                "P-1",
                square,
            ],
            [
                "晋江市自然资源局",
                "晋江市乙鞋业有限公司",
                "2023-04-04",
                "100",
                "安海镇",
                "1000",
                "安海镇乙路2号",
                "P-2",
                "24.713, 118.462",
            ],
            [
                "晋江市自然资源局",
                "晋江市丙鞋业有限公司",
                "2023-04-05",
                "100",
                "安海镇",
                "1000",
                "安海镇丙路3号",
                "P-3",
                "见附件",
            ],
            [
                "晋江市自然资源局",
                "晋江市丁鞋业有限公司",
                "2023-04-06",
                "100",
                "安海镇",
                "1000",
                "安海镇丁路4号",
                "P-4",
                "",
            ],
        ],
    )
    result = loader.load(path)
    assert (result.new, result.rejected, result.warnings) == (4, 0, 1)  # the file reference: warned, kept
    parcels = {
        r["key"]: r
        for r in fresh_graph.read(
            "MATCH (p:LandParcel) RETURN p.key AS key, p.lng AS lng, p.lat AS lat, p.parcel_geo AS g"
        )
    }
    assert (parcels["P-1"]["lng"], parcels["P-1"]["lat"]) == pytest.approx((118.465, 24.715))  # its centre
    assert json.loads(parcels["P-1"]["g"])["type"] == "Polygon"
    assert (parcels["P-2"]["lng"], parcels["P-2"]["lat"]) == (118.462, 24.713)  # latitude first, recognised
    assert parcels["P-3"]["lng"] is None and parcels["P-4"]["g"] is None
    reported = issues(result.report_path)
    assert [(r[1], r[2], r[3]) for r in reported] == [(4, "宗地空间地理信息", "见附件")]
