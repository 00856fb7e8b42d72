"""A parsed row -> the record the engine writes (id, properties, links, period, hash).

``build_row`` parses a row (``parsing.py``) and makes its record; ``RecordRow.as_graph_row`` gives
the plain rows ``graph/record_queries.py`` takes.

It depends only on its arguments; the engine (``loaders/engine.py``) keeps the books around it
(duplicates, issues, counts, batches). Parsing rows in worker processes was measured and gained
nothing: the load's limit is the GIL shared by the parsing and the writer thread (docs/benchmarks.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from entgraph.catalog.fact_links import link_plan
from entgraph.catalog.per_spec import planned
from entgraph.catalog.spec import DatasetSpec, Role
from entgraph.identity.geometry import Geometry
from entgraph.loaders.columns import BoundColumn
from entgraph.loaders.normalise import Period
from entgraph.loaders.parsing import ParsedRow, RowIssue, parse_row


@dataclass(frozen=True)
class Link:
    """An edge from a record to a node identified by ``label`` + ``key`` (a town, a parcel, ...)."""

    relation: str
    label: str
    key: str
    props: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordRow:
    """A record ready to write: its id, content hash, properties and links."""

    id: str
    content_hash: str
    props: Mapping[str, Any]
    links: Sequence[Link] = ()

    def as_graph_row(self) -> dict[str, Any]:
        """The plain data ``graph/record_queries.write_records`` takes."""
        links = [
            {"relation": k.relation, "label": k.label, "key": k.key, "props": dict(k.props)}
            for k in self.links
        ]
        return {"id": self.id, "hash": self.content_hash, "props": dict(self.props), "links": links}


def _links(spec: DatasetSpec, fields: Mapping[str, Any]) -> list[Link]:
    links: list[Link] = []
    for name, relation, label, prefix, prop in link_plan(spec):
        value = fields.get(name)
        if value is not None:
            text = str(value)
            links.append(Link(relation, label, prefix + text, {prop: text}))
    for node in spec.nodes:
        keys = [fields.get(name) for name in node.key]
        if any(k is None for k in keys):
            continue
        props: dict[str, Any] = dict(node.constants)
        props |= {name: graph_value(fields[name]) for name in node.properties if fields.get(name) is not None}
        props |= {name: graph_value(fields[name]) for name in node.key}
        props |= _located(fields, node.properties)
        key = "|".join(str(graph_value(k)) for k in keys)
        if node.constants.get("kind"):
            key = f"{node.constants['kind']}|{key}"
        links.append(Link(node.relation, node.label, key, props))
    return links


def _located(fields: Mapping[str, Any], properties: Sequence[str]) -> dict[str, float]:
    """``lng``/``lat`` of a node whose properties include a geometry (a parcel's 宗地空间地理信息): the
    point that stands for it on a map, kept as numbers so a map's area can be selected in Cypher."""
    for name in properties:
        value = fields.get(name)
        if isinstance(value, Geometry):
            lng, lat = value.point()
            return {"lng": lng, "lat": lat}
    return {}


_PERIOD_ROLES = (Role.PERIOD, Role.PERIOD_END, Role.YEAR, Role.DATE, Role.PERIOD_START)


def _periods(spec: DatasetSpec, fields: Mapping[str, Any]) -> list[str]:
    """The reporting period(s) a row belongs to, for timeliness: the most specific period column."""
    ordered = planned(
        spec, "periods", lambda: [c.field for role in _PERIOD_ROLES for c in spec.columns if c.role is role]
    )
    for name in ordered:
        if fields.get(name) is not None:
            return [period_label(fields[name], spec)]
    return []


def period_label(value: Any, spec: DatasetSpec) -> str:
    """Label of the reporting period a value falls in, at the dataset's frequency."""
    day: dt.date
    if isinstance(value, Period):
        day = value.end
    elif isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    elif isinstance(value, int):
        return str(value)
    else:
        return str(value)
    freq = spec.frequency.value
    if freq == "annual":
        return f"{day.year}"
    if freq == "quarterly":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    if freq in ("daily", "hourly", "5min"):
        return day.isoformat()
    return f"{day.year}-{day.month:02d}"


def graph_value(value: Any) -> Any:
    """Values as both stores keep them: numbers, strings (ISO dates, GeoJSON), booleans, lists."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Period):
        return value.label
    if isinstance(value, Geometry):
        return value.to_json()
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [graph_value(v) for v in value]
    return value


def record_props(spec: DatasetSpec, parsed: ParsedRow, periods: Sequence[str] = ()) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for name, value in parsed.fields.items():
        props[name] = graph_value(value)
        if isinstance(value, Period):
            props[f"{name}_start"] = value.start.isoformat()
            props[f"{name}_end"] = value.end.isoformat()
    if parsed.flags:
        props["flags"] = sorted(set(parsed.flags))
    if periods:
        props["period"] = periods[0]
    return props


def content_hash(props: Mapping[str, Any], links: Sequence[Link]) -> str:
    """A digest of what the row says (not where or when it was loaded), to tell unchanged rows."""
    payload = json.dumps(
        [sorted(props.items()), sorted((lk.relation, lk.label, lk.key) for lk in links)],
        ensure_ascii=False,
        default=str,
        separators=(",", ":"),
    )
    return hashlib.blake2b(payload.encode("utf-8"), digest_size=16).hexdigest()


@dataclass(slots=True)
class BuiltRow:
    """What the engine needs of a parsed row; ``record_id`` is None when the row was refused."""

    issues: list[RowIssue]
    record_id: str | None = None
    props: dict[str, Any] = field(default_factory=dict)
    digest: str = ""
    links: list[Link] = field(default_factory=list)
    periods: list[str] = field(default_factory=list)


def build_row(
    spec: DatasetSpec,
    file_name: str,
    sheet: str,
    row: int,
    cells: Sequence[Any],
    columns: Sequence[BoundColumn],
) -> BuiltRow:
    """Parse the row (``parsing.py``) and, unless it is refused, make its record."""
    parsed = parse_row(spec, columns, cells, sheet, row)
    if parsed.rejected:
        return BuiltRow(parsed.issues)
    links = _links(spec, parsed.fields)
    periods = _periods(spec, parsed.fields)
    props = record_props(spec, parsed, periods)
    return BuiltRow(
        parsed.issues,
        record_id(spec, file_name, sheet, row, parsed),
        props,
        content_hash(props, links),
        links,
        periods,
    )


def record_id(spec: DatasetSpec, file_name: str, sheet: str, row: int, parsed: ParsedRow) -> str:
    """``dataset:`` + a digest of the row's natural key (``record_key``) when it has one, else of its
    place (file name, sheet, row)."""
    values = [parsed.fields.get(f) for f in spec.record_key]
    if spec.record_key and all(v is not None for v in values):
        return keyed_record_id(spec, values)
    return _id(spec, f"pos|{file_name}|{sheet}|{row}")


def keyed_record_id(spec: DatasetSpec, values: Sequence[Any]) -> str:
    """The id of the record whose ``record_key`` fields hold ``values`` (parsed), wherever it came from:
    a file, another file, or a docking batch."""
    return _id(spec, "key|" + "|".join(str(v) for v in values))


def _id(spec: DatasetSpec, basis: str) -> str:
    return f"{spec.key}:{hashlib.blake2b(basis.encode('utf-8'), digest_size=12).hexdigest()}"


__all__ = [
    "BuiltRow",
    "Link",
    "RecordRow",
    "build_row",
    "content_hash",
    "graph_value",
    "keyed_record_id",
    "period_label",
    "record_props",
]
