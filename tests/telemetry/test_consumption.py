"""Consumption from meter readings: deltas, rollover, events, gaps, quality flags, completeness and
China-local aggregates, on small hand-built readings in an in-memory DuckDB."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable
from typing import Any

import duckdb
import pytest

from entgraph.telemetry.consumption import (
    QualityRules,
    aggregate,
    completeness,
    intervals,
    monthly_totals,
)

CST = dt.timezone(dt.timedelta(hours=8))
MIN = 60_000
HOUR = 3_600_000
DAY = 86_400_000
# 2026-11-30 00:00 China Standard Time, which is 2026-11-29T16:00Z.
D0 = int(dt.datetime(2026, 11, 30, tzinfo=CST).timestamp() * 1000)

Row = tuple[str, int, float, str, str]
EVENTS_DDL = """CREATE TABLE meter_events(
    meter_id VARCHAR, ts_ms BIGINT, event VARCHAR, old_value DOUBLE, new_value DOUBLE)"""


def _db(rows: Iterable[Row], events: Iterable[tuple[str, int, str, float | None, float | None]] = ()) -> Any:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE readings(meter_id VARCHAR, ts_ms BIGINT, value DOUBLE, kind VARCHAR, unit VARCHAR)"
    )
    con.execute(EVENTS_DDL)
    con.executemany("INSERT INTO readings VALUES (?, ?, ?, ?, ?)", list(rows))
    if events:
        con.executemany("INSERT INTO meter_events VALUES (?, ?, ?, ?, ?)", list(events))
    return con


def _kwh(meter: str, start: int, values: Iterable[float], step: int = 5 * MIN) -> list[Row]:
    return [(meter, start + i * step, float(v), "cumulative", "kWh") for i, v in enumerate(values)]


def _rows(rel: duckdb.DuckDBPyRelation) -> list[dict[str, Any]]:
    cols = rel.columns
    return sorted(
        (dict(zip(cols, r, strict=True)) for r in rel.fetchall()), key=lambda r: tuple(map(str, r.values()))
    )


def _iv(con: Any, **kw: Any) -> list[tuple[Any, ...]]:
    """Intervals as (start offset in minutes from D0, consumption, quality, reason), in time order."""
    rows = intervals(con, **kw).fetchall()
    return sorted(((r[2] - D0) // MIN, r[3], r[5], r[6]) for r in rows)


def test_plain_deltas() -> None:
    con = _db(_kwh("A", D0, [100, 101, 103, 106]))
    rows = intervals(con).fetchall()
    assert sorted(rows) == [
        ("A", D0 + 5 * MIN, D0, 1.0, "kWh", "good", None),
        ("A", D0 + 10 * MIN, D0 + 5 * MIN, 2.0, "kWh", "good", None),
        ("A", D0 + 15 * MIN, D0 + 10 * MIN, 3.0, "kWh", "good", None),
    ]


def test_differences_of_readings_carry_no_binary_noise() -> None:
    """12345.67 - 12342.53 is 3.139999999984866 in floating point; the platform serves 3.14, and sums
    of such figures stay as written too."""
    con = _db(_kwh("A", D0, [12342.53, 12345.67, 12345.77, 12346.07]))
    assert [r[1] for r in _iv(con)] == [3.14, 0.1, 0.3]
    hourly = _rows(aggregate(con, interval="hour"))
    assert [r["consumption"] for r in hourly] == [3.54], hourly


def test_out_of_order_input_gives_the_same_result() -> None:
    rows = _kwh("A", D0, [100, 101, 103, 106, 110, 111]) + _kwh("B", D0, [5, 6, 8])
    shuffled = rows[:]
    random.Random(7).shuffle(shuffled)
    assert sorted(intervals(_db(rows)).fetchall()) == sorted(intervals(_db(shuffled)).fetchall())


def test_window_reads_the_reading_after_it_and_lookback_before_it() -> None:
    con = _db(_kwh("A", D0 - 5 * MIN, [100, 101, 103, 106, 110]))
    # The interval starting at D0+5 closes with the reading at D0+10, which is outside [D0, D0+10).
    assert _iv(con, start_ms=D0, end_ms=D0 + 10 * MIN) == [(0, 2.0, "good", None), (5, 3.0, "good", None)]
    # A gap across the window start: the previous reading is only reachable by the lookback (no history).
    con = _db(_kwh("A", D0 - 10 * MIN, [100, 106], step=15 * MIN))
    rules = QualityRules(history_ms=0)
    assert _iv(con, start_ms=D0, end_ms=D0 + HOUR, rules=rules) == [(0, 2.0, "estimated", "gap")]
    # Beyond the lookback there is no previous value: the meter starts afresh in the window.
    assert (
        _iv(con, start_ms=D0, end_ms=D0 + HOUR, rules=QualityRules(history_ms=0, lookback_ms=5 * MIN)) == []
    )


def test_rollover_at_a_power_of_ten() -> None:
    con = _db(_kwh("A", D0, [99990, 99995, 3, 5]))
    assert _iv(con) == [(0, 5.0, "good", None), (5, 8.0, "estimated", "rollover"), (10, 2.0, "good", None)]


def test_replacement_between_two_readings() -> None:
    con = _db(_kwh("A", D0, [500, 510, 3, 4]), [("A", D0 + 7 * MIN, "replacement", 512.0, 0.0)])
    assert _iv(con) == [(0, 10.0, "good", None), (5, 5.0, "good", "replacement"), (10, 1.0, "good", None)]


def test_recalibration_and_an_event_missing_its_values() -> None:
    con = _db(
        _kwh("A", D0, [590, 598, 595, 596]) + _kwh("B", D0, [10, 11, 3]),
        [("A", D0 + 6 * MIN, "recalibration", 600.0, 590.0), ("B", D0 + 6 * MIN, "replacement", None, 0.0)],
    )
    assert _iv(con, meter_ids=["A"]) == [
        (0, 8.0, "good", None),
        (5, 7.0, "good", "recalibration"),  # (600 − 598) + (595 − 590)
        (10, 1.0, "good", None),
    ]
    assert _iv(con, meter_ids=["B"]) == [
        (0, 1.0, "good", None),
        (5, None, "suspect", "event_incomplete,replacement"),
    ]


def test_gap_of_three_slots_is_spread_evenly() -> None:
    con = _db([*_kwh("A", D0, [10, 11]), ("A", D0 + 20 * MIN, 17.0, "cumulative", "kWh")])
    assert _iv(con) == [
        (0, 1.0, "good", None),
        (5, 2.0, "estimated", "gap"),
        (10, 2.0, "estimated", "gap"),
        (15, 2.0, "estimated", "gap"),
    ]
    ends = sorted(r[1] - D0 for r in intervals(con).fetchall())
    assert ends == [5 * MIN, 10 * MIN, 15 * MIN, 20 * MIN]
    # A gap longer than max_spread_ms stays one interval.
    assert _iv(con, rules=QualityRules(max_spread_ms=10 * MIN))[1] == (5, 6.0, "estimated", "long_gap")


def test_unexplained_negative_delta_is_suspect_with_null_consumption() -> None:
    con = _db(_kwh("A", D0, [100, 105, 103, 108]))
    assert _iv(con) == [
        (0, 5.0, "good", None),
        (5, None, "suspect", "negative_delta"),
        (10, 5.0, "good", None),
    ]
    # ...and it adds nothing to the day, which is flagged suspect.
    (day,) = _rows(aggregate(con, interval="day"))
    assert (day["consumption"], day["n_good"], day["n_suspect"], day["quality"]) == (10.0, 2, 1, "suspect")


@pytest.mark.parametrize("trailing", [None, 12])
def test_spike(trailing: int | None) -> None:
    values = [100 + i for i in range(31)]
    values += [values[-1] + 50, values[-1] + 51]
    con = _db(_kwh("A", D0, values))
    got = _iv(con, rules=QualityRules(trailing_readings=trailing))
    assert got[30] == (150, 50.0, "suspect", "spike")
    assert all(q == "good" for _, _, q, _ in got[:30] + got[31:])
    # Below the absolute floor nothing is a spike, however large the ratio.
    small = _db(_kwh("A", D0, [i * 0.01 for i in range(31)] + [0.30 + 0.5]))
    assert _iv(small)[-1][2:] == ("good", None)


def test_frozen_register() -> None:
    up = [100 + i for i in range(30)]
    frozen = up + [up[-1]] * 23 + [up[-1] + 1]  # the last value read on 24 consecutive readings
    con = _db(_kwh("A", D0, frozen) + _kwh("B", D0, up + [up[-1]] * 22 + [up[-1] + 1]))
    a = _iv(con, meter_ids=["A"])
    assert [r[2:] for r in a[29:52]] == [("suspect", "frozen")] * 23
    assert a[52][2:] == ("good", None) and a[28][2:] == ("good", None)
    # 23 equal readings are not yet frozen.
    assert all(r[2] == "good" for r in _iv(con, meter_ids=["B"]))
    # A meter that mostly reads zero is idle, not frozen.
    idle = _db(_kwh("C", D0, [5] * 40 + [6] + [6] * 30))
    assert all(r[2] == "good" for r in _iv(idle))


def test_completeness_across_a_local_day_boundary() -> None:
    full = _kwh("E", D0, list(range(289)))  # 00:00 local on D0 through 00:00 on D0 + 1
    missing = set(range(144, 182))  # 12:00–15:05 local: one gap of 38 readings
    partial = [r for i, r in enumerate(_kwh("F", D0, list(range(288)))) if i not in missing]
    con = _db(full + partial)
    rows = {(r["meter_id"], r["day"]): r for r in _rows(completeness(con, start_ms=D0, end_ms=D0 + 2 * DAY))}
    e = rows["E", "2026-11-30"]
    assert (e["expected"], e["received"], e["ratio"], e["complete"], e["gaps"]) == (288, 288, 1.0, True, 0)
    assert e["day_start_ms"] == D0
    # The reading at 16:00Z (00:00 local) belongs to the next local day.
    assert dt.datetime.fromtimestamp(full[288][1] / 1000, dt.UTC).hour == 16
    nxt = rows["E", "2026-12-01"]
    assert (nxt["received"], nxt["complete"], nxt["gaps"], nxt["longest_gap_min"]) == (1, False, 1, 1435)
    f = rows["F", "2026-11-30"]
    assert (f["expected"], f["received"], f["complete"]) == (288, 250, False)
    assert f["ratio"] == pytest.approx(250 / 288)
    assert (f["gaps"], f["longest_gap_min"]) == (1, 190)
    assert rows["F", "2026-12-01"]["received"] == 0


def test_buckets_are_china_local() -> None:
    t = int(dt.datetime(2026, 10, 31, 15, 50, tzinfo=dt.UTC).timestamp() * 1000)  # 23:50 local, Oct 31
    con = _db(_kwh("A", t, [100 + i for i in range(16)]))  # through 17:05Z; 1 kWh per 5 minutes
    months = _rows(aggregate(con, interval="month"))
    assert [(m["bucket"], m["consumption"]) for m in months] == [("2026-10", 2.0), ("2026-11", 13.0)]
    assert months[1]["bucket_start_ms"] == int(
        dt.datetime(2026, 10, 31, 16, tzinfo=dt.UTC).timestamp() * 1000
    )
    days = _rows(aggregate(con, interval="day"))
    assert [(d["bucket"], d["consumption"]) for d in days] == [("2026-10-31", 2.0), ("2026-11-01", 13.0)]
    hours = _rows(aggregate(con, interval="hour"))
    assert [(h["bucket"], h["consumption"], h["quality"]) for h in hours] == [
        ("2026-10-31T23:00", 2.0, "good"),
        ("2026-11-01T00:00", 12.0, "good"),
        ("2026-11-01T01:00", 1.0, "good"),  # the reading at 2026-10-31T17:00Z starts a November interval
    ]


def _owned_db() -> Any:
    rows = _kwh("A", D0, [0, 1, 2]) + _kwh("B", D0, [0, 10, 20]) + _kwh("S", D0, [0, 100, 200])
    rows += _kwh("C", D0, [0, 1000, 2000])
    con = _db(rows)
    con.execute("CREATE TABLE owners(meter_id VARCHAR, enterprise_id VARCHAR)")
    con.execute("INSERT INTO owners VALUES ('A','E1'), ('B','E1'), ('S','E1'), ('S','E2'), ('C','E2')")
    con.execute("CREATE TABLE towns(meter_id VARCHAR, group_id VARCHAR)")
    # A listed twice for the same town (through two of its enterprises) is still one town's meter.
    con.execute("INSERT INTO towns VALUES ('A','T1'), ('A','T1'), ('B','T1'), ('S','T1'), ('C','T2')")
    return con


def test_enterprise_sums_exclude_a_shared_meter() -> None:
    con = _owned_db()
    got = {r["enterprise_id"]: r for r in _rows(aggregate(con, interval="day", owners="owners"))}
    assert (got["E1"]["consumption"], got["E1"]["meters"], got["E1"]["shared_meters"]) == (22.0, 2, 1)
    assert got["E1"]["shared_consumption"] == 200.0
    assert (got["E2"]["consumption"], got["E2"]["shared_meters"], got["E2"]["shared_consumption"]) == (
        2000.0,
        1,
        200.0,
    )
    towns = {
        r["group_id"]: r for r in _rows(aggregate(con, interval="day", owners="towns", owner_key="group_id"))
    }
    assert (towns["T1"]["consumption"], towns["T1"]["shared_meters"]) == (222.0, 0)
    assert towns["T2"]["consumption"] == 2000.0


def test_interval_kind_water_meter() -> None:
    vals = [0.5, 0.7, -0.1, 1.2]
    rows: list[Row] = [("W", D0 + (i + 1) * HOUR, v, "interval", "m3") for i, v in enumerate(vals)]
    rows.append(("W", D0 + 7 * HOUR, 0.4, "interval", "m3"))  # a gap: interval values are not spread
    con = _db(rows)
    assert _iv(con) == [
        (0, 0.5, "good", None),
        (60, 0.7, "good", None),
        (120, None, "suspect", "negative_delta"),
        (180, 1.2, "good", None),
        (360, 0.4, "good", None),
    ]
    (day,) = _rows(aggregate(con, interval="day"))
    assert (day["unit"], day["bucket"], day["consumption"]) == ("m3", "2026-11-30", pytest.approx(2.8))
    (c,) = _rows(completeness(con, start_ms=D0, end_ms=D0 + DAY))
    assert (c["expected"], c["received"], c["cadence_ms"]) == (24, 5, HOUR)


def test_monthly_totals_per_meter_and_enterprise() -> None:
    con = _owned_db()
    month = int(dt.datetime(2026, 11, 1, tzinfo=CST).timestamp() * 1000)
    end = int(dt.datetime(2026, 12, 1, tzinfo=CST).timestamp() * 1000)
    per_meter = {r["meter_id"]: r for r in _rows(monthly_totals(con, start_ms=month, end_ms=end))}
    a = per_meter["A"]
    assert (a["month"], a["month_start_ms"], a["consumption"], a["unit"], a["quality"]) == (
        "2026-11",
        month,
        2.0,
        "kWh",
        "good",
    )
    assert a["completeness"] == pytest.approx(3 / (30 * 288))
    assert (a["days"], a["complete_days"]) == (30, 0)
    per_ent = {
        r["enterprise_id"]: r for r in _rows(monthly_totals(con, owners="owners", start_ms=month, end_ms=end))
    }
    assert (per_ent["E1"]["consumption"], per_ent["E1"]["shared_meters"]) == (22.0, 1)
    assert per_ent["E1"]["completeness"] == pytest.approx(6 / (2 * 30 * 288))


def test_custom_cadence_and_bad_identifiers() -> None:
    con = _db(_kwh("A", D0, [0, 1, 2], step=15 * MIN))
    # At the default 5 minutes these are gaps; with the meter's own 15-minute cadence they are not.
    assert [r[2] for r in _iv(con)] == ["estimated"] * 6
    assert _iv(con, rules=QualityRules(cadence_overrides={"A": 15 * MIN})) == [
        (0, 1.0, "good", None),
        (15, 1.0, "good", None),
    ]
    with pytest.raises(ValueError, match="identifier"):
        intervals(con, readings="readings; DROP TABLE readings")
    # A value that looks like SQL is only ever a bound parameter.
    assert intervals(con, meter_ids=["A' OR '1'='1"]).fetchall() == []


@pytest.mark.slow
def test_scale_three_million_readings_sum_correctly() -> None:
    con = duckdb.connect()
    con.execute(
        """CREATE TABLE readings AS
SELECT 'M' || m AS meter_id, $d0 + i * 300000 AS ts_ms, 1000 + i * 0.5 AS value,
       'cumulative' AS kind, 'kWh' AS unit
FROM range(10000) a(m), range(300) b(i) ORDER BY random()""",
        {"d0": D0},
    )
    con.execute(EVENTS_DDL)
    rows = aggregate(con, interval="month").fetchall()
    assert len(rows) == 2 * 10000  # 300 readings from 00:00 on Nov 30 run into December (local)
    # columns: meter_id, unit, bucket, bucket_start_ms, consumption, n_good, n_estimated, n_suspect, quality
    assert sum(r[4] for r in rows) == 10000 * 299 * 0.5
    assert (sum(r[5] for r in rows), sum(r[6] + r[7] for r in rows)) == (10000 * 299, 0)
