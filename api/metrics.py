"""Departments' figures about an enterprise as series: ``Enterprise.metrics``.

Which record fields are figures is the catalog's declaration (each spec's ``[[metrics]]``), read here
into :class:`MetricSource` rows; the Cypher is in ``graph/metric_queries.py``. Each series is one
metric as one dataset reports it: two departments reporting an enterprise's tax are two series, not one
doubled sum, and each point says whose figure it is.

A series is shown only to roles the dataset's sharing lets see its value column (tax figures are not
open to the public, for example), decided with the same policy as every masked field.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import strawberry
from strawberry.types import Info

from entgraph.api.auth import Role
from entgraph.api.client_errors import BadInput
from entgraph.api.context import Context
from entgraph.api.masking import Decision, column_sharing, policy
from entgraph.catalog.registry import Catalog
from entgraph.catalog.spec import DatasetSpec, Sharing
from entgraph.graph import metric_queries
from entgraph.graph.metric_queries import MetricSource
from entgraph.telemetry.rollup import metric_sources


@lru_cache(maxsize=32)
def sources_visible_to(catalog: Catalog, role: Role) -> tuple[MetricSource, ...]:
    """The metric sources of ``catalog`` whose value column ``role`` may see."""
    return tuple(
        s
        for s in metric_sources(catalog)
        if policy(_sharing(catalog.get(s.dataset).spec, s.value), role) is not Decision.NULL
    )


@lru_cache(maxsize=8)
def _units(catalog: Catalog) -> dict[tuple[str, str], str]:
    return {(s.dataset, s.metric): s.unit for s in metric_sources(catalog)}


def visible_sources(context: Context) -> tuple[MetricSource, ...]:
    """The metric sources whose value column this caller's role may see."""
    return sources_visible_to(context.catalog, Role.parse(context.principal.role))


def _sharing(spec: DatasetSpec, field: str) -> Sharing:
    """A declared metric's column sharing; a derived one (telemetry's monthly totals, not a column of
    the feed) shares as its dataset does."""
    try:
        return column_sharing(spec, field)
    except KeyError:
        return spec.sharing


@strawberry.type(description="One period's figure.")
class MetricPoint:
    period: str = strawberry.field(description="2023-04 (month), 2023-Q2 (quarter) or 2023 (year).")
    value: float


@strawberry.type(description="One metric of an enterprise as one dataset reports it, oldest period first.")
class MetricSeries:
    metric: str = strawberry.field(description="tax, revenue, electricity_kwh, insured_employees ...")
    unit: str
    dataset: str
    department: str
    points: list[MetricPoint]


def _period_filter(start: str | None, end: str | None) -> tuple[str, str]:
    for name, value in (("from", start), ("to", end)):
        if value is not None and not (4 <= len(value) <= 7 and value[:4].isdigit()):
            raise BadInput(f"{name} must be a period such as 2023, 2023-Q2 or 2023-04", argument=name)
    return start or "", end or "\uffff"


def _loader(info: Info[Context, None]) -> Any:
    context = info.context
    sources = visible_sources(context)

    async def load(ids: list[str]) -> list[list[dict[str, Any]]]:
        rows = await context.in_thread(metric_queries.series, context.store, ids, sources)
        found: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            found.setdefault(row["id"], []).append(row)
        return [found.get(i, []) for i in ids]

    return context.loader("enterprise.metrics", load)


async def enterprise_metrics(
    info: Info[Context, None],
    enterprise_id: str,
    names: list[str] | None,
    start: str | None,
    end: str | None,
) -> list[MetricSeries]:
    low, high = _period_filter(start, end)
    rows = await _loader(info).load(enterprise_id)
    units = _units(info.context.catalog)
    series: dict[tuple[str, str], list[MetricPoint]] = {}
    for row in rows:
        # A period is inside [from, to] when it starts at or after ``from`` and its label sorts no
        # later than ``to`` (so to = 2023 keeps 2023-12, whose label extends it).
        period = str(row["period"])
        if (names and row["metric"] not in names) or not (low <= period and period[: len(high)] <= high):
            continue
        series.setdefault((row["metric"], row["dataset"]), []).append(
            MetricPoint(period=period, value=float(row["value"]))
        )
    return [
        MetricSeries(
            metric=metric,
            unit=units.get((dataset, metric), ""),
            dataset=dataset,
            department=info.context.catalog.get(dataset).spec.department,
            points=sorted(points, key=lambda p: p.period),
        )
        for (metric, dataset), points in sorted(series.items())
    ]
