"""Cypher for the figures departments report about enterprises: tax, revenue, electricity, employees ...

A figure is a field of a source record; which field, in which datasets, is the catalog's business (each
spec's ``[[metrics]]``). The API turns that into :class:`MetricSource` rows and hands them here, so this
module reads any metric of any feed with one statement, the source list travelling as a parameter
(``r[s.value]``): adding a feed with metrics needs no new Cypher.

Periods are cut to at most seven characters, which maps every form the loaders store onto its
reporting period: ``2023-04-30`` and ``2023-04`` to ``2023-04``, ``2023-Q2`` stays, ``2023`` (text or
number) stays.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from entgraph.graph.port import FrozenParam, GraphStore, Row


@dataclass(frozen=True)
class MetricSource:
    """Metric ``metric`` is field ``value`` of ``dataset``'s records, for the period in field ``period``
    (the record's reporting period when ``None``)."""

    dataset: str
    metric: str
    value: str
    period: str | None
    unit: str

    @property
    def label(self) -> str:
        """``<dataset>:<metric>``: how a figure computed from this source names it (see
        :func:`source_label`)."""
        return source_label(self.dataset, self.metric)


def source_label(dataset: str, metric: str) -> str:
    """``<dataset>:<metric>``: the source a figure came from, as warnings record it and as a
    :class:`~entgraph.graph.visibility.Visibility` lists the sources a caller may see."""
    return f"{dataset}:{metric}"


def _params(sources: Sequence[MetricSource]) -> dict[str, object]:
    return _encoded_params(tuple(sources))


@functools.lru_cache(maxsize=64)
def _encoded_params(sources: tuple[MetricSource, ...]) -> dict[str, object]:
    """The same objects for the same sources (the catalog's, per caller's sight): adapters encode
    them once (``FrozenParam``)."""
    return {
        "sources": FrozenParam(asdict(s) for s in sources),
        "datasets": FrozenParam(sorted({s.dataset for s in sources})),
    }


# Each record ``r`` of an enterprise ``id``, paired with the metric sources of its dataset: one row per
# figure, with its reporting period. Shared by the panorama, the chain aggregates and the warning rules,
# so that they all read a figure and its period alike.
_FIGURES_OF_RECORD = (
    "UNWIND [s IN $sources WHERE s.dataset = r.dataset] AS s "
    "WITH id, s, r[s.value] AS value, left(toString(coalesce(r[coalesce(s.period, 'period')], r.period)), 7) "
    "AS period WHERE value IS NOT NULL "
)

# The records an enterprise is the subject of, each paired with the metric sources of its dataset.
_SOURCED = (
    "MATCH (r:SourceRecord)-[a:ABOUT]->(e:Enterprise {id: id}) "
    # after a WITH: in the MATCH, the record filters make FalkorDB scan records instead of the id index
    "WITH id, r, a WHERE a.party = 'subject' AND r.retired IS NULL AND r.dataset IN $datasets "
    + _FIGURES_OF_RECORD
)

# Every live enterprise's figures, from the SourceRecord.dataset index (the record and link filters come
# after a WITH, where FalkorDB's planner does not turn them into a full scan).
_CITY = (
    "MATCH (r:SourceRecord) WHERE r.dataset IN $datasets "
    "WITH r WHERE r.retired IS NULL "
    "MATCH (r)-[a:ABOUT]->(e:Enterprise) "
    "WITH r, a, e WHERE a.party = 'subject' AND NOT (e)-[:REDIRECTS_TO]->() "
    "WITH e.id AS id, r "
    + _FIGURES_OF_RECORD
    + "RETURN id, s.dataset AS dataset, s.metric AS metric, period, sum(value) AS value"
)


def series(store: GraphStore, ids: Sequence[str], sources: Sequence[MetricSource]) -> list[Row]:
    """``{id, dataset, metric, period, value}``: each enterprise's figures summed per dataset, metric
    and reporting period (a month, quarter or year, as the feed reports)."""
    if not sources:
        return []
    return store.read(
        "UNWIND $ids AS id "
        + _SOURCED
        + "RETURN id, s.dataset AS dataset, s.metric AS metric, period, sum(value) AS value "
        "ORDER BY id, metric, dataset, period",
        {"ids": list(ids), **_params(sources)},
    )


def city_series(store: GraphStore, sources: Sequence[MetricSource]) -> list[Row]:
    """``{id, dataset, metric, period, value}`` for every live enterprise, as :func:`series` gives them
    for some. One statement for the whole city; its cost is linear in the metric datasets' records."""
    if not sources:
        return []
    return store.read(_CITY, _params(sources))


def yearly_totals(
    store: GraphStore, ids: Sequence[str], sources: Sequence[MetricSource], year: int
) -> list[Row]:
    """``{id, dataset, metric, value}``: each enterprise's figures for ``year``, summed per dataset and
    metric."""
    if not sources or not ids:
        return []
    return store.read(
        "UNWIND $ids AS id " + _SOURCED + "AND left(period, 4) = $year "
        "RETURN id, s.dataset AS dataset, s.metric AS metric, sum(value) AS value",
        {"ids": list(ids), "year": f"{year:04d}", **_params(sources)},
    )
