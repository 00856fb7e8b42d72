"""Where a place is, as departments write it: points and areas read into GeoJSON geometries.

Land bureaus write a parcel's 宗地空间地理信息 as WKT (``POINT (118.58 24.81)``, ``POLYGON ((...))``,
PostGIS's ``SRID=4490;POINT (...)``), as GeoJSON, or as plain ``经度,纬度`` text; town boundaries come as
GeoJSON. :func:`parse_geometry` reads any of these into a :class:`Geometry` -- a Point, Polygon or
MultiPolygon in longitude/latitude degrees -- and refuses, with a reason in Chinese and English a clerk
can act on, what it cannot place on a map: projected metres (a Gauss-Krüger CGCS2000 export), an SRID
that is not longitude/latitude, rings that enclose no area, lines, or text that is no geometry at all.

Coordinates are taken as written (CGCS2000 and WGS 84 differ by centimetres; a GCJ-02 export is shifted by
a few hundred metres, and boundaries and parcels from one city's data share the shift). Rounded to seven
decimals (about a centimetre). Pure functions, no I/O.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

Position = tuple[float, float]
Ring = tuple[Position, ...]
Polygon = tuple[Ring, ...]  # the outer ring, then its holes
Kind = Literal["Point", "Polygon", "MultiPolygon"]

DECIMALS = 7
MAX_POSITIONS = 100_000  # a town boundary from a GIS export has thousands; a million is a mistake
# Spatial reference ids of longitude/latitude systems: WGS 84, CGCS2000, Beijing 1954, Xi'an 1980.
GEOGRAPHIC_SRIDS = frozenset({4326, 4490, 4214, 4610})
_WKT_HEAD = re.compile(r"^\s*(?:SRID=(\d+)\s*;\s*)?([A-Za-z]+)", re.ASCII)
_WKT_TOKENS = re.compile(r"\(|\)|,|[^\s(),]+")
_PAIR_SPLIT = re.compile(r"[\s,，;；]+")
_EXPORT = "export longitude/latitude in degrees (CGCS2000 or WGS 84)"


class GeometryError(ValueError):
    """Text or data that is no point or area on the map; both reasons are short and say what to fix."""

    def __init__(self, reason_zh: str, reason_en: str) -> None:
        super().__init__(reason_en)
        self.reason_zh = reason_zh
        self.reason_en = reason_en


@dataclass(frozen=True)
class Geometry:
    """A point or an area in longitude/latitude degrees, shaped as GeoJSON shapes it.

    ``coordinates``: a Point's ``(lng, lat)``; a Polygon's rings (the outer one first, closed); a
    MultiPolygon's polygons."""

    kind: Kind
    coordinates: Any

    # -- what it is ----------------------------------------------------------------------------------

    def polygons(self) -> tuple[Polygon, ...]:
        """Its areas (none for a point)."""
        if self.kind == "Polygon":
            return (self.coordinates,)
        if self.kind == "MultiPolygon":
            return tuple(self.coordinates)
        return ()

    def positions(self) -> Iterator[Position]:
        if self.kind == "Point":
            yield self.coordinates
            return
        for polygon in self.polygons():
            for ring in polygon:
                yield from ring

    def bbox(self) -> tuple[float, float, float, float]:
        """``(west, south, east, north)``."""
        lngs, lats = zip(*self.positions(), strict=True)
        return min(lngs), min(lats), max(lngs), max(lats)

    def point(self) -> Position:
        """A point that stands for it on a map: the point itself, else a point inside its largest area
        (the centroid when that falls inside, as it does for every convex shape)."""
        if self.kind == "Point":
            return self.coordinates
        largest = max(self.polygons(), key=lambda polygon: abs(_ring_area(polygon[0])))
        inside = _label_point(largest)
        return round(inside[0], DECIMALS), round(inside[1], DECIMALS)

    def contains(self, lng: float, lat: float) -> bool:
        """Whether ``(lng, lat)`` lies inside one of its areas (out of its holes); a point contains
        only itself."""
        if self.kind == "Point":
            return self.coordinates == (lng, lat)
        return any(_in_polygon(polygon, lng, lat) for polygon in self.polygons())

    # -- how it is written ---------------------------------------------------------------------------

    def as_geojson(self) -> dict[str, Any]:
        """The GeoJSON geometry object (RFC 7946)."""

        def listed(value: Any) -> Any:
            return [listed(v) for v in value] if isinstance(value, tuple) else value

        return {"type": self.kind, "coordinates": listed(self.coordinates)}

    def to_json(self) -> str:
        """Compact GeoJSON text: what the graph stores."""
        return json.dumps(self.as_geojson(), separators=(",", ":"))

    def to_wkt(self) -> str:
        if self.kind == "Point":
            return f"POINT ({_wkt_position(self.coordinates)})"
        if self.kind == "Polygon":
            return f"POLYGON {_wkt_polygon(self.coordinates)}"
        return "MULTIPOLYGON (" + ", ".join(_wkt_polygon(p) for p in self.coordinates) + ")"

    def __str__(self) -> str:
        return self.to_json()


