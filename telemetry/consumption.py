"""Meter readings to consumption: intervals with quality flags, daily completeness, local-time aggregates.

Everything here is set-based SQL run by DuckDB on two relations the series store provides:

- ``readings(meter_id, ts_ms, value, kind, unit)``, unique on ``(meter_id, ts_ms)``, in any order;
- ``meter_events(meter_id, ts_ms, event, old_value, new_value)``: replacements and recalibrations.

All SQL is generated in this module by small functions that each return one CTE body; the rules that
shape it are data (:class:`QualityRules`), and every value reaches DuckDB as a bound ``$parameter``.
Only identifiers (relation and column names given by the caller, validated and quoted) and this module's
own integer constants are spliced into the text. The rules are written down in ``docs/consumption.md``.

Time: an interval is the half-open ``[start_ms, ts_ms)``; it is filed under the local hour, day or month
of its *start*, so the reading at 00:00 closes the previous day's last interval. A window
``[start_ms, end_ms)`` selects the intervals that start inside it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import duckdb

from entgraph.localtime import DAY_MS, OFFSET_MS

Interval = Literal["hour", "day", "month"]

# "Local" is China Standard Time (entgraph.localtime): a fixed offset, so local days, hours and months are
# plain integer arithmetic on epoch milliseconds.
MINUTE_MS = 60_000
HOUR_MS = 3_600_000

QUALITIES = ("good", "estimated", "suspect")
REASONS = (
    "negative_delta",  # suspect: the register went backwards with no rollover or event to explain it
    "event_incomplete",  # suspect: an event between the readings lacks its old or new register value
    "spike",  # suspect: far above the meter's recent typical consumption
    "frozen",  # suspect: the register stood still for many readings of a meter that normally consumes
    "rollover",  # estimated: the register wrapped at a power of ten
    "replacement",  # good: a replacement between the readings, bridged with its recorded values
    "recalibration",  # good: as replacement
    "gap",  # estimated: a delta over several missing readings, spread evenly over them
    "long_gap",  # estimated: a gap too long to spread, kept as one interval
)


def _default_cadences() -> dict[str, int]:
    return {"kWh": 5 * MINUTE_MS, "m3": 60 * MINUTE_MS}


@dataclass(frozen=True)
class QualityRules:
    """Thresholds of the consumption rules; the defaults are the ones the docs describe."""

    # Expected time between readings per unit, and per meter where a meter reports differently.
    cadence_ms: Mapping[str, int] = field(default_factory=_default_cadences)
    cadence_overrides: Mapping[str, int] = field(default_factory=dict)
    # Spike: per-slot consumption above factor × the meter's median positive per-slot consumption, and
    # above an absolute floor (in the meter's unit per slot) so that a nearly idle meter's 0.01 → 0.2 kWh
    # is not a spike. The median is over the readings scanned (the window and `history_ms` before it);
    # with `trailing_readings` = N it is over the meter's previous N intervals instead — exact, but a
    # windowed median several times slower than everything else together.
    spike_factor: float = 10.0
    spike_floor: float = 1.0
    trailing_readings: int | None = None
    # Frozen: the same cumulative value on at least this many consecutive readings, while the meter
    # normally consumes (most of its scanned intervals are positive, i.e. its median delta > 0).
    frozen_readings: int = 24
    # Rollover: previous value ≥ high × 10^k and the current value ≤ low × 10^k, for the 10^k just above
    # the previous value (a 5-digit register reads at most 99999.x and wraps to 0).
    rollover_high: float = 0.9
    rollover_low: float = 0.1
    # Context read before the window: `history_ms` of readings for the medians and frozen runs,
    # and, further back within `lookback_ms`, each meter's last reading (the previous value of the first
    # delta). Symmetrically, each meter's first reading within `lookback_ms` after the window closes the
    # window's last interval. A longer silence starts the meter afresh (see docs: open problems).
    history_ms: int = DAY_MS
    lookback_ms: int = 7 * DAY_MS
    # Gaps longer than this are not spread slot by slot but kept as one 'long_gap' interval.
    max_spread_ms: int = 7 * DAY_MS
    # Completeness: the national rule counts a day complete with at least 90% of its expected readings.
    complete_ratio: float = 0.9

    def __post_init__(self) -> None:
        if any(v <= 0 for v in self.cadence_ms.values()) or any(
            v <= 0 for v in self.cadence_overrides.values()
        ):
            raise ValueError("cadences must be positive milliseconds")
        if (self.trailing_readings is not None and self.trailing_readings < 1) or self.frozen_readings < 2:
            raise ValueError("trailing_readings must be ≥ 1 and frozen_readings ≥ 2")
        if not 0 < self.rollover_low < self.rollover_high <= 1:
            raise ValueError("need 0 < rollover_low < rollover_high ≤ 1")


DEFAULT_RULES = QualityRules()

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _ident(name: str) -> str:
    """A caller-given (optionally dotted) relation or column name, validated and quoted: identifiers are
    the only text spliced into the SQL, values are always bound."""
    parts = name.split(".")
    if not all(_IDENT.fullmatch(p) for p in parts):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return ".".join(f'"{p}"' for p in parts)


class _Query:
    """A chain of named CTEs plus the bound parameters they use (Splink's pipeline, in small)."""

    def __init__(self) -> None:
        self.ctes: list[tuple[str, str]] = []
        self.params: dict[str, Any] = {}

    def add(self, name: str, sql: str) -> _Query:
        self.ctes.append((name, sql))
        return self

    def bind(self, **params: Any) -> _Query:
        self.params.update(params)
        return self

    def sql(self, final: str | None = None) -> str:
        body = ",\n".join(f"{name} AS (\n{sql}\n)" for name, sql in self.ctes)
        return f"WITH {body}\n{final or f'SELECT * FROM {self.ctes[-1][0]}'}"

    def run(self, con: duckdb.DuckDBPyConnection, final: str | None = None) -> duckdb.DuckDBPyRelation:
        return con.sql(self.sql(final), params=self.params)


# Consumption is the difference of two cumulative readings (12345.67 - 12342.53 = 3.139999999984866 in
# binary floating point), and sums of those add more such noise: every figure leaves rounded to this
# many decimals, far below any meter's resolution and far above the noise.
DECIMALS = 6


# --- shared pieces ------------------------------------------------------------------------------------


def _meter_filter(q: _Query, meter_ids: Sequence[str] | None, col: str = "meter_id") -> str:
    if meter_ids is None:
        return ""
    q.bind(meter_ids=list(meter_ids))
    return f" AND {col} IN (SELECT unnest($meter_ids::VARCHAR[]))"


def _cadence_expr(q: _Query, rules: QualityRules) -> str:
    """Each row's cadence: the per-meter override, else the unit's; overrides are a bound map lookup."""
    whens = []
    for i, (unit, ms) in enumerate(sorted(rules.cadence_ms.items())):
        q.bind(**{f"unit_{i}": unit, f"unit_cadence_{i}": ms})
        whens.append(f"WHEN $unit_{i} THEN $unit_cadence_{i}::BIGINT")
    by_unit = f"CASE unit {' '.join(whens)} END" if whens else "NULL::BIGINT"
    if not rules.cadence_overrides:
        return by_unit
    q.bind(
        override_ids=list(rules.cadence_overrides),
        override_ms=[int(v) for v in rules.cadence_overrides.values()],
    )
    overrides = "map_from_entries(list_zip($override_ids::VARCHAR[], $override_ms::BIGINT[]))"
    return f"coalesce({overrides}[meter_id], {by_unit})"


def _columns(alias: str = "") -> str:
    p = f"{alias}." if alias else ""
    return f"{p}meter_id, {p}ts_ms, {p}value, {p}kind, {p}unit"


def _scan_sql(q: _Query, readings: str, meter_ids: Sequence[str] | None, start_ms: int | None,
              end_ms: int | None, rules: QualityRules) -> None:  # fmt: skip
    """Readings of the window plus context: `history_ms` before it, then each meter's last reading before
    that (within lookback) and first reading after the window (within lookback), so that LAG sees the
    previous value of the first delta and the window's last interval has its closing reading."""
    rel, flt = _ident(readings), _meter_filter(q, meter_ids)
    parts = []
    lo = None if start_ms is None else start_ms - rules.history_ms
    conds = []
    if lo is not None:
        conds.append("ts_ms >= $scan_lo")
        q.bind(scan_lo=lo, look_lo=lo - rules.lookback_ms)
        parts.append(
            f"SELECT {_columns()} FROM {rel} WHERE ts_ms >= $look_lo AND ts_ms < $scan_lo{flt}\n"
            "QUALIFY row_number() OVER (PARTITION BY meter_id ORDER BY ts_ms DESC) = 1"
        )
    if end_ms is not None:
        conds.append("ts_ms < $scan_hi")
        q.bind(scan_hi=end_ms, look_hi=end_ms + rules.lookback_ms)
        parts.append(
            f"SELECT {_columns()} FROM {rel} WHERE ts_ms >= $scan_hi AND ts_ms < $look_hi{flt}\n"
            "QUALIFY row_number() OVER (PARTITION BY meter_id ORDER BY ts_ms) = 1"
        )
    where = " AND ".join(conds) or "TRUE"
    parts.insert(0, f"SELECT {_columns()} FROM {rel} WHERE {where}{flt}")
    q.add("scan", "\nUNION ALL\n".join(parts))


def _window_bounds(q: _Query, start_ms: int | None, end_ms: int | None, col: str = "start_ms") -> str:
    conds = []
    if start_ms is not None:
        q.bind(win_lo=start_ms)
        conds.append(f"{col} >= $win_lo")
    if end_ms is not None:
        q.bind(win_hi=end_ms)
        conds.append(f"{col} < $win_hi")
    return " AND ".join(conds) or "TRUE"


# --- intervals ----------------------------------------------------------------------------------------


def _events_sql(q: _Query, events: str, meter_ids: Sequence[str] | None) -> None:
    """Each event attached to the first reading at or after it: that reading's delta spans the event.
    Several events between two readings add up: Σ(old − new) is what the register lost at the swaps."""
    flt = _meter_filter(q, meter_ids, "e.meter_id")
    q.add(
        "events_at",
        f"""SELECT e.meter_id, r.ts_ms AS at_ts,
       sum(e.old_value - e.new_value) AS adjust,
       bool_or(e.old_value IS NULL OR e.new_value IS NULL) AS incomplete,
       string_agg(DISTINCT e.event, ',' ORDER BY e.event) AS events
FROM {_ident(events)} e
-- only the readings of meters that have events enter the ASOF join, which sorts both of its sides
ASOF JOIN (SELECT meter_id, ts_ms FROM scan WHERE meter_id IN (SELECT meter_id FROM {_ident(events)})) r
       ON e.meter_id = r.meter_id AND r.ts_ms >= e.ts_ms
WHERE TRUE{flt}
GROUP BY e.meter_id, r.ts_ms""",
    )


def _deltas_sql(q: _Query, rules: QualityRules) -> None:
    """Previous reading (LAG), event adjustment, register maximum for rollover, cadence."""
    q.add(
        "lagged",
        f"""SELECT s.*, {_cadence_expr(q, rules)} AS cadence_ms,
       lag(ts_ms) OVER w AS prev_ts, lag(value) OVER w AS prev_value
FROM scan s
WINDOW w AS (PARTITION BY meter_id ORDER BY ts_ms)""",
    )
    q.bind(roll_hi=rules.rollover_high, roll_lo=rules.rollover_low, max_spread=rules.max_spread_ms)
    q.add(
        "raw",
        """SELECT l.*, a.adjust, coalesce(a.incomplete, FALSE) AS incomplete, a.events,
       CASE WHEN kind = 'interval' THEN value ELSE value - prev_value + coalesce(a.adjust, 0) END AS raw,
       -- the power of ten just above the previous value: the capacity of a register that wraps to 0
       CASE WHEN kind = 'cumulative' AND a.at_ts IS NULL AND value < prev_value AND prev_value > 0
            THEN pow(10, ceil(log10(prev_value))) END AS reg_max
FROM lagged l LEFT JOIN events_at a ON a.meter_id = l.meter_id AND a.at_ts = l.ts_ms""",
    )
    q.add(
        "deltas",
        """SELECT *,
       CASE WHEN incomplete THEN NULL
            WHEN rollover THEN reg_max - prev_value + value
            WHEN raw < 0 THEN NULL
            ELSE raw END AS delta,
       -- how many expected readings the delta covers; interval readings always cover their own slot
       CASE WHEN kind = 'interval' OR prev_ts IS NULL THEN 1
            ELSE greatest(1, round((ts_ms - prev_ts) / cadence_ms))::BIGINT END AS slots
FROM (SELECT *, coalesce(reg_max IS NOT NULL AND prev_value >= $roll_hi * reg_max
                         AND value <= $roll_lo * reg_max, FALSE) AS rollover
      FROM raw)""",
    )


def _flags_sql(q: _Query, rules: QualityRules) -> None:
    """Spike against the meter's typical consumption, frozen runs, and each delta's quality and reason."""
    q.bind(spike_factor=rules.spike_factor, spike_floor=rules.spike_floor, frozen_n=rules.frozen_readings)
    q.add(
        "slotted",
        """SELECT *,
       CASE WHEN slots > 1 AND slots * cadence_ms > $max_spread THEN delta ELSE delta / slots END AS per_slot,
       -- a value unchanged since the previous reading (and no event between): part of a possible freeze
       coalesce(kind = 'cumulative' AND raw = 0 AND events IS NULL, FALSE) AS still
FROM deltas
-- the first reading of a cumulative meter has no previous value: no interval
WHERE kind = 'interval' OR prev_ts IS NOT NULL""",
    )
    # Per-meter statistics are grouped aggregates joined back, not windows: every extra window is another
    # sort of all readings, and on 2 cores one sort of 3M rows is already most of the budget.
    q.add(
        "meter_stats",
        """SELECT meter_id,
       median(per_slot) FILTER (WHERE per_slot > 0) AS typical,
       -- median delta > 0 ⇔ most deltas are positive; a count is far cheaper than a median
       count_if(per_slot > 0) * 2 > count(per_slot) AS consuming
FROM slotted GROUP BY meter_id""",
    )
    # A cumulative register never runs backwards, so equal values of a meter are consecutive readings
    # (barring a replacement that passes the same value again): a run of N readings is a (meter, value)
    # group of N − 1 unchanged deltas, and only those few rows need grouping.
    q.add(
        "frozen_values",
        """SELECT meter_id, value FROM slotted WHERE still
GROUP BY meter_id, value HAVING count(*) >= $frozen_n - 1""",
    )
    baseline = "st.typical"
    source = "slotted"
    if rules.trailing_readings is not None:
        # Opt-in: the median of the previous N intervals. Exact but a windowed median costs several
        # times the rest of the pipeline (see docs/consumption.md, timings).
        q.bind(trail=rules.trailing_readings)
        q.add(
            "trailed",
            """SELECT *, median(CASE WHEN per_slot > 0 THEN per_slot END) OVER (
           PARTITION BY meter_id ORDER BY ts_ms ROWS BETWEEN $trail PRECEDING AND 1 PRECEDING) AS trail_median
FROM slotted""",
        )
        baseline, source = "s.trail_median", "trailed"
    q.add(
        "flagged",
        f"""SELECT meter_id, ts_ms, prev_ts, kind, unit, cadence_ms, slots, per_slot, quality,
       nullif(concat_ws(',',
           CASE WHEN negative THEN 'negative_delta' END,
           CASE WHEN incomplete THEN 'event_incomplete' END,
           CASE WHEN spike THEN 'spike' END,
           CASE WHEN frozen THEN 'frozen' END,
           CASE WHEN rollover THEN 'rollover' END,
           events,
           CASE WHEN slots > 1 AND NOT long_gap THEN 'gap' END,
           CASE WHEN long_gap THEN 'long_gap' END), '') AS reason,
       long_gap
FROM (SELECT *,
             CASE WHEN negative OR incomplete OR spike OR frozen THEN 'suspect'
                  WHEN rollover OR slots > 1 THEN 'estimated'
                  ELSE 'good' END AS quality
      FROM (SELECT s.*,
                   coalesce(s.raw < 0 AND NOT s.rollover AND NOT s.incomplete, FALSE) AS negative,
                   coalesce(s.per_slot > $spike_factor * {baseline} AND s.per_slot > $spike_floor, FALSE)
                       AS spike,
                   s.still AND f.meter_id IS NOT NULL AND coalesce(st.consuming, FALSE) AS frozen,
                   s.slots > 1 AND s.slots * s.cadence_ms > $max_spread AS long_gap
            FROM {source} s
            LEFT JOIN meter_stats st ON st.meter_id = s.meter_id
            LEFT JOIN frozen_values f ON f.meter_id = s.meter_id AND f.value = s.value))""",
    )


def _spread_sql(q: _Query, start_ms: int | None, end_ms: int | None) -> None:
    """One interval per delta, except gaps: their delta is spread evenly over the missing slots (the slot
    boundaries divide the span exactly, so irregular spacing loses no milliseconds)."""
    where = _window_bounds(q, start_ms, end_ms)
    q.bind(decimals=DECIMALS)
    q.add(
        "intervals",
        f"""SELECT meter_id, ts_ms, start_ms, consumption, unit, quality, reason FROM (
    SELECT meter_id,
           CASE WHEN kind = 'interval' THEN ts_ms ELSE prev_ts + (i * (ts_ms - prev_ts)) // n END AS ts_ms,
           CASE WHEN kind = 'interval' THEN ts_ms - cadence_ms
                ELSE prev_ts + ((i - 1) * (ts_ms - prev_ts)) // n END AS start_ms,
           round(per_slot, $decimals) AS consumption, unit, quality, reason
    -- one pass: a plain delta is a one-slot list (an extra copy of all rows for a UNION costs more)
    FROM (SELECT *, CASE WHEN long_gap THEN 1 ELSE slots END AS n,
                 unnest(CASE WHEN slots = 1 OR long_gap THEN [1::BIGINT] ELSE range(1, slots + 1) END) AS i
          FROM flagged)
)
WHERE {where}""",
    )


def _intervals_query(readings: str, events: str, meter_ids: Sequence[str] | None, start_ms: int | None,
                     end_ms: int | None, rules: QualityRules) -> _Query:  # fmt: skip
    q = _Query()
    _scan_sql(q, readings, meter_ids, start_ms, end_ms, rules)
    _events_sql(q, events, meter_ids)
    _deltas_sql(q, rules)
    _flags_sql(q, rules)
    _spread_sql(q, start_ms, end_ms)
    return q


def intervals(
    con: duckdb.DuckDBPyConnection,
    readings: str = "readings",
    events: str = "meter_events",
    *,
    meter_ids: Sequence[str] | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    rules: QualityRules = DEFAULT_RULES,
) -> duckdb.DuckDBPyRelation:
    """Interval consumption ``(meter_id, ts_ms, start_ms, consumption, unit, quality, reason)`` of the
    intervals starting in ``[start_ms, end_ms)``; ``consumption`` is NULL for a 'negative_delta'."""
    return _intervals_query(readings, events, meter_ids, start_ms, end_ms, rules).run(con)


# --- completeness -------------------------------------------------------------------------------------


# Cadence ticks t (multiples of the cadence; local midnight is one, UTC+8 being whole hours) with
# lo <= t < hi: a window ending at 19:47 expects the 19:00 reading too.
_EXPECTED = "((d.hi + d.cadence_ms - 1) // d.cadence_ms - (d.lo + d.cadence_ms - 1) // d.cadence_ms)"


def _completeness_query(readings: str, meter_ids: Sequence[str] | None, start_ms: int | None,
                        end_ms: int | None, rules: QualityRules, q: _Query | None = None,
                        pre: str = "") -> _Query:  # fmt: skip
    """Completeness CTEs, their names prefixed with `pre` so that they can share another query's WITH."""
    q = (q or _Query()).bind(tz=OFFSET_MS, day=DAY_MS, ratio=rules.complete_ratio)
    flt = _meter_filter(q, meter_ids)
    where = _window_bounds(q, start_ms, end_ms, "ts_ms")
    q.add(f"{pre}seen", f"SELECT meter_id, ts_ms, unit FROM {_ident(readings)} WHERE {where}{flt}")
    # The window, or the data's own span; clipped per day so that a window starting mid-day expects only
    # the readings it could hold.
    lo = "$win_lo::BIGINT" if start_ms is not None else f"(SELECT min(ts_ms) FROM {pre}seen)"
    hi = "$win_hi::BIGINT" if end_ms is not None else f"(SELECT max(ts_ms) + 1 FROM {pre}seen)"
    meters = f"SELECT meter_id, any_value(unit) AS unit FROM {pre}seen GROUP BY meter_id"
    if meter_ids is not None:
        # Meters asked for but silent all window still get their days, with nothing received; their unit
        # (hence cadence) comes from any reading of theirs.
        meters = f"""SELECT m.meter_id, coalesce(s.unit, u.unit) AS unit
FROM (SELECT unnest($meter_ids::VARCHAR[]) AS meter_id) m
LEFT JOIN ({meters}) s USING (meter_id)
LEFT JOIN (SELECT meter_id, any_value(unit) AS unit FROM {_ident(readings)}
           WHERE meter_id IN (SELECT unnest($meter_ids::VARCHAR[])) GROUP BY meter_id) u USING (meter_id)"""
    q.add(f"{pre}meters", f"SELECT *, {_cadence_expr(q, rules)} AS cadence_ms FROM ({meters})")
    q.add(
        f"{pre}days",
        f"""SELECT m.meter_id, m.unit, m.cadence_ms, d AS day_local,
       greatest(d - $tz, {lo}) AS lo, least(d - $tz + $day, {hi}) AS hi
FROM {pre}meters m, unnest(range(({lo} + $tz) // $day * $day, {hi} + $tz, $day)) AS t(d)
WHERE m.cadence_ms IS NOT NULL""",
    )
    # Gaps are found between consecutive readings of the day with the day's edges as sentinels (one
    # cadence before its start, and its end), so missing readings at either end count as a gap too.
    q.add(
        f"{pre}points",
        f"""SELECT meter_id, (ts_ms + $tz) // $day * $day AS day_local, ts_ms, 1 AS real FROM {pre}seen
UNION ALL SELECT meter_id, day_local, lo - cadence_ms, 0 FROM {pre}days
UNION ALL SELECT meter_id, day_local, hi, 0 FROM {pre}days""",
    )
    q.add(
        f"{pre}steps",
        f"""SELECT pt.meter_id, pt.day_local, pt.real, d.cadence_ms,
       pt.ts_ms - lag(pt.ts_ms) OVER (PARTITION BY pt.meter_id, pt.day_local ORDER BY pt.ts_ms) AS step
FROM {pre}points pt JOIN {pre}days d USING (meter_id, day_local)""",
    )
    q.add(
        f"{pre}per_day",
        f"""SELECT meter_id, day_local, sum(real) AS received,
       -- a step of more than 1.5 cadences skips at least one expected reading
       count(*) FILTER (WHERE step * 2 > 3 * cadence_ms) AS gaps,
       coalesce(max(step - cadence_ms) FILTER (WHERE step * 2 > 3 * cadence_ms), 0) AS longest_gap_ms
FROM {pre}steps GROUP BY meter_id, day_local""",
    )
    q.add(
        f"{pre}completeness",
        f"""SELECT d.meter_id, d.unit, strftime(make_timestamp(d.day_local * 1000), '%Y-%m-%d') AS day,
       d.day_local - $tz AS day_start_ms, d.cadence_ms,
       {_EXPECTED} AS expected, pd.received,
       -- off-grid timestamps (a terminal's clock jitter) can exceed the ticks: a day is at most complete
       least(pd.received / greatest({_EXPECTED}, 1), 1.0) AS ratio,
       pd.received / greatest({_EXPECTED}, 1) >= $ratio AS complete,
       pd.gaps, pd.longest_gap_ms // {MINUTE_MS} AS longest_gap_min
FROM {pre}days d JOIN {pre}per_day pd USING (meter_id, day_local)""",
    )
    return q


def completeness(
    con: duckdb.DuckDBPyConnection,
    readings: str = "readings",
    *,
    meter_ids: Sequence[str] | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    rules: QualityRules = DEFAULT_RULES,
) -> duckdb.DuckDBPyRelation:
    """Per meter and China-local day: ``meter_id, unit, day, day_start_ms, cadence_ms, expected, received,
    ratio, complete, gaps, longest_gap_min``. ``complete`` is ratio ≥ ``rules.complete_ratio`` (0.9)."""
    return _completeness_query(readings, meter_ids, start_ms, end_ms, rules).run(con)


# --- aggregates ---------------------------------------------------------------------------------------

_BUCKET_FORMAT: dict[str, str] = {"hour": "%Y-%m-%dT%H:00", "day": "%Y-%m-%d", "month": "%Y-%m"}


def _bucket_expr(interval: Interval, col: str = "start_ms") -> str:
    """Local bucket start as epoch ms *shifted to local* (so formatting it as UTC prints local time)."""
    if interval == "hour":
        return f"({col} + $tz) // {HOUR_MS} * {HOUR_MS}"
    if interval == "day":
        return f"({col} + $tz) // {DAY_MS} * {DAY_MS}"
    if interval == "month":
        return f"epoch_ms(date_trunc('month', make_timestamp(({col} + $tz) * 1000)))"
    raise ValueError(f"interval must be hour, day or month, not {interval!r}")


_QUALITY_COUNTS = """count(*) FILTER (WHERE quality = 'good') AS n_good,
       count(*) FILTER (WHERE quality = 'estimated') AS n_estimated,
       count(*) FILTER (WHERE quality = 'suspect') AS n_suspect"""
_BUCKET_QUALITY = """CASE WHEN n_suspect > 0 THEN 'suspect' WHEN n_estimated > 0 THEN 'estimated'
            ELSE 'good' END AS quality"""


def _meter_buckets_sql(q: _Query, interval: Interval) -> None:
    q.bind(tz=OFFSET_MS, decimals=DECIMALS)
    q.add(
        "meter_buckets",
        f"""SELECT meter_id, unit, {_bucket_expr(interval)} AS bucket_local,
       round(sum(consumption), $decimals) AS consumption,
       {_QUALITY_COUNTS}
FROM intervals GROUP BY ALL""",
    )


def _owner_rollup_sql(
    q: _Query, source: str, owners: str, owner_key: str, extra_sums: Sequence[str] = ()
) -> str:
    """Sum meter rows of `source` per owner. A meter listed under several owners (多户一表, one meter for
    several households or firms) is left out of every owner's sum and shown in shared_* columns instead:
    splitting it needs an allocation a data steward must decide, and counting it in full for each owner
    would double the city's total."""
    key = _ident(owner_key)
    q.bind(decimals=DECIMALS)
    q.add("owned", f"SELECT DISTINCT meter_id, {key} AS owner FROM {_ident(owners)} WHERE {key} IS NOT NULL")
    q.add(
        "sharing",
        "SELECT meter_id, count(*) > 1 AS shared FROM owned GROUP BY meter_id",
    )
    extra = "".join(f",\n       sum({c}) FILTER (WHERE NOT s.shared) AS {c}" for c in extra_sums)
    q.add(
        "owner_buckets",
        f"""SELECT o.owner, m.unit, m.bucket_local,
       round(sum(m.consumption) FILTER (WHERE NOT s.shared), $decimals) AS consumption,
       sum(m.n_good) FILTER (WHERE NOT s.shared) AS n_good,
       sum(m.n_estimated) FILTER (WHERE NOT s.shared) AS n_estimated,
       sum(m.n_suspect) FILTER (WHERE NOT s.shared) AS n_suspect,
       count(DISTINCT m.meter_id) FILTER (WHERE NOT s.shared) AS meters,
       count(DISTINCT m.meter_id) FILTER (WHERE s.shared) AS shared_meters,
       round(sum(m.consumption) FILTER (WHERE s.shared), $decimals) AS shared_consumption{extra}
FROM {source} m JOIN owned o USING (meter_id) JOIN sharing s USING (meter_id)
GROUP BY ALL""",
    )
    return key


def aggregate(
    con: duckdb.DuckDBPyConnection,
    readings: str = "readings",
    events: str = "meter_events",
    *,
    interval: Interval = "day",
    owners: str | None = None,
    owner_key: str = "enterprise_id",
    meter_ids: Sequence[str] | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    rules: QualityRules = DEFAULT_RULES,
) -> duckdb.DuckDBPyRelation:
    """Consumption per meter (or per ``owner_key`` of the ``owners`` relation) and unit per local hour,
    day or month: ``bucket`` ('2026-11-30T10:00' / '2026-11-30' / '2026-11'), ``bucket_start_ms`` (UTC),
    ``consumption``, ``n_good``, ``n_estimated``, ``n_suspect`` and the bucket ``quality``. With owners,
    also ``meters``, ``shared_meters`` and ``shared_consumption`` (excluded from ``consumption``)."""
    q = _intervals_query(readings, events, meter_ids, start_ms, end_ms, rules)
    _meter_buckets_sql(q, interval)
    fmt = _BUCKET_FORMAT[interval]
    q.bind(fmt=fmt)
    if owners is None:
        final = f"""SELECT meter_id, unit, strftime(make_timestamp(bucket_local * 1000), $fmt) AS bucket,
       bucket_local - $tz AS bucket_start_ms, consumption, n_good, n_estimated, n_suspect, {_BUCKET_QUALITY}
FROM meter_buckets ORDER BY meter_id, unit, bucket_local"""
        return q.run(con, final)
    key = _owner_rollup_sql(q, "meter_buckets", owners, owner_key)
    final = f"""SELECT owner AS {key}, unit, strftime(make_timestamp(bucket_local * 1000), $fmt) AS bucket,
       bucket_local - $tz AS bucket_start_ms, consumption, n_good, n_estimated, n_suspect,
       CASE WHEN meters = 0 THEN NULL ELSE {_BUCKET_QUALITY.replace(" AS quality", "")} END AS quality,
       meters, shared_meters, shared_consumption
FROM owner_buckets ORDER BY 1, unit, bucket_local"""
    return q.run(con, final)


def monthly_totals(
    con: duckdb.DuckDBPyConnection,
    readings: str = "readings",
    events: str = "meter_events",
    *,
    owners: str | None = None,
    owner_key: str = "enterprise_id",
    meter_ids: Sequence[str] | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    rules: QualityRules = DEFAULT_RULES,
) -> duckdb.DuckDBPyRelation:
    """Per meter (or owner) and local month — the enterprise metrics written into the graph: ``month``,
    ``month_start_ms``, ``unit``, ``consumption``, ``completeness`` (received / expected readings over the
    month's part inside the window), ``complete_days``, ``days`` and ``quality`` (worst interval quality;
    'suspect' when the meter reported nothing to compute consumption from)."""
    q = _intervals_query(readings, events, meter_ids, start_ms, end_ms, rules)
    _meter_buckets_sql(q, "month")
    # Completeness from the same readings, its CTEs prefixed to share this query's WITH.
    _completeness_query(readings, meter_ids, start_ms, end_ms, rules, q, "c_")
    q.add(
        "meter_months",
        f"""SELECT c.meter_id, c.unit, c.bucket_local, b.consumption,
       c.received, c.expected, c.complete_days, c.days,
       coalesce(b.n_good, 0) AS n_good, coalesce(b.n_estimated, 0) AS n_estimated,
       -- a month with readings but no computable interval is all unknown: count it as suspect
       coalesce(b.n_suspect, 0) + CASE WHEN b.meter_id IS NULL THEN 1 ELSE 0 END AS n_suspect
FROM (SELECT meter_id, unit, {_bucket_expr("month", "day_start_ms")} AS bucket_local,
             sum(received) AS received, sum(expected) AS expected,
             count(*) FILTER (WHERE complete) AS complete_days, count(*) AS days
      FROM c_completeness GROUP BY ALL) c
LEFT JOIN meter_buckets b USING (meter_id, unit, bucket_local)""",
    )
    q.bind(fmt=_BUCKET_FORMAT["month"])
    shown = """strftime(make_timestamp(bucket_local * 1000), $fmt) AS month,
       bucket_local - $tz AS month_start_ms, unit, consumption,
       received / greatest(expected, 1) AS completeness, complete_days, days"""
    if owners is None:
        final = f"""SELECT meter_id, {shown}, n_good, n_estimated, n_suspect, {_BUCKET_QUALITY}
FROM meter_months ORDER BY meter_id, unit, bucket_local"""
        return q.run(con, final)
    key = _owner_rollup_sql(
        q, "meter_months", owners, owner_key, ("received", "expected", "complete_days", "days")
    )
    final = f"""SELECT owner AS {key}, {shown}, n_good, n_estimated, n_suspect,
       CASE WHEN meters = 0 THEN NULL ELSE {_BUCKET_QUALITY.replace(" AS quality", "")} END AS quality,
       meters, shared_meters, shared_consumption
FROM owner_buckets ORDER BY 1, unit, bucket_local"""
    return q.run(con, final)
