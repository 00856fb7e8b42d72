"""All Cypher the towns' map needs (``api/town_map.py``): boundaries, parcels with a point, enterprises.

What the map draws comes from what the city loaded (docs/towns.md, Map):

- a town's boundary is the geometry on a live record of a boundary dataset (``jj_town_boundaries``) that
  places itself in the town (``IN_TOWN``); the API picks the newest per town and the geometry column;
- a land parcel has a point when a record gave it a geometry (``LandParcel.lng``/``lat``, written with
  the geometry property by ``loaders/records.py``); it is on a town's map when a live record places it
  in the town, or when its point lies in the town's bounding box (the API keeps those inside the
  boundary);
- an enterprise's point is that of a parcel it holds (the subject of a live record concerning it); the
  API adds, from the town's parcels, those whose 坐落 is exactly the enterprise's address.

Visibility (:class:`~entgraph.graph.visibility.Visibility`) is tested in the statements: only records of
datasets the caller may see, stating the link in columns it may see, place, locate or hold anything; a
parcel's point shows only where such a record states its geometry in a column the caller may see (the
point is the geometry's), its location and area likewise; an enterprise is on the map when its golden
town is one the caller may see, and known to it. Field names (geometry, date, area columns of the
catalog's specs) are checked identifiers, the only text interpolated; every value is a parameter.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from entgraph.graph.port import GraphStore, QueryError, Row
from entgraph.graph.visibility import EVERYTHING, Visibility, also

PARCEL_RELATION = "CONCERNS_PARCEL"
_FIELD = re.compile(r"^[a-z][a-z0-9_]*$")


def _fields(names: Sequence[str]) -> list[str]:
    bad = [name for name in names if not _FIELD.match(name)]
    if bad:
        raise QueryError(f"not field names: {bad!r}")
    return list(dict.fromkeys(names))


def _first_stated(sight: Visibility, names: Sequence[str], node: str, records: str) -> str:
    """Cypher for the first of node properties ``names`` a record of ``records`` states where the caller
    may see it (``Visibility.stated``), else null."""
    shown = [sight.stated(name, node, records) for name in _fields(names)]
    if not shown:
        return "null"
    return shown[0] if len(shown) == 1 else f"coalesce({', '.join(shown)})"


# --- boundaries ------------------------------------------------------------------------------------


def boundaries(
    store: GraphStore, datasets: Sequence[str], town: str | None = None, sight: Visibility = EVERYTHING
) -> list[Row]:
    """``{town, dataset, id, loaded_at, props}``: every live record of the boundary ``datasets`` the
    caller may see placing itself in a town (``town`` only, when given), newest first per town."""
    if town is None:
        match = "MATCH (r:SourceRecord) WHERE r.dataset IN $datasets MATCH (r)-[:IN_TOWN]->(t:Town) "
    else:
        match = "MATCH (t:Town {key: $town})<-[:IN_TOWN]-(r:SourceRecord) "
    return store.read(
        f"{match}WITH t, r WHERE r.dataset IN $datasets AND r.retired IS NULL"
        f"{also(sight.sees_fact('r', 'IN_TOWN'))} "
        "RETURN t.key AS town, r.dataset AS dataset, r.id AS id, r.loaded_at AS loaded_at, "
        "properties(r) AS props ORDER BY town, loaded_at DESC, id",
        {"datasets": list(datasets), "town": town, **sight.params()},
    )


# --- parcels ---------------------------------------------------------------------------------------


def parcel_keys_in_town(store: GraphStore, town: str, sight: Visibility = EVERYTHING) -> list[str]:
    """Keys of parcels with a point that a live record the caller may see places in ``town``."""
    rows = store.read(
        f"MATCH (t:Town {{key: $town}})<-[:IN_TOWN]-(r:SourceRecord)-[:{PARCEL_RELATION}]->(p:LandParcel) "
        f"WITH r, p WHERE r.retired IS NULL AND p.lng IS NOT NULL{also(sight.sees_fact('r', 'IN_TOWN'))} "
        "RETURN DISTINCT p.key AS key ORDER BY key",
        {"town": town, **sight.params()},
    )
    return [row["key"] for row in rows]


def parcel_keys_in_box(
    store: GraphStore, west: float, south: float, east: float, north: float, limit: int
) -> list[Row]:
    """``{key, lng, lat}`` of parcels whose point lies in the box (at most ``limit``, by key); whether
    the caller may see them is :func:`parcel_points`'s to say."""
    return store.read(
        "MATCH (p:LandParcel) WHERE p.lng >= $west AND p.lng <= $east AND p.lat >= $south "
        "AND p.lat <= $north RETURN p.key AS key, p.lng AS lng, p.lat AS lat ORDER BY key LIMIT $limit",
        {"west": west, "south": south, "east": east, "north": north, "limit": limit},
    )


