"""Live meter data counts as received: a day of readings the ingester took in is an upload of its
device feed, so the feed's timeliness is judged like a department's file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from entgraph.catalog.registry import Catalog
from entgraph.catalog.timeliness import feed_status
from entgraph.graph import upload_queries
from entgraph.graph.port import GraphStore
from entgraph.localtime import CST, date_start_ms
from entgraph.telemetry.payloads import Reading
from entgraph.telemetry.rollup import record_receipts
from entgraph.telemetry.series_store import SeriesReader, SeriesWriter

HOUR = 3_600_000


def test_days_of_readings_are_received_uploads_judged_on_time_or_late(
    fresh_graph: GraphStore, tmp_path: Path
) -> None:
    catalog = Catalog.load(entry_points=False)
    known = {feed.spec.key: feed.spec for feed in catalog}
    day1, day2 = date_start_ms("2026-11-28"), date_start_ms("2026-11-29")
    with SeriesWriter(tmp_path) as writer:
        writer.write([Reading("M1", day1 + h * HOUR, 10.0 + h, "cumulative", "kWh") for h in range(24)])
        writer.publish()
    with SeriesReader(tmp_path) as reader:
        # a rollup at 00:30 on the 29th sees the 28th: before its 01:00 deadline
        assert record_receipts(fresh_graph, reader, known, day2 + HOUR // 2) == 1
    with SeriesWriter(tmp_path) as writer:
        # the 29th reaches the store only on the 1st (a gateway's backlog)
        writer.write([Reading("M1", day2 + h * HOUR, 40.0 + h, "cumulative", "kWh") for h in range(24)])
        writer.write([Reading("W1", day2, 3.0, "cumulative", "m3")])
        writer.publish()
    now = date_start_ms("2026-12-01") + 12 * HOUR
    with SeriesReader(tmp_path) as reader:
        assert record_receipts(fresh_graph, reader, known, now) == 3
        assert record_receipts(fresh_graph, reader, known, now + HOUR) == 3  # rewritten, not doubled
    uploads = upload_queries.uploads(fresh_graph, "wh_meter_electricity")
    assert sorted(u["periods"][0] for u in uploads) == ["2026-11-28", "2026-11-29"]
    assert {u["file_name"] for u in uploads} == {"MQTT telemetry"} and uploads[0]["rows_read"] == 24
    as_of = dt.datetime(2026, 12, 1, 12, tzinfo=CST)
    status = feed_status(known["wh_meter_electricity"], uploads, as_of)
    by_day = {p.period: p.status for p in status.periods}
    # the 28th keeps the time it was first seen; the 29th was first seen on the 1st
    assert by_day["2026-11-28"] == "on_time" and by_day["2026-11-29"] == "late", by_day
    assert by_day["2026-11-30"] == "missing"  # nothing came that day
    assert status.last_period == "2026-11-29"
    water = upload_queries.uploads(fresh_graph, "wh_meter_water")
    assert [u["periods"] for u in water] == [["2026-11-29"]]
