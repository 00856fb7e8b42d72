"""The towns' map over GraphQL: town boundaries, and a town's enterprises and land parcels with a point.

:class:`TownMapQuery` holds the root fields; api/schema.py merges it into ``Query``. The Cypher lives in
``graph/map_queries.py``; docs/towns.md (Map) says where each point comes from:

- ``townBoundaries``: every town whose boundary a boundary dataset (a region dataset with a town column
  and a required geometry, ``jj_town_boundaries``) holds, the newest load per town, as GeoJSON;
- ``townMap(town)``: the town's boundary, the land parcels a record places in the town or whose point
  lies inside its boundary, and the town's enterprises (by golden town) that have a point: the point of
  a parcel they hold, else of a parcel whose 坐落 is exactly their address (both read from what the
  city loaded: nothing is geocoded from outside). The others are counted, not drawn.

Access follows the catalog's sharing as everywhere else (``api/visibility.py``): a boundary, a parcel's
point, its location and area show only where a record of a dataset the caller may see states them in
columns it may see in full; an enterprise is on the map when it is known to the caller and its golden
town is one the caller may see; its status shows as that golden value may be seen. The public sees the
boundaries, the parcels of announced land grants and the enterprises holding them.

Each list is computed together by a few statements and bounded by :data:`MAX_POINTS` (``truncated``
says when a town has more), so the query limits count its items once (``FLAT_LISTS`` in api/limits.py).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from entgraph.api.client_errors import NotFound
from entgraph.api.context import Context
from entgraph.api.masking import Decision, column_sharing, policy
from entgraph.api.visibility import visibility
from entgraph.catalog.registry import Catalog
from entgraph.catalog.spec import DatasetSpec, FieldType, Subject
from entgraph.catalog.spec import Role as ColumnRole
from entgraph.graph import map_queries as queries
from entgraph.identity.chinese_names import normalise_address
from entgraph.identity.geometry import Geometry, GeometryError, parse_geometry

MAX_POINTS = 5000  # enterprises, and parcels, one town map returns at most
MAX_ENTERPRISES = 20_000  # of a town's enterprises, looked at for a point at most
_BATCH = 2000  # enterprise ids per statement looking up their parcels
_LOCATION_FIELDS = ("location",)  # a parcel's 坐落, as the land specs name it
_AREA_FIELDS = ("area", "parcel_area")  # its area (square metres)
_DIVISION_FIELDS = ("division_code",)  # a boundary record's 行政区划代码


# --- what the catalog says -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layers:
    """Which columns of the catalog the map reads."""

    boundaries: dict[str, str]  # boundary dataset -> its geometry field
    parcel_geometry: tuple[str, ...]  # geometry fields land specs write onto parcels
    parcel_dates: tuple[str, ...]  # the date fields of records concerning parcels


@functools.lru_cache(maxsize=8)
def _layers(catalog: Catalog) -> _Layers:
    """Worked out once per catalog (the app keeps one)."""
    boundaries: dict[str, str] = {}
    geometry: list[str] = []
    dates: list[str] = []
    for spec in catalog.specs:
        shape = _boundary_field(spec)
        if shape is not None:
            boundaries[spec.key] = shape
        for node in spec.nodes:
            if node.label == "LandParcel" and node.relation == queries.PARCEL_RELATION:
                geometry += [f for f in node.properties if spec.column(f).type is FieldType.GEOMETRY]
                dates += [c.field for c in spec.columns if c.role is ColumnRole.DATE and c.party == "subject"]
    return _Layers(boundaries, tuple(dict.fromkeys(geometry)), tuple(dict.fromkeys(dates)))


def _boundary_field(spec: DatasetSpec) -> str | None:
    """The geometry field of a boundary dataset: a region dataset with a town column and a required
    geometry column (None for any other dataset)."""
    if spec.subject is not Subject.REGION or not any(c.role is ColumnRole.TOWN for c in spec.columns):
        return None
    return next((c.field for c in spec.columns if c.type is FieldType.GEOMETRY and c.required), None)


def _shows(context: Context, spec: DatasetSpec | None, field: str) -> bool:
    """Whether the caller's role may see column ``field`` of ``spec`` in full."""
    if spec is None:
        return False
    try:
        sharing = column_sharing(spec, field)
    except KeyError:
        return False
    return policy(sharing, context.principal.role) is Decision.SHOW


# --- types -----------------------------------------------------------------------------------------