def parcel_points(
    store: GraphStore,
    keys: Sequence[str],
    geometry_fields: Sequence[str],
    location_fields: Sequence[str],
    area_fields: Sequence[str],
    date_fields: Sequence[str],
    sight: Visibility = EVERYTHING,
) -> list[Row]:
    """``{key, lng, lat, geometry, location, area, holders}`` of each parcel of ``keys`` whose geometry a
    live record the caller may see states in a column it may see (others have no row). ``holders``: a
    ``{id, name, dataset, on}`` per (record, subject enterprise) of those records, ``on`` the record's
    date (the first of ``date_fields`` it has, where the caller may see it); entries with a null id for
    records linked to no enterprise."""
    dated = [sight.column_value(name, "r") for name in _fields(date_fields)]
    on = f"coalesce({', '.join(dated)})" if dated else "null"
    rows = store.read(
        f"UNWIND $keys AS k MATCH (p:LandParcel {{key: k}})<-[:{PARCEL_RELATION}]-(r) "
        # r unlabelled and filtered after the WITH (as graph/fact_queries.py): only records point at parcels
        f"WITH k, p, r WHERE r.retired IS NULL AND p.lng IS NOT NULL"
        f"{also(sight.sees_fact('r', PARCEL_RELATION))} "
        "OPTIONAL MATCH (r)-[:ABOUT {party: 'subject'}]->(e:Enterprise) "
        f"WITH k, p, collect(r) AS rs, "
        f"collect({{id: e.id, name: e.name, dataset: r.dataset, on: {on}}}) AS hs "
        f"WITH k, p, hs, {_first_stated(sight, geometry_fields, 'p', 'rs')} AS geometry, "
        f"{_first_stated(sight, location_fields, 'p', 'rs')} AS location, "
        f"{_first_stated(sight, area_fields, 'p', 'rs')} AS area "
        "WHERE geometry IS NOT NULL "
        "RETURN k AS key, p.lng AS lng, p.lat AS lat, geometry, location, area, hs AS holders ORDER BY key",
        {"keys": list(keys), **sight.params()},
    )
    return rows


# --- enterprises -----------------------------------------------------------------------------------


def town_enterprises(store: GraphStore, town: str, limit: int, sight: Visibility = EVERYTHING) -> list[Row]:
    """``{id, name, status, address}`` of live enterprises known to the caller whose golden town is
    ``town`` where it may see that (status and address null where it may not see them), by id, at most
    ``limit``."""
    shown = also(sight.shows("town"))
    return store.read(
        f"MATCH (e:Enterprise) WHERE e.town = $town AND e.merged_into IS NULL{shown} {sight.keep_known()}"
        f"RETURN e.id AS id, e.name AS name, {sight.value('status')} AS status, "
        f"{sight.value('address')} AS address ORDER BY id LIMIT $limit",
        {"town": town, "limit": limit, **sight.params()},
    )


def held_parcel_points(
    store: GraphStore, ids: Sequence[str], geometry_fields: Sequence[str], sight: Visibility = EVERYTHING
) -> list[Row]:
    """``{id, key, lng, lat}``: for each enterprise of ``ids``, the parcels with a point it is the
    subject of a live record about, where that record is one the caller may see and states the parcel's
    geometry in a column it may see; by id, then parcel key."""
    geometry = _first_stated(sight, geometry_fields, "p", "[r]")
    return store.read(
        f"UNWIND $ids AS id MATCH (:Enterprise {{id: id}})<-[a:ABOUT]-(r:SourceRecord)-[:{PARCEL_RELATION}]->"
        "(p:LandParcel) "
        f"WITH id, a, r, p WHERE a.party = 'subject' AND r.retired IS NULL AND p.lng IS NOT NULL"
        f"{also(sight.sees_fact('r', PARCEL_RELATION))} "
        f"WITH DISTINCT id, p, {geometry} AS geometry WHERE geometry IS NOT NULL "
        "RETURN id, p.key AS key, p.lng AS lng, p.lat AS lat ORDER BY id, key",
        {"ids": list(ids), **sight.params()},
    )