def point(lng: float, lat: float) -> Geometry:
    return Geometry("Point", _position((lng, lat)))


def polygon(outer: Iterable[Position], *holes: Iterable[Position]) -> Geometry:
    """A Polygon from its outer ring and holes (each closed here when it is not)."""
    return Geometry("Polygon", tuple(_ring(list(ring)) for ring in (outer, *holes)))


# -- reading ------------------------------------------------------------------------------------------


def parse_geometry(value: object) -> Geometry:
    """Read a cell or a GeoJSON member: a GeoJSON geometry (object or text), WKT (POINT, POLYGON,
    MULTIPOLYGON, with an optional ``SRID=4490;``), or a ``lng,lat`` pair (``lat,lng`` is recognised
    where the numbers leave no doubt). Raises :class:`GeometryError`."""
    if isinstance(value, Geometry):
        return value
    if isinstance(value, dict):
        return _from_geojson(value)
    if not isinstance(value, str):
        raise GeometryError(f"不是坐标或图形：{_shown(value)}", f"not a point or shape: {_shown(value)}")
    text = value.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            raise GeometryError(
                f"GeoJSON 格式错误：{_shown(text)}", f"malformed GeoJSON: {_shown(text)}"
            ) from None
        if not isinstance(data, dict):
            raise GeometryError(f"GeoJSON 格式错误：{_shown(text)}", f"malformed GeoJSON: {_shown(text)}")
        return _from_geojson(data)
    head = _WKT_HEAD.match(text)
    if head and (head.group(2).upper() in _WKT_KINDS or head.group(2).upper() in _NOT_AREAS):
        return _from_wkt(text, head)
    return _from_pair(text)


_WKT_KINDS = {"POINT": "Point", "POLYGON": "Polygon", "MULTIPOLYGON": "MultiPolygon"}
_NOT_AREAS = {"LINESTRING", "MULTILINESTRING", "MULTIPOINT", "GEOMETRYCOLLECTION"}


def _from_pair(text: str) -> Geometry:
    parts = [p for p in _PAIR_SPLIT.split(text) if p]
    numbers = [_number(p) for p in parts] if len(parts) == 2 else None
    if numbers is None or None in numbers:
        raise GeometryError(
            f"无法识别的坐标（应为“经度,纬度”、WKT 或 GeoJSON）：{_shown(text)}",
            f"unrecognised coordinates (expected 'lng,lat', WKT or GeoJSON): {_shown(text)}",
        )
    a, b = numbers  # type: ignore[misc]
    # GeoJSON's order is longitude first; a latitude first shows when only the second can be a longitude.
    if abs(a) <= 90 < abs(b) <= 180:
        a, b = b, a
    return Geometry("Point", _position((a, b)))


