"""Write throughput of the series store, against a plain Arrow append, and publish/compact of one day.

    python -m bench.series_store [--preload 2880000] [--meters 10000] [--slots 288] [--json out.json]

Each batch size writes into a store whose hot table already holds ``--preload`` readings (one day of
10k meters by default), because the dedup anti-join gets slower as the table grows; the baseline appends
the same Arrow batches, one committed transaction each, into a table with no uniqueness check, in the
same process, so the ratio holds on a noisy machine. Then one day (meters x slots five-minute readings)
is written, published and compacted. Scratch files go to a temporary directory (``--dir`` to choose).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import duckdb

from entgraph.localtime import date_start_ms
from entgraph.telemetry.payloads import Reading
from entgraph.telemetry.series_store import (
    SeriesReader,
    SeriesWriter,
    _readings_table,
)

DAY0 = date_start_ms("2026-11-01")
STEP = 300_000
# Readings written per batch size: enough batches for a stable rate, few enough for a quick run.
VOLUME = {1: 3_000, 100: 100_000, 1_000: 300_000, 10_000: 500_000}


def day_readings(meters: int, slots: int, day0: int) -> list[Reading]:
    """Time-ordered like a live feed: every meter's reading of one slot, then the next slot."""
    return [
        Reading(f"M{m:06d}", day0 + s * STEP, float(s * 10 + m % 7), "cumulative", "kWh")
        for s in range(slots)
        for m in range(meters)
    ]


def preload(con: duckdb.DuckDBPyConnection, table: str, rows: int, meters: int) -> None:
    """Fill ``table`` with ``rows`` readings of the day before the measured ones, in SQL (fast)."""
    con.execute(
        f"""INSERT INTO {table} SELECT printf('M%06d', i % {meters}), {DAY0 - 86_400_000} + (i // {meters})
            * {STEP}, i::DOUBLE, 'cumulative', 'kWh', 0, 0 FROM range({rows}) t(i)"""
    )
    con.execute("CHECKPOINT")


def store_rate(root: Path, readings: list[Reading], size: int, pre: int, meters: int) -> float:
    with SeriesWriter(root) as writer:
        preload(writer._con, "readings", pre, meters)
        started = time.perf_counter()
        for i in range(0, len(readings), size):
            writer.write(readings[i : i + size], [], [], DAY0)
        return len(readings) / (time.perf_counter() - started)


def baseline_rate(root: Path, readings: list[Reading], size: int, pre: int, meters: int) -> float:
    """A plain Arrow append: the same batches, one committed transaction each, no uniqueness check."""
    con = duckdb.connect(str(root / "baseline.duckdb"))
    con.execute(
        """CREATE TABLE readings (meter_id VARCHAR, ts_ms BIGINT, value DOUBLE, kind VARCHAR, unit VARCHAR,
           received_ms BIGINT, seq BIGINT)"""
    )
    preload(con, "readings", pre, meters)
    started = time.perf_counter()
    for i in range(0, len(readings), size):
        con.register("batch", _readings_table(readings[i : i + size]))
        con.execute("BEGIN TRANSACTION")
        con.execute("INSERT INTO readings SELECT meter_id, ts_ms, value, kind, unit, 0, 1 FROM batch")
        con.execute("COMMIT")
        con.unregister("batch")
    rate = len(readings) / (time.perf_counter() - started)
    con.close()
    return rate


def day_cycle(root: Path, meters: int, slots: int) -> dict[str, float]:
    readings = day_readings(meters, slots, DAY0)
    out: dict[str, float] = {"readings": len(readings)}
    with SeriesWriter(root) as writer:
        started = time.perf_counter()
        for i in range(0, len(readings), 1_000):
            writer.write(readings[i : i + 1_000], [], [], DAY0)
        out["write_s"] = time.perf_counter() - started
        started = time.perf_counter()
        writer.publish()
        out["publish_s"] = time.perf_counter() - started
        started = time.perf_counter()
        writer.compact()
        out["compact_s"] = time.perf_counter() - started
        # The steady state: five more minutes of every meter, then publish (what runs every minute or so).
        tail = day_readings(meters, 1, DAY0 + slots * STEP)
        writer.write(tail, [], [], DAY0)
        started = time.perf_counter()
        writer.publish()
        out["publish_5min_s"] = time.perf_counter() - started
    reader = SeriesReader(root)
    started = time.perf_counter()
    reader.query("SELECT count(*) FROM readings")
    out["reader_count_s"] = time.perf_counter() - started
    started = time.perf_counter()
    reader.raw("M000042", DAY0, DAY0 + 86_400_000)
    out["reader_one_meter_day_s"] = time.perf_counter() - started
    out["parquet_mb"] = sum(p.stat().st_size for p in (root / "parquet").rglob("*.parquet")) / 1e6
    out["duckdb_mb"] = (root / "series.duckdb").stat().st_size / 1e6
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preload", type=int, default=2_880_000, help="readings already in the hot table")
    parser.add_argument("--meters", type=int, default=10_000)
    parser.add_argument("--slots", type=int, default=288, help="five-minute readings per meter (288 = a day)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=sorted(VOLUME))
    parser.add_argument("--dir", type=Path, default=None, help="scratch directory (default: a temporary one)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir) as scratch:
        base = Path(scratch)
        rows = []
        for size in args.batch_sizes:
            n = VOLUME.get(size, 100 * size)
            readings = day_readings(args.meters, -(-n // args.meters), DAY0)[:n]
            store = store_rate(base / f"store-{size}", readings, size, args.preload, args.meters)
            (base / f"plain-{size}").mkdir()
            plain = baseline_rate(base / f"plain-{size}", readings, size, args.preload, args.meters)
            rows.append({"batch": size, "readings": n, "store_per_s": store, "plain_per_s": plain})
        day = day_cycle(base / "day", args.meters, args.slots)

    print(f"hot table preloaded with {args.preload:,} readings\n")
    print("| batch | readings | store readings/s | plain append readings/s | store / plain |")
    print("|---:|---:|---:|---:|---:|")
    for r in rows:
        ratio = r["store_per_s"] / r["plain_per_s"]
        rates = [f"{r[k]:,.0f}" for k in ("store_per_s", "plain_per_s")]
        cells = [f"{r['batch']:,}", f"{r['readings']:,}", *rates]
        print("| " + " | ".join(cells) + f" | {ratio:.2f} |")
    print(f"\none day: {int(day['readings']):,} readings ({args.meters:,} meters x {args.slots})\n")
    print("| step | seconds |")
    print("|---|---:|")
    for key in (
        "write_s",
        "publish_s",
        "compact_s",
        "publish_5min_s",
        "reader_count_s",
        "reader_one_meter_day_s",
    ):
        print(f"| {key.removesuffix('_s')} | {day[key]:.3f} |")
    print(f"\nParquet {day['parquet_mb']:.1f} MB, DuckDB file {day['duckdb_mb']:.1f} MB")
    if args.json:
        args.json.write_text(json.dumps({"writes": rows, "day": day}, indent=1))


if __name__ == "__main__":
    main()
