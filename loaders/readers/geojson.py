"""GeoJSON files (RFC 7946) read as one table: a row per feature, with its properties and its geometry.

A boundary layer exported from a GIS (ArcGIS, QGIS, SuperMap) is a FeatureCollection; the loaders read
it as its attribute table would be saved as a spreadsheet: one sheet named after the file, row 1 the
header (the property names the features carry, in the order first seen, then ``geometry``), feature *n*
(from 1) in row *n* + 1, so the clerk's report and 待修正 sheet number rows as that spreadsheet would and
the engine needs nothing of its own for a layer. Cells are the property values
as they are (text, numbers, booleans; a nested object or list as JSON text) and the feature's geometry as
GeoJSON text (``None`` when it has none), which a ``geometry`` column of the spec then validates row by
row: one bad feature is refused and reported, the rest load.

A file is refused whole, saying how to fix it, when it is not JSON, is JSON but no FeatureCollection (or
single Feature: a bare geometry names nothing), has no features, names a projected coordinate system in
its (pre-RFC 7946) ``crs`` member, or is larger than ``MAX_BYTES``. RFC 7946 says UTF-8 (a BOM is
tolerated); GB18030, which some Chinese GIS tools write, is read too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from entgraph.identity.geometry import GEOGRAPHIC_SRIDS
from entgraph.loaders.readers.base import FileRejected, Row, Sheet, clean_cells

MAX_BYTES = 64 * 1024 * 1024  # a city's town boundaries are a few MB; beyond this, split the layer
GEOMETRY_HEADER = "geometry"
EXPORT_AGAIN = "export the layer again from the GIS as GeoJSON (RFC 7946, longitude/latitude) and upload it"
_EPSG = re.compile(r"EPSG:+(\d+)", re.IGNORECASE)


def looks_like_geojson(path: Path, head: bytes) -> bool:
    """Whether the file's first bytes are a JSON object that is (or claims to be) GeoJSON: named
    ``.geojson``/``.json``, or mentioning a Feature near its start."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text.startswith(b"{"):
        return False
    return path.suffix.lower() in (".geojson", ".json") or b'"Feature' in head


def open_geojson(path: Path) -> Sheet:
    """The file's features as a sheet (see the module docstring); FileRejected for a bad file."""
    features = _features(path)
    header: dict[str, None] = {}
    for feature in features:
        properties = feature.get("properties") if isinstance(feature, dict) else None
        if isinstance(properties, dict):
            header.update(dict.fromkeys(str(k) for k in properties))
    names = [*(name for name in header if name != GEOMETRY_HEADER), GEOMETRY_HEADER]

    def rows() -> Iterator[Row]:
        yield 1, list(names)
        for number, feature in enumerate(features, start=2):
            yield number, _cells(feature, names)

    return Sheet(path.name, rows, reader="geojson")


def _features(path: Path) -> list[Any]:
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise FileRejected(
            f"{path.name} is {size // (1024 * 1024)} MB, more than the {MAX_BYTES // (1024 * 1024)} MB a "
            "GeoJSON file may be; simplify the boundaries or split the layer into several files"
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("gb18030")
        except UnicodeDecodeError:
            raise FileRejected(f"{path.name} is neither UTF-8 nor GB18030 text; {EXPORT_AGAIN}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise FileRejected(
            f"{path.name} is not valid JSON (line {getattr(exc, 'lineno', '?')}: "
            f"{getattr(exc, 'msg', exc)}); {EXPORT_AGAIN}"
        ) from None
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "Feature":
        return [data]
    if kind != "FeatureCollection":
        what = f"a GeoJSON {kind}" if isinstance(kind, str) else "JSON without a GeoJSON type"
        raise FileRejected(
            f"{path.name} is {what}, not a FeatureCollection: its shapes carry no properties naming what "
            f"they are; {EXPORT_AGAIN}, with each feature's name among its attributes"
        )
    _check_crs(path, data.get("crs"))
    features = data.get("features")
    if not isinstance(features, list):
        raise FileRejected(f'{path.name}: its FeatureCollection has no "features" list; {EXPORT_AGAIN}')
    if not features:
        raise FileRejected(f"{path.name} has no data: its FeatureCollection has no features; {EXPORT_AGAIN}")
    return features


def _check_crs(path: Path, crs: Any) -> None:
    """Refuse a file whose (GeoJSON 2008) ``crs`` names a projected system: every shape would be off the
    map. RFC 7946 dropped ``crs``: without one, coordinates are longitude/latitude."""
    if not isinstance(crs, dict):
        return
    name = str((crs.get("properties") or {}).get("name") or "")
    found = _EPSG.search(name)
    if found and int(found.group(1)) not in GEOGRAPHIC_SRIDS:
        raise FileRejected(
            f"{path.name} is in EPSG:{found.group(1)}, a projected coordinate system (metres), not "
            "longitude/latitude; export it again in EPSG:4490 (CGCS2000) or EPSG:4326 (WGS 84)"
        )


def _cells(feature: Any, names: list[str]) -> list[object]:
    """A feature's cells under ``names``: its properties, then its geometry as GeoJSON text."""
    if not isinstance(feature, dict):  # not a feature: shown where the geometry goes, refused there
        return [None] * (len(names) - 1) + [json.dumps(feature, ensure_ascii=False)]
    properties = feature.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    cells = [_value(properties.get(name)) for name in names[:-1]]
    geometry = feature.get("geometry")
    compact = None if geometry is None else json.dumps(geometry, ensure_ascii=False, separators=(",", ":"))
    cells.append(compact)
    return clean_cells(cells)


def _value(value: Any) -> object:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value