@strawberry.type(description="A town's (镇/街道) boundary, from the city's boundary dataset.")
class TownBoundary:
    town: str = strawberry.field(description="The town's name, as the records name it (its key).")
    division_code: str | None = strawberry.field(description="乡级行政区划代码, when the layer gives it.")
    boundary: JSON = strawberry.field(description="A GeoJSON geometry (Polygon or MultiPolygon), lng/lat.")
    center: list[float] = strawberry.field(description="[lng, lat] of a point inside it, for a label.")
    bbox: list[float] = strawberry.field(description="[west, south, east, north].")
    dataset: str = strawberry.field(description="The dataset it was loaded from.")
    record_id: str = strawberry.field(description="The source record holding it (its provenance).")


@strawberry.type(description="An enterprise with a point on a town's map.")
class MapEnterprise:
    id: strawberry.ID
    name: str | None
    status: str | None = strawberry.field(
        description="Its golden 登记状态 (存续, 注销 ...), as the caller may see it."
    )
    lng: float
    lat: float
    located_by: str = strawberry.field(
        description="parcel: a parcel it holds (the subject of a record concerning it); address: a parcel "
        "whose 坐落 is exactly its golden address."
    )
    parcel_key: str = strawberry.field(description="The parcel its point is taken from.")


@strawberry.type(description="A land parcel with a point on a town's map.")
class MapParcel:
    key: str
    lng: float
    lat: float
    location: str | None = strawberry.field(description="土地坐落, as the caller may see it.")
    area: float | None = strawberry.field(description="Square metres, as the caller may see it.")
    holder_id: strawberry.ID | None = strawberry.field(
        description="The subject of its latest record by date (the grantee, transferee, land user or "
        "certificate holder; undated records count as oldest), among those the caller may see."
    )
    holder_name: str | None
    inside: bool = strawberry.field(
        description="Whether its point lies inside the town's boundary (false: a record places it in the "
        "town but its point is elsewhere, or the town has no boundary)."
    )


@strawberry.type(description="What a town's map draws.")
class TownMap:
    town: str
    boundary: TownBoundary | None = strawberry.field(description="Null when no boundary is loaded for it.")
    enterprises: list[MapEnterprise] = strawberry.field(
        description=f"Its enterprises with a point, by id (at most {MAX_POINTS})."
    )
    parcels: list[MapParcel] = strawberry.field(
        description=f"Its parcels with a point, by key (at most {MAX_POINTS})."
    )
    enterprise_count: int = strawberry.field(
        description="Its enterprises (by golden town) the caller may see, with a point or without."
    )
    without_point: int = strawberry.field(
        description="Of those, how many have no point: no parcel they hold, and no parcel at their address."
    )
    truncated: bool = strawberry.field(description="True when a list was cut at its maximum.")


# --- building it -----------------------------------------------------------------------------------


def _boundaries(context: Context, town: str | None) -> list[TownBoundary]:
    """The newest boundary per town (``town`` only, when given) the caller may see."""
    layers = _layers(context.catalog)
    fields = {
        key: field
        for key, field in layers.boundaries.items()
        if context.may_see(key) and _shows(context, context.spec(key), field)
    }
    if not fields:
        return []
    rows = queries.boundaries(context.store, sorted(fields), town, visibility(context))
    out: dict[str, TownBoundary] = {}
    for row in rows:  # newest first per town: the first readable one wins
        if row["town"] in out:
            continue
        props, spec = dict(row["props"]), context.spec(row["dataset"])
        try:
            shape = parse_geometry(props.get(fields[row["dataset"]]))
        except GeometryError:
            continue  # loaded by an older engine without the geometry check: not drawn
        if not shape.polygons():
            continue
        code = next((props[f] for f in _DIVISION_FIELDS if props.get(f) and _shows(context, spec, f)), None)
        out[row["town"]] = _boundary(row, shape, code)
    return [out[name] for name in sorted(out)]


def _boundary(row: dict[str, Any], shape: Geometry, code: Any) -> TownBoundary:
    return TownBoundary(
        town=row["town"],
        division_code=None if code is None else str(code),
        boundary=shape.as_geojson(),
        center=list(shape.point()),
        bbox=list(shape.bbox()),
        dataset=row["dataset"],
        record_id=row["id"],
    )


