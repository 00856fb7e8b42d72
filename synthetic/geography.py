"""Where the synthetic 晋江's towns lie: boundaries that tile the city, and places inside them.

Each 镇/街道 of ``name_parts.TOWNS`` has a seat near where the real one is (longitude/latitude around
晋江's 118.55 E, 24.78 N), and its boundary is the part of a rough city outline nearer its seat than any
other's (a Voronoi cell, clipped half-plane by half-plane from the convex outline): the towns cover the
city exactly once, without gaps or overlaps, small where seats crowd (the six 街道 of the old centre)
and large along the coast, as the real ones are. Distances are taken east-west scaled by the cosine of
the latitude, so cells are not stretched. Nothing here is surveyed: it is enough for a map of the demo.

A parcel is a small rectangle (or only its point) at a random place inside its town, drawn from the row's
random generator so that the same seed gives the same city.
"""

from __future__ import annotations

import functools
import math
import random

from entgraph.identity.geometry import Geometry, point, polygon
from entgraph.synthetic import name_parts as nm

CENTRE = (118.55, 24.78)
# The city's rough outline (convex, anticlockwise): 晋江 between 泉州湾 and 围头湾.
OUTLINE = (
    (118.425, 24.690), (118.470, 24.640), (118.540, 24.600), (118.610, 24.570), (118.670, 24.590),
    (118.705, 24.660), (118.700, 24.760), (118.665, 24.840), (118.600, 24.885), (118.530, 24.915),
    (118.480, 24.900), (118.430, 24.820), (118.415, 24.740),
)  # fmt: skip
# Seats and 乡级行政区划代码 (街道 001-006, 镇 100-112) of the towns, in name_parts.TOWNS order.
SEATS: dict[str, tuple[float, float, str]] = {
    "青阳街道": (118.578, 24.812, "350582001"),
    "梅岭街道": (118.553, 24.800, "350582002"),
    "西园街道": (118.572, 24.836, "350582003"),
    "罗山街道": (118.602, 24.792, "350582004"),
    "灵源街道": (118.556, 24.768, "350582005"),
    "新塘街道": (118.590, 24.764, "350582006"),
    "陈埭镇": (118.625, 24.842, "350582100"),
    "池店镇": (118.540, 24.856, "350582101"),
    "安海镇": (118.465, 24.715, "350582102"),
    "磁灶镇": (118.482, 24.838, "350582103"),
    "内坑镇": (118.445, 24.772, "350582104"),
    "紫帽镇": (118.515, 24.882, "350582105"),
    "东石镇": (118.500, 24.655, "350582106"),
    "永和镇": (118.545, 24.712, "350582107"),
    "英林镇": (118.575, 24.640, "350582108"),
    "金井镇": (118.632, 24.610, "350582109"),
    "龙湖镇": (118.620, 24.692, "350582110"),
    "深沪镇": (118.672, 24.652, "350582111"),
    "西滨镇": (118.660, 24.758, "350582112"),
}
METRES_PER_DEGREE = 111_320.0
_SCALE = math.cos(math.radians(CENTRE[1]))  # an east-west degree is this much of a north-south one here


def division_code(town: str) -> str:
    """The town's 乡级行政区划代码, or the city's (350582) for anything else."""
    return SEATS[town][2] if town in SEATS else nm.DIVISION


@functools.cache
def town_shapes() -> dict[str, Geometry]:
    """Every town's boundary, by name."""
    seats = {town: _local(lng, lat) for town, (lng, lat, _) in SEATS.items()}
    shapes = {}
    for town, seat in seats.items():
        cell = [_local(lng, lat) for lng, lat in OUTLINE]
        for other, there in seats.items():
            if other != town:
                cell = _nearer(cell, seat, there)
        shapes[town] = polygon([_world(x, y) for x, y in cell])
    return shapes


def city_shape() -> Geometry:
    return polygon(OUTLINE)


def point_in(town: str | None, rng: random.Random) -> tuple[float, float]:
    """A random place inside the town (anywhere in the city for an unknown one)."""
    shape = town_shapes().get(town or "") or city_shape()
    west, south, east, north = shape.bbox()
    for _ in range(200):
        lng, lat = rng.uniform(west, east), rng.uniform(south, north)
        if shape.contains(lng, lat):
            return round(lng, 6), round(lat, 6)
    return shape.point()


def parcel(town: str | None, rng: random.Random) -> Geometry:
    """A parcel in the town: a rectangle of 0.2-6 ha, longer one way than the other, around a random
    place inside it."""
    lng, lat = point_in(town, rng)
    area = rng.uniform(2_000, 60_000)
    ratio = rng.uniform(0.6, 1.7)
    half_ns = math.sqrt(area / ratio) / 2 / METRES_PER_DEGREE
    half_ew = math.sqrt(area * ratio) / 2 / (METRES_PER_DEGREE * _SCALE)
    corners = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
    return polygon([(round(lng + dx * half_ew, 6), round(lat + dy * half_ns, 6)) for dx, dy in corners])


def parcel_cell(town: str | None, rng: random.Random) -> str:
    """宗地空间地理信息 as land bureaus write it: mostly the outline as WKT, else its point as WKT or as
    ``经度,纬度`` text."""
    shape = parcel(town, rng)
    style = rng.random()
    if style < 0.6:
        return shape.to_wkt()
    lng, lat = shape.point()
    return point(lng, lat).to_wkt() if style < 0.85 else f"{lng:.6f},{lat:.6f}"


# -- planar helpers: degrees with east-west scaled, centred on the city ----------------------------------


def _local(lng: float, lat: float) -> tuple[float, float]:
    return (lng - CENTRE[0]) * _SCALE, lat - CENTRE[1]


def _world(x: float, y: float) -> tuple[float, float]:
    return round(x / _SCALE + CENTRE[0], 6), round(y + CENTRE[1], 6)


Planar = tuple[float, float]


def _nearer(cell: list[Planar], seat: Planar, other: Planar) -> list[Planar]:
    """The part of convex ``cell`` nearer ``seat`` than ``other`` (Sutherland-Hodgman, one half-plane)."""
    (sx, sy), (ox, oy) = seat, other
    nx, ny = ox - sx, oy - sy  # keep p where (p - midpoint) . n <= 0
    mx, my = (sx + ox) / 2, (sy + oy) / 2

    def side(p: tuple[float, float]) -> float:
        return (p[0] - mx) * nx + (p[1] - my) * ny

    out: list[Planar] = []
    for i, current in enumerate(cell):
        previous = cell[i - 1]
        a, b = side(previous), side(current)
        if (a <= 0) != (b <= 0):
            t = a / (a - b)
            x = previous[0] + t * (current[0] - previous[0])
            out.append((x, previous[1] + t * (current[1] - previous[1])))
        if b <= 0:
            out.append(current)
    return out