def _from_wkt(text: str, head: re.Match[str]) -> Geometry:
    srid, word = head.group(1), head.group(2).upper()
    if srid is not None and int(srid) not in GEOGRAPHIC_SRIDS:
        raise GeometryError(
            f"SRID={srid} 不是经纬度坐标；请导出经纬度（CGCS2000 或 WGS 84）",
            f"SRID={srid} is not longitude/latitude; {_EXPORT}",
        )
    if word in _NOT_AREAS:
        shown = _shown(text)
        raise GeometryError(f"{word} 不是点或面：{shown}", f"a {word} is no point or area: {shown}")
    tokens = _WKT_TOKENS.findall(text[head.end() :])
    while tokens and tokens[0].upper() in ("Z", "M", "ZM"):
        tokens = tokens[1:]  # extra dimensions: only the first two numbers of a position are kept
    if len(tokens) == 1 and tokens[0].upper() == "EMPTY":
        raise GeometryError(f"空图形：{_shown(text)}", f"an empty geometry: {_shown(text)}")
    try:
        nested, end = _wkt_list(tokens, 0)
    except (IndexError, ValueError):
        raise GeometryError(f"WKT 格式错误：{_shown(text)}", f"malformed WKT: {_shown(text)}") from None
    if end != len(tokens):
        raise GeometryError(f"WKT 格式错误：{_shown(text)}", f"malformed WKT: {_shown(text)}")
    return _built(_WKT_KINDS[word], nested, text)


def _wkt_list(tokens: list[str], i: int) -> tuple[list[Any], int]:
    """A parenthesised WKT list from ``tokens[i]`` (an opening bracket): positions (lists of numbers)
    or nested lists; returns it and the index after its closing bracket."""
    if tokens[i] != "(":
        raise ValueError("expected (")
    i += 1
    items: list[Any] = []
    if tokens[i] == "(":
        while True:
            item, i = _wkt_list(tokens, i)
            items.append(item)
            if tokens[i] == ",":
                i += 1
                continue
            if tokens[i] == ")":
                return items, i + 1
            raise ValueError("expected , or )")
    position: list[float] = []
    while True:
        token = tokens[i]
        if token in (",", ")"):
            items.append(position)
            position = []
            i += 1
            if token == ")":
                return items, i
        elif token == "(":  # MULTIPOINT-style ((1 2), (3 4)) inside a list of numbers
            raise ValueError("unexpected (")
        else:
            number = _number(token)
            if number is None:
                raise ValueError(token)
            position.append(number)
            i += 1


def _from_geojson(data: dict[str, Any]) -> Geometry:
    kind = data.get("type")
    if kind == "Feature":
        geometry = data.get("geometry")
        if not isinstance(geometry, dict):
            raise GeometryError("要素没有图形（geometry 为空）", "the feature has no geometry")
        return _from_geojson(geometry)
    if kind not in ("Point", "Polygon", "MultiPolygon"):
        raise GeometryError(
            f"GeoJSON 类型 {kind!s} 不是点或面（应为 Point、Polygon 或 MultiPolygon）",
            f"GeoJSON type {kind!s} is no point or area (Point, Polygon or MultiPolygon)",
        )
    coordinates = data.get("coordinates")
    if not isinstance(coordinates, list) or not coordinates:
        raise GeometryError(f"{kind} 没有坐标", f"the {kind} has no coordinates")
    return _built(kind, coordinates, json.dumps(data, ensure_ascii=False)[:80])


def _built(kind: str, nested: Any, shown: str) -> Geometry:
    """Check and round nested coordinates as ``kind`` shapes them (WKT's point is one position in a
    list, GeoJSON's a bare position)."""
    count = sum(1 for _ in _leaves(nested))
    if count > MAX_POSITIONS:
        raise GeometryError(
            f"图形过于复杂（{count} 个坐标，最多 {MAX_POSITIONS}）；请简化后导出",
            f"too detailed a shape ({count} positions, at most {MAX_POSITIONS}); simplify it, export again",
        )
    try:
        if kind == "Point":
            position = nested[0] if nested and isinstance(nested[0], list) else nested
            return Geometry("Point", _position(position))
        if kind == "Polygon":
            return Geometry("Polygon", _polygon(nested))
        return Geometry("MultiPolygon", tuple(_polygon(p) for p in nested))
    except GeometryError:
        raise
    except (TypeError, ValueError, IndexError):
        text = _shown(shown)
        raise GeometryError(f"{kind} 坐标结构错误：{text}", f"malformed {kind}: {text}") from None


def _leaves(nested: Any) -> Iterator[Any]:
    if isinstance(nested, list | tuple) and nested and isinstance(nested[0], list | tuple):
        for item in nested:
            yield from _leaves(item)
    else:
        yield nested