def _holder(holders: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    """The subject of the latest dated record (undated ones count as oldest), the first by id on a tie."""
    linked = [h for h in holders if h.get("id")]
    if not linked:
        return None, None
    latest = max(str(h.get("on") or "") for h in linked)
    first = min((h for h in linked if str(h.get("on") or "") == latest), key=lambda h: h["id"])
    return first["id"], first.get("name")


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _parcels(context: Context, town: str, boundary: TownBoundary | None) -> tuple[list[MapParcel], bool]:
    layers, sight, store = _layers(context.catalog), visibility(context), context.store
    keys = set(queries.parcel_keys_in_town(store, town, sight))
    shape = parse_geometry(boundary.boundary) if boundary is not None else None
    if shape is not None:
        west, south, east, north = shape.bbox()
        boxed = queries.parcel_keys_in_box(store, west, south, east, north, MAX_POINTS * 4)
        keys |= {row["key"] for row in boxed if shape.contains(row["lng"], row["lat"])}
    ordered = sorted(keys)
    rows = queries.parcel_points(
        store,
        ordered[: MAX_POINTS + 1],
        layers.parcel_geometry,
        _LOCATION_FIELDS,
        _AREA_FIELDS,
        layers.parcel_dates,
        sight,
    )
    parcels = []
    for row in rows[:MAX_POINTS]:
        holder_id, holder_name = _holder(row["holders"])
        parcels.append(
            MapParcel(
                key=row["key"],
                lng=row["lng"],
                lat=row["lat"],
                location=None if row["location"] is None else str(row["location"]),
                area=_number(row["area"]),
                holder_id=None if holder_id is None else strawberry.ID(holder_id),
                holder_name=holder_name,
                inside=shape is not None and shape.contains(row["lng"], row["lat"]),
            )
        )
    return parcels, len(rows) > MAX_POINTS


def _enterprises(
    context: Context, town: str, parcels: list[MapParcel]
) -> tuple[list[MapEnterprise], int, bool]:
    layers, sight, store = _layers(context.catalog), visibility(context), context.store
    found = queries.town_enterprises(store, town, MAX_ENTERPRISES + 1, sight)
    truncated = len(found) > MAX_ENTERPRISES
    found = found[:MAX_ENTERPRISES]
    held: dict[str, dict[str, Any]] = {}
    ids = [row["id"] for row in found]
    for start in range(0, len(ids), _BATCH):
        for row in queries.held_parcel_points(
            store, ids[start : start + _BATCH], layers.parcel_geometry, sight
        ):
            held.setdefault(row["id"], row)  # the first parcel by key
    at_address: dict[str, MapParcel] = {}
    for parcel in parcels:
        place = normalise_address(parcel.location) if parcel.location else None
        if place:
            at_address.setdefault(place, parcel)
    points = []
    for row in found:
        if row["id"] in held:
            point = held[row["id"]]
            points.append(_enterprise(row, point["lng"], point["lat"], "parcel", point["key"]))
            continue
        place = normalise_address(row["address"]) if isinstance(row.get("address"), str) else None
        parcel = at_address.get(place) if place else None
        if parcel is not None:
            points.append(_enterprise(row, parcel.lng, parcel.lat, "address", parcel.key))
    return points[:MAX_POINTS], len(found), truncated or len(points) > MAX_POINTS


def _enterprise(row: dict[str, Any], lng: float, lat: float, how: str, parcel: str) -> MapEnterprise:
    status = row.get("status")
    return MapEnterprise(
        id=strawberry.ID(row["id"]),
        name=row.get("name"),
        status=None if status is None else str(status),
        lng=lng,
        lat=lat,
        located_by=how,
        parcel_key=parcel,
    )


def _town_map(context: Context, town: str) -> TownMap:
    found = _boundaries(context, town)
    boundary = found[0] if found else None
    parcels, cut_parcels = _parcels(context, town, boundary)
    enterprises, count, cut_enterprises = _enterprises(context, town, parcels)
    if boundary is None and not parcels and not count:
        raise NotFound(f"no town {town!r} on the map: no boundary, parcel or enterprise of it is known")
    return TownMap(
        town=town,
        boundary=boundary,
        enterprises=enterprises,
        parcels=parcels,
        enterprise_count=count,
        without_point=count - len(enterprises),
        truncated=cut_parcels or cut_enterprises,
    )


# --- root fields -----------------------------------------------------------------------------------


@strawberry.type
class TownMapQuery:
    @strawberry.field(
        description="Every town (镇/街道) whose boundary the city has loaded (the newest per town), by name: "
        "the city's map."
    )
    async def town_boundaries(self, info: Info[Context, None]) -> list[TownBoundary]:
        return await info.context.in_thread(_boundaries, info.context, None)

    @strawberry.field(
        description="A town's map: its boundary, its land parcels with a point and its enterprises with a "
        "point (see docs/towns.md, Map). NOT_FOUND for a town nothing the caller may see knows."
    )
    async def town_map(self, info: Info[Context, None], town: str) -> TownMap:
        return await info.context.in_thread(_town_map, info.context, town.strip())
