"""Monthly meter totals into the graph, as enterprise metrics.

Each attached meter's consumption per China-local month becomes one ``(:SourceRecord:MeterMonthly)``
about the meter's enterprise, in the device feed's dataset (``wh_meter_electricity`` / ``wh_meter_water``)
with provenance ``MQTT telemetry``. The API's ``Enterprise.metrics`` then serves them as the series
``electricity_kwh`` / ``water_m3`` of that dataset, beside the utilities' own monthly figures, and the
warning rules read them like any other department's figure.

A shared meter (多户一表) writes nothing until a steward decides whose it is: its records are retired,
not split by guesswork. Rerunning a rollup rewrites the same records (ids are meter and month), so a
crashed or repeated run neither loses nor doubles a month.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from entgraph.catalog.registry import Catalog
from entgraph.graph import meter_queries as mq
from entgraph.graph import upload_queries
from entgraph.graph.metric_queries import MetricSource
from entgraph.graph.port import GraphStore
from entgraph.telemetry.meter_registry import attached_to
from entgraph.telemetry.series_store import SeriesReader

# (device feed, metric, record field, unit): what telemetry's monthly totals are, as metric sources.
_METRICS = {
    "kWh": ("wh_meter_electricity", "electricity_kwh", "consumption_kwh", "kWh"),
    "m3": ("wh_meter_water", "water_m3", "consumption_m3", "m3"),
}
TELEMETRY_METRICS = tuple(MetricSource(d, m, f, "period", u) for d, m, f, u in _METRICS.values())


# A catalog does not change once built, and a server keeps one; remembering what is derived from it
# spares every panorama the walk over all 84 specs (about 1 ms a request, cProfile).
@lru_cache(maxsize=8)
def metric_sources(catalog: Catalog) -> tuple[MetricSource, ...]:
    """Every metric every dataset of the catalog declares, and the monthly totals this module derives
    from the device feeds' meters: what the API's ``Enterprise.metrics``, chain aggregates and the
    warning rules read as figures."""
    declared = [
        MetricSource(feed.spec.key, m.name, m.value, m.period, m.unit)
        for feed in catalog
        for m in feed.spec.metrics
    ]
    known = {feed.spec.key for feed in catalog}
    return (*declared, *(s for s in TELEMETRY_METRICS if s.dataset in known))


@dataclass
class RollupReport:
    meters: int = 0
    months: int = 0
    skipped_shared: int = 0
    retired: int = 0
    days_received: int = 0  # device-feed days recorded as received (see record_receipts)

    def summary(self) -> str:
        return (
            f"{self.months} meter-months from {self.meters} meters written as enterprise metrics; "
            f"{self.skipped_shared} shared meters left for stewards; {self.retired} old records retired; "
            f"{self.days_received} device-feed days recorded as received"
        )


def rollup(
    store: GraphStore, reader: SeriesReader, catalog: Catalog, now_ms: int | None = None
) -> RollupReport:
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    owners = attached_to(store)
    exclusive = {m: next(iter(e)) for m, e in owners.items() if len(e) == 1}
    report = RollupReport(meters=len(exclusive), skipped_shared=sum(len(e) > 1 for e in owners.values()))
    known = {feed.spec.key: feed.spec for feed in catalog}
    loaded_at = dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC).isoformat(timespec="seconds")
    rows = []
    if exclusive:
        for t in reader.consumption("monthly_totals", meter_ids=sorted(exclusive)):
            metric = _METRICS.get(t["unit"])
            if metric is None or metric[0] not in known or t["consumption"] is None:
                continue
            dataset, _name, field, _unit = metric
            rows.append(
                {
                    "id": f"telemetry|{t['meter_id']}|{t['month']}",
                    "enterprise": exclusive[t["meter_id"]],
                    "props": {
                        "dataset": dataset,
                        "department": known[dataset].department,
                        "city": known[dataset].city,
                        "period": t["month"],
                        field: float(t["consumption"]),
                        "meter_id": t["meter_id"],
                        "completeness": float(t["completeness"] or 0.0),
                        "quality": t["quality"],
                        "file_name": "MQTT telemetry",
                        "derived": "telemetry",  # not a department's row: the links export skips it
                        "loaded_at": loaded_at,
                    },
                }
            )
    mq.write_monthly_totals(store, rows)
    report.months = len(rows)
    report.retired = mq.retire_monthly_totals(store, sorted(exclusive), now_ms)
    report.days_received = record_receipts(store, reader, known, now_ms)
    return report


RECEIPT_DAYS = 35  # days back a rollup records; older days were recorded by earlier rollups
_DAY_MS = 86_400_000
_CST_MS = 8 * 3_600_000


def record_receipts(store: GraphStore, reader: SeriesReader, known: dict[str, Any], now_ms: int) -> int:
    """Each China-local day of readings in the series store, as an upload of its device feed (file name
    ``MQTT telemetry``, period the day): so a feed's timeliness (``entgraph feeds status``, the API's
    ``feedStatus``) counts live meter data as received, the way it counts a department's file. A day
    is received when a rollup first sees it (the upload keeps its first ``received_at``), so the
    rollup's schedule is the precision: one a little after midnight judges yesterday against its 01:00
    deadline. Rerunning rewrites the same uploads (id: dataset and day), with the day's reading count."""
    since = now_ms - RECEIPT_DAYS * _DAY_MS
    days = reader.query(
        f"SELECT unit, (ts_ms + {_CST_MS}) // {_DAY_MS} AS day, count(*) FROM readings "
        "WHERE ts_ms >= ? GROUP BY 1, 2",
        [since],
    )
    seen = dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC).isoformat(timespec="seconds")
    written = 0
    for unit, day, readings in days:
        metric = _METRICS.get(unit)
        if metric is None or metric[0] not in known:
            continue
        label = (dt.date(1970, 1, 1) + dt.timedelta(days=int(day))).isoformat()
        upload_queries.record_upload(
            store,
            {
                "id": f"telemetry:{metric[0]}:{label}",
                "dataset": metric[0],
                "file_name": "MQTT telemetry",
                "status": "done",
                "started_at": seen,
                "finished_at": seen,
                "rows_read": int(readings),
                "new": int(readings),
                "updated": 0,
                "unchanged": 0,
                "rejected": 0,
                "duplicates": 0,
                "periods": [label],
            },
        )
        written += 1
    return written