def _position(values: Any) -> Position:
    if not isinstance(values, list | tuple) or len(values) < 2:
        raise ValueError("a position needs two numbers")
    lng, lat = values[0], values[1]
    if isinstance(lng, bool) or isinstance(lat, bool) or not isinstance(lng, int | float):
        raise ValueError("not a number")
    if not isinstance(lat, int | float) or not (math.isfinite(lng) and math.isfinite(lat)):
        raise ValueError("not a finite number")
    if abs(lng) > 180 or abs(lat) > 90:
        shown = f"{_plain(lng)}, {_plain(lat)}"
        raise GeometryError(
            f"坐标 {shown} 不是经纬度（像是投影坐标，单位为米）；请导出经纬度（CGCS2000 或 WGS 84）",
            f"{shown} is no longitude/latitude (projected metres?); {_EXPORT}",
        )
    return round(float(lng), DECIMALS), round(float(lat), DECIMALS)


def _ring(values: Any) -> Ring:
    positions = [_position(v) for v in values]
    if positions and positions[0] != positions[-1]:
        positions.append(positions[0])  # WKT and GeoJSON close rings; clerks' exports sometimes do not
    if len(set(positions)) < 3 or _ring_area(tuple(positions)) == 0:
        raise GeometryError(
            "面的边界不足以围成面积（至少三个不同的点）",
            "a ring that encloses no area (three points at least)",
        )
    return tuple(positions)


def _polygon(values: Any) -> Polygon:
    if not isinstance(values, list | tuple) or not values:
        raise ValueError("a polygon needs a ring")
    return tuple(_ring(ring) for ring in values)


def _number(text: Any) -> float | None:
    try:
        number = float(text)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _plain(number: float) -> str:
    """A coordinate as a clerk wrote it: no exponent (2700000, not 2.7e+06)."""
    return f"{number:.{DECIMALS}f}".rstrip("0").rstrip(".")


def _shown(value: object) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= 40 else text[:39] + "…"


# -- geometry arithmetic ----------------------------------------------------------------------------


def _ring_area(ring: Ring) -> float:
    """Signed area (shoelace) in square degrees: enough to compare and to find a centroid."""
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(ring)) / 2


def _centroid(ring: Ring) -> Position:
    area = _ring_area(ring)
    cx = cy = 0.0
    for (x0, y0), (x1, y1) in itertools.pairwise(ring):
        cross = x0 * y1 - x1 * y0
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    return cx / (6 * area), cy / (6 * area)


def _in_ring(ring: Ring, lng: float, lat: float) -> bool:
    inside = False
    for (x0, y0), (x1, y1) in itertools.pairwise(ring):
        if (y0 > lat) != (y1 > lat) and lng < x0 + (lat - y0) * (x1 - x0) / (y1 - y0):
            inside = not inside
    return inside


def _in_polygon(polygon: Polygon, lng: float, lat: float) -> bool:
    return _in_ring(polygon[0], lng, lat) and not any(_in_ring(hole, lng, lat) for hole in polygon[1:])


def _label_point(polygon: Polygon) -> Position:
    """The centroid when inside the polygon, else the middle of the widest stretch of the polygon along
    the centroid's latitude (a U-shaped or holed parcel's centroid can lie outside it)."""
    cx, cy = _centroid(polygon[0])
    if _in_polygon(polygon, cx, cy):
        return cx, cy
    crossings = sorted(
        x0 + (cy - y0) * (x1 - x0) / (y1 - y0)
        for ring in polygon
        for (x0, y0), (x1, y1) in itertools.pairwise(ring)
        if (y0 > cy) != (y1 > cy)
    )
    spans = list(zip(crossings[::2], crossings[1::2], strict=False))
    if not spans:
        return polygon[0][0]
    left, right = max(spans, key=lambda span: span[1] - span[0])
    return (left + right) / 2, cy


def _wkt_position(position: Position) -> str:
    return " ".join(_plain(value) for value in position)


def _wkt_polygon(rings: Polygon) -> str:
    return "(" + ", ".join("(" + ", ".join(_wkt_position(p) for p in ring) + ")" for ring in rings) + ")"


__all__ = [
    "Geometry",
    "GeometryError",
    "parse_geometry",
    "point",
    "polygon",
]
