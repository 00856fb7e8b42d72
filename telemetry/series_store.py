"""The meter-reading series store: one DuckDB writer that publishes Parquet for many readers.

DuckDB lets one process open a database file read-write and no other process open it at all meanwhile,
yet the API workers, the warnings job and the CLI must read recent series while the ingester runs. So:

- the ingester's :class:`SeriesWriter` owns ``ROOT/series.duckdb`` (the hot data and the dedup index),
  guarded by an exclusive file lock so a second writer fails at once;
- it publishes what readers need as Parquet under ``ROOT/parquet/`` and lists the current files in
  ``ROOT/parquet/manifest.json``, replaced atomically, so a reader sees one consistent set of files;
- :class:`SeriesReader` is an in-memory DuckDB over the files the manifest names.

Layout under ``ROOT/parquet/`` (days and months are China Standard Time, UTC+8, no daylight saving)::

    manifest.json
    month=2026-11/day-30-s000000001234.parquet   compacted readings of one local day (sorted by meter, ts)
    live/part-000000001200-000000001234.parquet  readings inserted since the last compaction, by seq range
    events/events-s000000001234.parquet          all meter events (few; rewritten when they change)
    quarantine/quarantine-s000000001234.parquet  the quarantine (rewritten when it changes)

Every write transaction gets the next insertion sequence number ``seq``; the manifest records
``published_seq`` (every reading with a smaller or equal seq is in a listed file) and ``compacted_seq``
(every such reading is in a day file), which is what keeps a reading from being listed twice: live
parts only ever hold seqs above ``compacted_seq``. See docs/series-store.md.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from filelock import FileLock, Timeout

from entgraph.localtime import DAY_MS, OFFSET_MS, date_start_ms, local_date
from entgraph.telemetry import payloads
from entgraph.telemetry.payloads import UNKNOWN_METER_PREFIX, MeterEvent, Reading, Rejection

MANIFEST = "manifest.json"
CONFLICT_REASON = "conflicting duplicate"
# Files a new manifest no longer lists are deleted only after this long: a reader that loaded the
# previous manifest just before the swap may still be scanning them.
RETIRE_GRACE_S = 300.0
# The local day (CST) of an epoch-ms column, as SQL; used for partitioning and compaction.
DAY_SQL = f"strftime(epoch_ms(ts_ms + {OFFSET_MS}), '%Y-%m-%d')"

READING_SCHEMA = pa.schema(
    [
        ("pos", pa.int64()),
        ("meter_id", pa.string()),
        ("ts_ms", pa.int64()),
        ("value", pa.float64()),
        ("kind", pa.string()),
        ("unit", pa.string()),
    ]
)
EVENT_SCHEMA = pa.schema(
    [
        ("meter_id", pa.string()),
        ("ts_ms", pa.int64()),
        ("event", pa.string()),
        ("old_value", pa.float64()),
        ("new_value", pa.float64()),
    ]
)
QUARANTINE_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("received_ms", pa.int64()),
        ("topic", pa.string()),
        ("payload", pa.binary()),
        ("reason", pa.string()),
        ("idx", pa.int64()),
        ("meter_id", pa.string()),
    ]
)

DDL = (
    # No PRIMARY KEY on readings: DuckDB's ART index lives in memory (about 130 bytes a row measured, so
    # ~15 GB for 40 days of 10k meters) while an anti-join pruned by the ts_ms zone maps is as fast for
    # batches of readings that arrive roughly in time order. The single writer (file lock) and the
    # check-then-insert inside one transaction keep (meter_id, ts_ms) unique. bench/series_store.py.
    """CREATE TABLE IF NOT EXISTS readings (
        meter_id VARCHAR NOT NULL, ts_ms BIGINT NOT NULL, value DOUBLE NOT NULL, kind VARCHAR NOT NULL,
        unit VARCHAR NOT NULL, received_ms BIGINT NOT NULL, seq BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS meter_events (
        meter_id VARCHAR NOT NULL, ts_ms BIGINT NOT NULL, event VARCHAR NOT NULL, old_value DOUBLE,
        new_value DOUBLE, received_ms BIGINT NOT NULL, seq BIGINT NOT NULL,
        PRIMARY KEY (meter_id, ts_ms, event))""",
    """CREATE TABLE IF NOT EXISTS quarantine (
        id BIGINT PRIMARY KEY, received_ms BIGINT NOT NULL, topic VARCHAR NOT NULL, payload BLOB,
        reason VARCHAR NOT NULL, idx BIGINT, meter_id VARCHAR, replayed_ms BIGINT, seq BIGINT NOT NULL)""",
    # archived_before_ms: readings older than this were removed from DuckDB and live only in Parquet.
    "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value BIGINT NOT NULL)",
)


class WriterBusyError(RuntimeError):
    """Another process (or another SeriesWriter in this one) already writes this store."""


@dataclass(frozen=True, slots=True)
class WriteResult:
    inserted: int  # new readings stored
    duplicates: int  # readings already stored with the same value (redeliveries), ignored
    conflicts: int  # readings already stored with another value: the first is kept, these quarantined
    events: int  # new meter events stored
    quarantined: int  # quarantine rows added (the rejections plus the conflicts)


def month_start_ms(year: int, month: int) -> int:
    return date_start_ms(f"{year:04d}-{month:02d}-01")


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _scan(root: Path, files: Sequence[str]) -> str:
    """A read_parquet over ``files``; hive partitioning off, else DuckDB adds a ``month`` column from the
    ``month=YYYY-MM`` directories (which other engines may use) and ``SELECT *`` changes shape."""
    listed = ", ".join(_sql_str(str(root / f)) for f in files)
    return f"read_parquet([{listed}], hive_partitioning = false)"


class SeriesWriter:
    """The single writer of a series store at ``root``. Not for concurrent ``write`` calls; ``compact`` and
    ``archive`` may run in another thread while ``write`` goes on (they take the write lock only briefly).
    """

    def __init__(self, root: Path, *, retire_grace_s: float = RETIRE_GRACE_S) -> None:
        self.root = Path(root)
        self.parquet = self.root / "parquet"
        self.parquet.mkdir(parents=True, exist_ok=True)
        self._retire_grace_s = retire_grace_s
        self._file_lock = FileLock(self.root / "writer.lock", timeout=0)
        try:
            self._file_lock.acquire()
        except Timeout:
            raise WriterBusyError(
                f"another series writer holds {self.root / 'writer.lock'}; only one process may write "
                f"{self.root} (readers use SeriesReader)"
            ) from None
        try:
            self._con = duckdb.connect(str(self.root / "series.duckdb"))
            for statement in DDL:
                self._con.execute(statement)
            self._con.execute("INSERT OR IGNORE INTO meta VALUES ('archived_before_ms', 0)")
        except BaseException:
            self._file_lock.release()
            raise
        self._lock = threading.RLock()  # guards the connection, seq and the manifest
        self._maintenance = threading.Lock()  # one compact/archive at a time
        self._manifest = read_manifest(self.parquet)
        self._archived_before_ms = self._scalar("SELECT value FROM meta WHERE key = 'archived_before_ms'")
        tables = ("readings", "meter_events", "quarantine")
        # Archived rows left DuckDB only after being published, so the manifest remembers their seqs.
        self._seq = max(
            self._manifest["published_seq"],
            *(self._scalar(f"SELECT coalesce(max(seq), 0) FROM {t}") for t in tables),
        )
        self._next_qid = self._scalar("SELECT coalesce(max(id), 0) FROM quarantine") + 1
        self._remove_orphans()

    # -- writing -----------------------------------------------------------------------------------------

    def write(
        self,
        readings: Sequence[Reading],
        events: Sequence[MeterEvent] = (),
        rejections: Sequence[Rejection] = (),
        received_ms: int | None = None,
    ) -> WriteResult:
        """Store one batch in one transaction; durable when it returns (DuckDB fsyncs its WAL on commit).

        Idempotent on (meter_id, ts_ms): a reading already stored with the same value, kind and unit is
        counted as a duplicate and ignored; one with anything different keeps the stored reading and goes
        to the quarantine as a 'conflicting duplicate', so nothing is silently dropped."""
        received = int(time.time() * 1000) if received_ms is None else received_ms
        return self._write(readings, events, rejections, received)

    def _write(
        self,
        readings: Sequence[Reading],
        events: Sequence[MeterEvent],
        rejections: Sequence[Rejection],
        received: int,
        also: Callable[[int], None] | None = None,
    ) -> WriteResult:
        """``write``, running ``also(seq)`` inside the same transaction."""
        unique, duplicates, conflicts = _dedup_batch(readings)
        with self._lock:
            seq = self._seq + 1
            con = self._con
            con.execute("BEGIN TRANSACTION")
            try:
                inserted, dup2, conflicts2 = self._insert_readings(unique, received, seq)
                new_events, event_conflicts = self._insert_events(events, received, seq)
                rows = [
                    *rejections,
                    *(_conflict_rejection(r, v) for r, v in conflicts + conflicts2 + event_conflicts),
                ]
                self._insert_quarantine(rows, received, seq)
                if also is not None:
                    also(seq)
                con.execute("COMMIT")
            except BaseException:
                _rollback(con)
                raise
            self._seq = seq
            self._next_qid += len(rows)
        return WriteResult(
            inserted, duplicates + dup2, len(conflicts) + len(conflicts2), new_events, len(rows)
        )

    def _insert_readings(
        self, unique: list[Reading], received: int, seq: int
    ) -> tuple[int, int, list[tuple[Reading, float]]]:
        if not unique:
            return 0, 0, []
        batch = _readings_table(unique)
        con = self._con
        con.register("_batch", batch)
        try:
            lo = min(r.ts_ms for r in unique)
            hi = max(r.ts_ms for r in unique)
            # The explicit ts_ms range lets DuckDB skip row groups by their zone maps: readings arrive
            # roughly in time order, so a batch only scans the few row groups of its own minutes.
            stored = con.execute(
                """SELECT b.pos, r.value, r.kind, r.unit FROM _batch b JOIN readings r
                   ON r.meter_id = b.meter_id AND r.ts_ms = b.ts_ms WHERE r.ts_ms BETWEEN ? AND ?""",
                [lo, hi],
            ).fetchall()
            if lo < self._archived_before_ms:
                stored += self._archived_matches(
                    con, [r for r in unique if r.ts_ms < self._archived_before_ms]
                )
            taken: set[int] = set()
            duplicates = 0
            conflicts: list[tuple[Reading, float]] = []
            for pos, value, kind, unit in stored:
                if pos in taken:  # found both in DuckDB and in Parquet (a late reading being re-archived)
                    continue
                taken.add(pos)
                reading = unique[pos]
                if (value, kind, unit) == (reading.value, reading.kind, reading.unit):
                    duplicates += 1
                else:
                    conflicts.append((reading, value))
            if taken:
                con.unregister("_batch")
                batch = batch.filter(pa.array([i not in taken for i in range(len(unique))]))
                con.register("_batch", batch)
            if batch.num_rows:
                con.execute(
                    "INSERT INTO readings SELECT meter_id, ts_ms, value, kind, unit, ?, ? FROM _batch",
                    [received, seq],
                )
            return batch.num_rows, duplicates, conflicts
        finally:
            con.unregister("_batch")

    def _archived_matches(self, con: duckdb.DuckDBPyConnection, late: list[Reading]) -> list[tuple]:
        """Stored (pos, value, kind, unit) of late readings whose month was archived out of DuckDB: they are
        checked against that day's compacted Parquet file so a redelivery is not stored twice."""
        files = sorted({self._manifest["days"][d]["path"] for d in {local_date(r.ts_ms) for r in late}
                        if d in self._manifest["days"]})  # fmt: skip
        if not files:
            return []
        wanted = {(r.meter_id, r.ts_ms) for r in late}
        return [
            row[:4]
            for row in con.execute(
                f"""SELECT b.pos, p.value, p.kind, p.unit, b.meter_id, b.ts_ms
                    FROM _batch b JOIN {_scan(self.parquet, files)} p
                    ON p.meter_id = b.meter_id AND p.ts_ms = b.ts_ms"""
            ).fetchall()
            if (row[4], row[5]) in wanted
        ]

    def _insert_events(
        self, events: Sequence[MeterEvent], received: int, seq: int
    ) -> tuple[int, list[tuple[Reading | MeterEvent, float | None]]]:
        if not events:
            return 0, []
        firsts: dict[tuple[str, int, str], MeterEvent] = {}
        conflicts: list[tuple[Reading | MeterEvent, float | None]] = []
        for e in events:
            first = firsts.setdefault((e.meter_id, e.ts_ms, e.event), e)
            if first is not e and (first.old_value, first.new_value) != (e.old_value, e.new_value):
                conflicts.append((e, first.new_value))
        table = pa.Table.from_pylist(
            [{"meter_id": e.meter_id, "ts_ms": e.ts_ms, "event": e.event, "old_value": e.old_value,
              "new_value": e.new_value} for e in firsts.values()],
            schema=EVENT_SCHEMA,
        )  # fmt: skip
        con = self._con
        con.register("_events", table)
        try:
            for meter_id, ts_ms, event, old, new in con.execute(
                """SELECT m.meter_id, m.ts_ms, m.event, m.old_value, m.new_value
                   FROM _events e JOIN meter_events m USING (meter_id, ts_ms, event)"""
            ).fetchall():
                mine = firsts[(meter_id, ts_ms, event)]
                if (mine.old_value, mine.new_value) != (old, new):
                    conflicts.append((mine, new))
            inserted = con.execute(
                """INSERT INTO meter_events SELECT *, ?, ? FROM _events ON CONFLICT DO NOTHING
                   RETURNING meter_id""",
                [received, seq],
            ).fetchall()
        finally:
            con.unregister("_events")
        return len(inserted), conflicts

    def _insert_quarantine(self, rows: Sequence[Rejection], received: int, seq: int) -> None:
        if not rows:
            return
        table = pa.Table.from_pylist(
            [{"id": self._next_qid + i, "received_ms": received, "topic": r.topic, "payload": r.payload,
              "reason": r.reason, "idx": r.index, "meter_id": r.meter_id} for i, r in enumerate(rows)],
            schema=QUARANTINE_SCHEMA,
        )  # fmt: skip
        self._con.register("_quarantine", table)
        try:
            self._con.execute("INSERT INTO quarantine SELECT *, NULL, ? FROM _quarantine", [seq])
        finally:
            self._con.unregister("_quarantine")

    def replay_quarantine(
        self, is_known: Callable[[str], bool], now_ms: int | None = None, newly: Collection[str] = ()
    ) -> int:
        """Store the readings of quarantined 'unknown meter…' messages whose meters are now known; returns
        the readings inserted. Replayed quarantine rows are marked (replayed_ms), not deleted: kept for audit.

        A row is looked at when its meter (the first unknown one of its message) is known, or when its
        message names one of the ``newly`` known meters. All readings of the message whose meters are
        known are then written (those stored when it arrived come back as duplicates and change nothing).
        If the message still names unknown meters, a new pending row for them takes its place in the same
        transaction: no reading of a batch is dropped because another meter of it is registered later."""
        now = int(time.time() * 1000) if now_ms is None else now_ms
        fresh = set(newly)
        with self._lock:
            pending = self._con.execute(
                """SELECT id, topic, payload, meter_id FROM quarantine
                   WHERE replayed_ms IS NULL AND starts_with(reason, ?) ORDER BY id""",
                [UNKNOWN_METER_PREFIX],
            ).fetchall()
            readings: list[Reading] = []
            events: list[MeterEvent] = []
            still_waiting: list[Rejection] = []
            done: list[int] = []
            requeued: set[tuple[str, bytes]] = set()
            parsed_cache: dict[tuple[str, bytes], payloads.Parsed] = {}
            for qid, topic, payload, meter_id in pending:
                key = (topic, bytes(payload))
                own_meter = meter_id is not None and is_known(meter_id)
                if not own_meter and not _may_name(key, fresh):
                    continue
                parsed = parsed_cache.get(key) or parsed_cache.setdefault(
                    key, payloads.parse_message(topic, key[1], now)
                )
                named = dict.fromkeys(x.meter_id for x in (*parsed.readings, *parsed.events))
                if not own_meter and not fresh.intersection(named):
                    continue
                waiting = [m for m in named if not is_known(m)]
                readings += [r for r in parsed.readings if r.meter_id not in waiting]
                events += [e for e in parsed.events if e.meter_id not in waiting]
                if waiting and key not in requeued:  # older rows were per reading: requeue a message once
                    requeued.add(key)
                    still_waiting.append(payloads.unknown_meters(topic, key[1], waiting))
                done.append(qid)
            if not done:
                return 0

            def mark(seq: int) -> None:
                # Same transaction as the insert: a crash cannot leave readings stored but still pending.
                self._con.execute(
                    "UPDATE quarantine SET replayed_ms = ?, seq = ? WHERE id IN (SELECT unnest(?))",
                    [now, seq, done],
                )

            result = self._write(readings, list(dict.fromkeys(events)), still_waiting, now, mark)
        return result.inserted

    def quarantine_summary(self) -> dict[str, int]:
        """Pending (not replayed) quarantine rows by reason."""
        with self._lock:
            rows = self._con.execute(
                "SELECT reason, count(*) FROM quarantine WHERE replayed_ms IS NULL GROUP BY reason"
            ).fetchall()
        return dict(rows)

    # -- publishing --------------------------------------------------------------------------------------

    def publish(self) -> int:
        """Make everything written so far visible to readers: readings inserted since the last publish
        become one live part; events and quarantine are rewritten if they changed. Returns the readings
        published."""
        with self._lock:
            return self._publish()

    def _publish(self) -> int:
        manifest = self._manifest
        low, high = manifest["published_seq"], self._seq
        if high == low:
            return 0
        new = _copy_manifest(manifest)
        rows = self._scalar(f"SELECT count(*) FROM readings WHERE seq > {low} AND seq <= {high}")
        if rows:
            name = f"live/part-{low + 1:012d}-{high:012d}.parquet"
            self._copy_to(
                f"SELECT * FROM readings WHERE seq > {low} AND seq <= {high} ORDER BY meter_id, ts_ms", name
            )
            new["live"].append({"path": name, "from_seq": low + 1, "to_seq": high, "rows": rows})
        for table, key in (("meter_events", "events"), ("quarantine", "quarantine")):
            if self._scalar(f"SELECT count(*) FROM {table} WHERE seq > {low}"):
                name = f"{key}/{key}-s{high:012d}.parquet"
                self._copy_to(f"SELECT * FROM {table} ORDER BY meter_id, ts_ms" if key == "events"
                              else "SELECT * FROM quarantine ORDER BY id", name)  # fmt: skip
                self._retire(new, manifest[key])
                new[key] = name
        new["published_seq"] = high
        self._swap(new)
        return rows

    def compact(self) -> int:
        """Rewrite the day files of every local day that received readings since the last compaction, from
        DuckDB (merging the old day file for days already archived out of DuckDB), and drop the live parts
        they cover, in one manifest swap. Returns the readings in the rewritten day files.

        The day files are written outside the write lock (a cursor reads a snapshot of seq <= S), so the
        ingester keeps writing; only the publish before and the swap after hold it."""
        with self._maintenance:
            return self._compact()

    def _compact(self) -> int:
        with self._lock:
            self._publish()
            upto = self._manifest["published_seq"]
            since = self._manifest["compacted_seq"]
            archived_before = self._archived_before_ms
            cursor = self._con.cursor()
        try:
            days = [d for (d,) in cursor.execute(
                f"SELECT DISTINCT {DAY_SQL} FROM readings WHERE seq > {since} AND seq <= {upto} ORDER BY 1"
            ).fetchall()]  # fmt: skip
            written: dict[str, dict[str, Any]] = {}
            total = 0
            for day in days:
                start = date_start_ms(day)
                hot = (
                    f"SELECT * FROM readings WHERE ts_ms >= {start} AND ts_ms < {start + DAY_MS} "
                    f"AND seq <= {upto}"
                )
                old = self._manifest["days"].get(day)
                if start < archived_before and old is not None:
                    # This day's older readings left DuckDB at archive time: keep them from the old file,
                    # except any also still hot (DuckDB is authoritative where it has the row).
                    query = f"""WITH hot AS ({hot}) SELECT * FROM hot UNION ALL
                        SELECT * FROM {_scan(self.parquet, [old["path"]])} p
                        WHERE NOT EXISTS (
                            SELECT 1 FROM hot WHERE hot.meter_id = p.meter_id AND hot.ts_ms = p.ts_ms)"""
                else:
                    query = hot
                name = f"month={day[:7]}/day-{day[8:]}-s{upto:012d}.parquet"
                rows = self._copy_to(f"SELECT * FROM ({query}) ORDER BY meter_id, ts_ms", name, cursor)
                written[day] = {"path": name, "rows": rows}
                total += rows
        finally:
            cursor.close()
        with self._lock:
            new = _copy_manifest(self._manifest)
            for day, entry in written.items():
                if day in new["days"]:
                    self._retire(new, new["days"][day]["path"])
                new["days"][day] = entry
            keep = [part for part in new["live"] if part["from_seq"] > upto]
            for part in new["live"]:
                if part["from_seq"] <= upto:
                    self._retire(new, part["path"])
            new["live"] = keep
            new["compacted_seq"] = upto
            self._swap(new)
        return total

    def archive(self, keep_days: int, now_ms: int | None = None) -> list[str]:
        """Remove from DuckDB the local months that ended more than ``keep_days`` ago, once they are in the
        day files (compacting first). Returns the months archived. Their readings stay readable through
        Parquet; a late reading for them is still checked against Parquet, stored once, and merged in by the
        next compaction."""
        now = int(time.time() * 1000) if now_ms is None else now_ms
        cutoff = now - keep_days * DAY_MS
        with self._maintenance:
            self._compact()
            with self._lock:
                upto = self._manifest["compacted_seq"]
                first = self._scalar("SELECT min(ts_ms) FROM readings")
                if first is None:
                    return []
                at = dt.datetime.fromtimestamp((first + OFFSET_MS) / 1000, dt.UTC)
                year, month = at.year, at.month
                months: list[str] = []
                horizon = self._archived_before_ms
                while True:
                    nxt = (year + month // 12, month % 12 + 1)
                    end = month_start_ms(*nxt)
                    if end > cutoff:
                        break
                    months.append(f"{year:04d}-{month:02d}")
                    horizon = max(horizon, end)
                    year, month = nxt
                if not months:
                    return []
                con = self._con
                con.execute("BEGIN TRANSACTION")
                try:
                    # Only readings already in day files (seq <= compacted_seq) leave; a late one written
                    # since stays hot until the next compaction has merged it.
                    con.execute(f"DELETE FROM readings WHERE ts_ms < {horizon} AND seq <= {upto}")
                    con.execute("UPDATE meta SET value = ? WHERE key = 'archived_before_ms'", [horizon])
                    con.execute("COMMIT")
                except BaseException:
                    _rollback(con)
                    raise
                self._archived_before_ms = horizon
                return months

    def close(self) -> None:
        with self._lock:
            self._con.close()
            self._file_lock.release()

    def __enter__(self) -> SeriesWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------------------

    def hot_count(self) -> int:
        """Readings in the DuckDB file: the recent ones (``archive`` leaves older months to Parquet)."""
        with self._lock:
            return int(self._scalar("SELECT count(*) FROM readings"))

    def _scalar(self, sql: str) -> Any:
        row = self._con.execute(sql).fetchone()
        return None if row is None else row[0]

    def _copy_to(self, query: str, name: str, con: duckdb.DuckDBPyConnection | None = None) -> int:
        """Write ``query`` to ``parquet/name`` durably (temp file, fsync, rename); returns rows written."""
        target = self.parquet / name
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        conn = self._con if con is None else con
        conn.execute(f"COPY ({query}) TO {_sql_str(str(tmp))} (FORMAT parquet, COMPRESSION zstd)")
        _fsync_path(tmp)
        os.replace(tmp, target)
        _fsync_path(target.parent)
        row = conn.execute(f"SELECT count(*) FROM {_scan(self.parquet, [name])}").fetchone()
        return int(row[0]) if row else 0

    def _retire(self, manifest: dict[str, Any], path: str | None) -> None:
        if path:
            manifest["retired"].append({"path": path, "at_ms": int(time.time() * 1000)})

    def _swap(self, new: dict[str, Any]) -> None:
        """Replace the manifest atomically, then delete retired files past their grace period."""
        now = int(time.time() * 1000)
        due = [r for r in new["retired"] if now - r["at_ms"] >= self._retire_grace_s * 1000]
        new["retired"] = [r for r in new["retired"] if r not in due]
        new["written_ms"] = now
        write_manifest(self.parquet, new)
        self._manifest = new
        for entry in due:
            (self.parquet / entry["path"]).unlink(missing_ok=True)

    def _remove_orphans(self) -> None:
        """Delete Parquet files no manifest lists: left by a crash between writing a file and the swap."""
        listed = set(_manifest_files(self._manifest)) | {r["path"] for r in self._manifest["retired"]}
        for path in self.parquet.rglob("*.parquet*"):
            rel = path.relative_to(self.parquet).as_posix()
            if rel not in listed:
                path.unlink(missing_ok=True)


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back after a failure, keeping the original error: a COMMIT that failed has already ended the
    transaction, and the ROLLBACK's own complaint would hide why."""
    with contextlib.suppress(duckdb.Error):
        con.execute("ROLLBACK")


def _may_name(message: tuple[str, bytes], meters: set[str]) -> bool:
    """Whether a message may carry readings of ``meters``: a meter's id is in its topic or its payload.
    A cheap test before parsing; past a few dozen meters parsing is as cheap, and a non-ASCII id may be
    escaped in JSON."""
    if len(meters) > 64 or not all(m.isascii() for m in meters):
        return True
    topic, payload = message
    return any(m in topic or m.encode() in payload for m in meters)


def _dedup_batch(readings: Sequence[Reading]) -> tuple[list[Reading], int, list[tuple[Reading, float]]]:
    """The first reading of each (meter_id, ts_ms) in the batch, the count of identical repeats, and the
    repeats that differ (with the first one's value)."""
    firsts: dict[tuple[str, int], Reading] = {}
    duplicates = 0
    conflicts: list[tuple[Reading, float]] = []
    for r in readings:
        first = firsts.setdefault((r.meter_id, r.ts_ms), r)
        if first is r:
            continue
        if (first.value, first.kind, first.unit) == (r.value, r.kind, r.unit):
            duplicates += 1
        else:
            conflicts.append((r, first.value))
    return list(firsts.values()), duplicates, conflicts


def _readings_table(readings: Sequence[Reading]) -> pa.Table:
    return pa.table(
        [
            pa.array(range(len(readings)), pa.int64()),
            pa.array([r.meter_id for r in readings], pa.string()),
            pa.array([r.ts_ms for r in readings], pa.int64()),
            pa.array([r.value for r in readings], pa.float64()),
            pa.array([r.kind for r in readings], pa.string()),
            pa.array([r.unit for r in readings], pa.string()),
        ],
        schema=READING_SCHEMA,
    )


def _conflict_rejection(item: Reading | MeterEvent, stored: float | None) -> Rejection:
    """A quarantine row for a conflicting duplicate: the rejected reading (or event) as its payload, with
    the value kept, so an operator can see both."""
    if isinstance(item, Reading):
        body: dict[str, Any] = {"ts": item.ts_ms, "value": item.value, "type": item.kind, "unit": item.unit}
        topic = payloads.reading_topic(item.meter_id)
    else:
        body = {
            "ts": item.ts_ms,
            "event": item.event,
            "old_value": item.old_value,
            "new_value": item.new_value,
        }
        topic = payloads.event_topic(item.meter_id)
    body["stored_value"] = stored
    return Rejection(topic, json.dumps(body).encode(), CONFLICT_REASON, None, item.meter_id)


# -- the manifest ------------------------------------------------------------------------------------------


def empty_manifest() -> dict[str, Any]:
    return {
        "version": 1,
        "published_seq": 0,
        "compacted_seq": 0,
        "days": {},  # 'YYYY-MM-DD' -> {"path", "rows"}
        "live": [],  # [{"path", "from_seq", "to_seq", "rows"}], ascending seq
        "events": None,
        "quarantine": None,
        "retired": [],  # [{"path", "at_ms"}]: no longer listed, deleted after the grace period
        "written_ms": 0,
    }


def read_manifest(parquet: Path) -> dict[str, Any]:
    try:
        return json.loads((parquet / MANIFEST).read_text())
    except FileNotFoundError:
        return empty_manifest()


def write_manifest(parquet: Path, manifest: dict[str, Any]) -> None:
    tmp = parquet / (MANIFEST + ".tmp")
    with open(tmp, "w") as fh:
        json.dump(manifest, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, parquet / MANIFEST)
    _fsync_path(parquet)


def _copy_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(manifest))


def _manifest_files(manifest: dict[str, Any]) -> list[str]:
    files = [d["path"] for d in manifest["days"].values()] + [p["path"] for p in manifest["live"]]
    return files + [f for f in (manifest["events"], manifest["quarantine"]) if f]


# -- reading -----------------------------------------------------------------------------------------------

QUERY_ATTEMPTS = 5
READINGS_COLUMNS = "meter_id, ts_ms, value, kind, unit"
EVENTS_COLUMNS = "meter_id, ts_ms, event, old_value, new_value"
QUARANTINE_COLUMNS = "id, received_ms, topic, payload, reason, idx, meter_id, replayed_ms"
EMPTY = {
    "readings": "SELECT NULL::VARCHAR AS meter_id, NULL::BIGINT AS ts_ms, NULL::DOUBLE AS value, "
    "NULL::VARCHAR AS kind, NULL::VARCHAR AS unit WHERE false",
    "meter_events": "SELECT NULL::VARCHAR AS meter_id, NULL::BIGINT AS ts_ms, NULL::VARCHAR AS event, "
    "NULL::DOUBLE AS old_value, NULL::DOUBLE AS new_value WHERE false",
    "quarantine": "SELECT NULL::BIGINT AS id, NULL::BIGINT AS received_ms, NULL::VARCHAR AS topic, "
    "NULL::BLOB AS payload, NULL::VARCHAR AS reason, NULL::BIGINT AS idx, NULL::VARCHAR AS meter_id, "
    "NULL::BIGINT AS replayed_ms WHERE false",
}


SHARDS = "shards"
_COLUMNS = {"readings": READINGS_COLUMNS, "meter_events": EVENTS_COLUMNS, "quarantine": QUARANTINE_COLUMNS}
# What identifies a row across shards (a view's rows are unique on it within one shard).
_IDENTITY = {"readings": "meter_id, ts_ms", "meter_events": "meter_id, ts_ms, event"}


def shard_roots(root: Path) -> list[Path]:
    """The store at ``root`` and the stores of further ingesters beside it (``root/shards/<name>``): with
    a shared subscription, each ingester writes its own store (DuckDB has one writer per file)."""
    shards = root / SHARDS
    extra = sorted(p for p in shards.iterdir() if p.is_dir()) if shards.is_dir() else []
    return [root, *extra]


def _view_body(view: str, scans: list[str]) -> str:
    if not scans:
        return EMPTY[view]
    columns = _COLUMNS[view]
    body = " UNION ALL ".join(f"SELECT {columns} FROM {scan}" for scan in scans)
    if len(scans) > 1 and view in _IDENTITY:
        # A reading re-sent after a reconnect may reach another member of the shared group than the
        # first copy did: two shards can hold it. Each shard is exact; the union keeps one of each.
        body = f"SELECT DISTINCT ON ({_IDENTITY[view]}) {columns} FROM ({body})"
    return body


class SeriesReader:
    """Read-only view of a series store (and its shards): an in-memory DuckDB whose views ``readings``,
    ``meter_events`` and ``quarantine`` scan the Parquet files the manifests list. Any number of
    processes may hold one while the writers run. Each method first re-reads the manifests if one was
    replaced (a stat call each), and swaps all three views in one transaction, so a query sees exactly
    one published state of each store."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.parquet = self.root / "parquet"
        self._con = duckdb.connect(":memory:")
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self.manifest: dict[str, Any] = empty_manifest()
        self._define_views([])

    def refresh(self) -> bool:
        """Reload the manifests (this store's and its shards') if any changed since the last look; True
        if one did."""
        stamps, found = [], []
        for root in shard_roots(self.root):
            parquet = root / "parquet"
            try:
                st = (parquet / MANIFEST).stat()
            except FileNotFoundError:
                continue
            stamps.append((str(root), st.st_ino, st.st_mtime_ns, st.st_size))
            found.append(parquet)
        stamp = tuple(stamps)
        with self._lock:
            if stamp == self._stamp:
                return False
            manifests = [(parquet, read_manifest(parquet)) for parquet in found]
            self._define_views(manifests)
            own = [m for parquet, m in manifests if parquet == self.parquet]
            self.manifest, self._stamp = (own[0] if own else empty_manifest()), stamp
            return True

    def _define_views(self, manifests: list[tuple[Path, dict[str, Any]]]) -> None:
        scans: dict[str, list[str]] = {view: [] for view in EMPTY}
        for parquet, manifest in manifests:
            readings = [d["path"] for d in manifest["days"].values()] + [p["path"] for p in manifest["live"]]
            if readings:
                scans["readings"].append(_scan(parquet, readings))
            if manifest["events"]:
                scans["meter_events"].append(_scan(parquet, [manifest["events"]]))
            if manifest["quarantine"]:
                scans["quarantine"].append(_scan(parquet, [manifest["quarantine"]]))
        con = self._con
        con.execute("BEGIN TRANSACTION")
        try:
            for view, parts in scans.items():
                con.execute(f"CREATE OR REPLACE VIEW {view} AS {_view_body(view, parts)}")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    def connection(self) -> duckdb.DuckDBPyConnection:
        """A connection with current views, for consumption.py's functions; one per thread or unit of work."""
        self.refresh()
        return self._con.cursor()

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        """Run ``sql`` on fresh views; retried if a file vanished (the writer retired it after a newer
        manifest we had not seen yet: only possible when a query outlives the retirement grace period)."""
        for attempt in range(QUERY_ATTEMPTS):
            try:
                cursor = self.connection()  # binding the views opens the files too
                try:
                    return cursor.execute(sql, params or []).fetchall()
                finally:
                    cursor.close()
            except duckdb.IOException:
                if attempt == QUERY_ATTEMPTS - 1:
                    raise
                self._stamp = None  # force a reload of the manifest
        raise AssertionError("unreachable")

    def last_seen(self, meter_ids: Sequence[str]) -> dict[str, int]:
        """Latest reading time (UTC epoch ms) of each meter that has one."""
        if not meter_ids:
            return {}
        rows = self.query(
            "SELECT meter_id, max(ts_ms) FROM readings WHERE meter_id IN (SELECT unnest(?)) "
            "GROUP BY meter_id",
            [list(meter_ids)],
        )
        return {m: int(ts) for m, ts in rows}

    def raw(self, meter_id: str, start_ms: int, end_ms: int) -> list[tuple[int, float, str, str]]:
        """(ts_ms, value, kind, unit) of one meter in [start_ms, end_ms), in time order."""
        return self.query(
            "SELECT ts_ms, value, kind, unit FROM readings "
            "WHERE meter_id = ? AND ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms",
            [meter_id, start_ms, end_ms],
        )

    def quarantined(self, limit: int = 100, reason_prefix: str | None = None) -> list[dict[str, Any]]:
        """Latest quarantine rows first (replayed ones included, with replayed_ms set)."""
        where = "WHERE starts_with(reason, ?)" if reason_prefix is not None else ""
        params: list[Any] = [reason_prefix] if reason_prefix is not None else []
        rows = self.query(
            f"SELECT {QUARANTINE_COLUMNS} FROM quarantine {where} ORDER BY id DESC LIMIT ?", [*params, limit]
        )
        keys = QUARANTINE_COLUMNS.split(", ")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def quarantine_counts(self) -> dict[str, int]:
        """Pending (not replayed) quarantine rows by reason."""
        rows = self.query("SELECT reason, count(*) FROM quarantine WHERE replayed_ms IS NULL GROUP BY reason")
        return {reason: int(n) for reason, n in rows}

    def consumption(self, function: str, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        """The rows of ``entgraph.telemetry.consumption.<function>(connection, ...)`` on fresh views, as
        dicts; retried like ``query``, and the cursor closed before returning (a relation handed out would
        keep it open until garbage collection). Its relation parameters default to 'readings' and
        'meter_events', this reader's views."""
        from entgraph.telemetry import consumption

        for attempt in range(QUERY_ATTEMPTS):
            cursor = self.connection()
            try:
                relation = getattr(consumption, function)(cursor, *args, **kwargs)
                columns = relation.columns
                return [dict(zip(columns, row, strict=True)) for row in relation.fetchall()]
            except duckdb.IOException:
                if attempt == QUERY_ATTEMPTS - 1:
                    raise
                self._stamp = None  # force a reload of the manifest
            finally:
                cursor.close()
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> SeriesReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
