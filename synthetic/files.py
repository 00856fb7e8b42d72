"""Writing one dataset's rows as a department would, as .xlsx, .csv or (a GIS layer) .geojson.

.xlsx with title rows, cover sheets and split sheets, or .csv in UTF-8, UTF-8 with BOM or GBK; a region
dataset with a geometry column (the town boundaries) as a GeoJSON FeatureCollection, one feature a row,
its other cells the feature's properties; reporting every data row's position (spreadsheet row / CSV
line number / feature number + 1, as the readers number a layer's features).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xlsxwriter

from entgraph.catalog.spec import FieldType
from entgraph.identity.geometry import parse_geometry
from entgraph.synthetic.datasets import DatasetPlan, GenRow

Emit = Callable[[GenRow, str, int], None]
CREATED = dt.datetime(2023, 5, 10, 9, 0, 0)  # fixed document date: same seed, same bytes


@dataclass
class FileSummary:
    file: str
    dataset: str
    format: str
    encoding: str
    sheets: list[str]
    header_row: int
    rows: int
    bad_rows: int = 0
    periods: list[str] = field(default_factory=list)


def _grouped(plan: DatasetPlan, rows: list[GenRow]) -> list[list[GenRow]]:
    groups: list[list[GenRow]] = [[] for _ in plan.layout.sheet_names]
    for row in rows:
        groups[min(row.sheet, len(groups) - 1)].append(row)
    return groups


def write_xlsx(path: Path, plan: DatasetPlan, rows: list[GenRow], emit: Emit) -> str:
    layout, spec = plan.layout, plan.spec
    wb = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    wb.set_properties({"created": CREATED, "author": spec.department, "title": spec.title})
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    time_fmt = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    bold = wb.add_format({"bold": True})
    if layout.cover:
        cover = wb.add_worksheet("说明")
        lines = (
            f"{spec.title}",
            f"报送单位：{spec.department}",
            "本表由业务系统导出，数据见后续工作表。",
            "请勿修改表头。",
        )
        for i, line in enumerate(lines):
            cover.write_string(i, 0, line)
    for name, group in zip(layout.sheet_names, _grouped(plan, rows), strict=True):
        ws = wb.add_worksheet(name)
        r = 0
        if layout.title:
            ws.write_string(r, 0, layout.title, bold)
            r += 1
        if layout.unit_line:
            ws.write_string(r, 0, layout.unit_line)
            r += 1
        for c, header in enumerate(plan.headers):
            ws.write_string(r, c, header, bold)
        r += 1
        for row in group:
            _write_cells(ws, r, row.cells, date_fmt, time_fmt)
            r += 1
            emit(row, name, r)  # r is now the 1-based number of the row just written
    wb.close()
    return ""


def _write_cells(ws: Any, r: int, cells: list[Any], date_fmt: Any, time_fmt: Any) -> None:
    for c, v in enumerate(cells):
        if v is None or v == "":
            continue  # an empty cell is no cell at all
        if isinstance(v, str):
            ws.write_string(r, c, v)
        elif isinstance(v, bool):
            ws.write_string(r, c, "是" if v else "否")
        elif isinstance(v, int | float):
            ws.write_number(r, c, v)
        elif isinstance(v, dt.datetime):
            ws.write_datetime(r, c, v, time_fmt)
        elif isinstance(v, dt.date):
            ws.write_datetime(r, c, v, date_fmt)
        else:
            ws.write_string(r, c, str(v))


def _csv_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, float):
        return repr(round(v, 6))
    return str(v)


def write_csv(path: Path, plan: DatasetPlan, rows: list[GenRow], emit: Emit) -> str:
    layout = plan.layout
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    line = 0
    if layout.title:
        writer.writerow([layout.title])
        line += 1
    if layout.unit_line:
        writer.writerow([layout.unit_line])
        line += 1
    writer.writerow(plan.headers)
    line += 1
    for row in rows:
        writer.writerow([_csv_text(v) for v in row.cells])
        line += 1
        emit(row, path.name, line)  # a CSV's one sheet is named after its file, as the readers name it
    text = buf.getvalue()
    encoding = layout.encoding or "utf-8"
    if encoding == "gbk":
        try:
            data = text.encode("gbk")
        except UnicodeEncodeError:  # a character GBK lacks (², rare names): GB 18030 is its superset
            encoding = "gb18030"
            data = text.encode("gb18030")
    else:
        data = text.encode(encoding)
    path.write_bytes(data)
    return encoding


def write_geojson(path: Path, plan: DatasetPlan, rows: list[GenRow], emit: Emit) -> str:
    """A FeatureCollection: each row a feature (feature n is row n + 1, as the loaders number them), its
    geometry from the geometry column's WKT, its other non-empty cells as properties under their headers."""
    shapes = [i for i, c in enumerate(plan.spec.columns) if c.type is FieldType.GEOMETRY]
    features = []
    for number, row in enumerate(rows, start=1):
        named = list(zip(plan.headers, row.cells, strict=False))
        geometry = next((row.cells[i] for i in shapes if i < len(row.cells) and row.cells[i]), None)
        properties = {h: v for i, (h, v) in enumerate(named) if i not in shapes and v not in ("", None)}
        features.append(
            {
                "type": "Feature",
                "properties": properties,
                "geometry": parse_geometry(geometry).as_geojson() if geometry else None,
            }
        )
        emit(row, path.name, number + 1)  # the readers name its one sheet after the file
    layer = {"type": "FeatureCollection", "name": plan.spec.title, "features": features}
    path.write_text(json.dumps(layer, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    return "utf-8"


def write_table(folder: Path, plan: DatasetPlan, rows: list[GenRow], emit: Emit) -> FileSummary:
    layout = plan.layout
    path = folder / layout.file_name
    bad = 0

    def counting(row: GenRow, sheet: str, number: int) -> None:
        nonlocal bad
        bad += row.bad is not None
        emit(row, sheet, number)

    if layout.fmt == "xlsx":
        encoding = write_xlsx(path, plan, rows, counting)
    elif layout.fmt == "geojson":
        encoding = write_geojson(path, plan, rows, counting)
    else:
        encoding = write_csv(path, plan, rows, counting)
    return FileSummary(
        file=layout.file_name,
        dataset=plan.spec.key,
        format=layout.fmt,
        encoding=encoding,
        sheets=(["说明"] if layout.cover else []) + list(layout.sheet_names),
        header_row=layout.header_row,
        rows=len(rows),
        bad_rows=bad,
        periods=[p.label for p in plan.periods],
    )
