"""The series store on real files: the DuckDB writer, Parquet publishing, readers in threads and processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from entgraph.localtime import date_start_ms, local_date
from entgraph.telemetry import payloads
from entgraph.telemetry.payloads import MeterEvent, Reading, Rejection
from entgraph.telemetry.series_store import (
    CONFLICT_REASON,
    SHARDS,
    SeriesReader,
    SeriesWriter,
    WriterBusyError,
)

REPO = Path(__file__).resolve().parents[2]
T0 = date_start_ms("2026-11-30") + 10 * 3_600_000  # 2026-11-30 10:00 China time
STEP = 300_000  # five minutes


def r(meter: str, ts_ms: int, value: float, kind: str = "cumulative") -> Reading:
    return Reading(meter, ts_ms, value, kind, "kWh")  # type: ignore[arg-type]


def count(reader: SeriesReader, where: str = "true") -> int:
    return reader.query(f"SELECT count(*) FROM readings WHERE {where}")[0][0]


def distinct_keys(reader: SeriesReader) -> int:
    return reader.query("SELECT count(*) FROM (SELECT DISTINCT meter_id, ts_ms FROM readings)")[0][0]


def test_day_boundaries_are_china_time() -> None:
    # 2026-11-30 16:00Z is midnight of 2026-12-01 in China.
    assert local_date(date_start_ms("2026-12-01")) == "2026-12-01"
    assert local_date(date_start_ms("2026-12-01") - 1) == "2026-11-30"
    assert date_start_ms("2026-12-01") == 1_796_054_400_000


def test_empty_store_reads_as_empty(tmp_path: Path) -> None:
    reader = SeriesReader(tmp_path)
    assert count(reader) == 0
    assert reader.last_seen(["M1"]) == {}
    assert reader.raw("M1", 0, T0) == []
    assert reader.quarantine_counts() == {}
    assert reader.quarantined(10) == []
    assert reader.query("SELECT count(*) FROM meter_events")[0][0] == 0
    with SeriesWriter(tmp_path) as writer:
        writer.publish()  # nothing written: still a valid, empty manifest
    assert count(reader) == 0


def test_duplicates_identical_are_ignored_conflicting_are_quarantined(tmp_path: Path) -> None:
    with SeriesWriter(tmp_path) as writer:
        first = writer.write([r("M1", T0, 10.0), r("M1", T0 + STEP, 11.0)], [], [], T0)
        assert (first.inserted, first.duplicates, first.conflicts, first.quarantined) == (2, 0, 0, 0)
        again = writer.write([r("M1", T0, 10.0), r("M1", T0 + STEP, 11.0)], [], [], T0)
        assert (again.inserted, again.duplicates, again.conflicts) == (0, 2, 0)
        clash = writer.write([r("M1", T0, 99.0), r("M1", T0 + 2 * STEP, 12.0)], [], [], T0)
        assert (clash.inserted, clash.duplicates, clash.conflicts, clash.quarantined) == (1, 0, 1, 1)
        # Inside one batch: the first of a key wins, an identical repeat is a duplicate, a different one
        # a conflict.
        inner = writer.write([r("M2", T0, 1.0), r("M2", T0, 1.0), r("M2", T0, 2.0)], [], [], T0)
        assert (inner.inserted, inner.duplicates, inner.conflicts) == (1, 1, 1)
        # A different kind under the same key is a conflict too, not a silent overwrite.
        kind = writer.write([r("M2", T0, 1.0, "interval")], [], [], T0)
        assert (kind.inserted, kind.conflicts) == (0, 1)
        assert writer.quarantine_summary() == {CONFLICT_REASON: 3}
        writer.publish()
    reader = SeriesReader(tmp_path)
    assert reader.raw("M1", T0, T0 + 3 * STEP) == [
        (T0, 10.0, "cumulative", "kWh"),
        (T0 + STEP, 11.0, "cumulative", "kWh"),
        (T0 + 2 * STEP, 12.0, "cumulative", "kWh"),
    ]
    assert reader.quarantine_counts() == {CONFLICT_REASON: 3}
    rows = reader.quarantined(10, reason_prefix="conflicting")
    m1 = next(row for row in rows if row["meter_id"] == "M1")
    assert json.loads(m1["payload"]) | {} == {
        "ts": T0,
        "value": 99.0,
        "type": "cumulative",
        "unit": "kWh",
        "stored_value": 10.0,
    }
    assert m1["topic"] == payloads.reading_topic("M1")


def test_events_are_idempotent(tmp_path: Path) -> None:
    event = MeterEvent("M1", T0, "replacement", 98231.0, 0.0)
    with SeriesWriter(tmp_path) as writer:
        assert writer.write([], [event], [], T0).events == 1
        assert writer.write([], [event], [], T0).events == 0
        changed = writer.write([], [MeterEvent("M1", T0, "replacement", 98231.0, 5.0)], [], T0)
        assert (changed.events, changed.quarantined) == (0, 1)
        writer.publish()
    reader = SeriesReader(tmp_path)
    assert reader.query("SELECT meter_id, ts_ms, event, old_value, new_value FROM meter_events") == [
        ("M1", T0, "replacement", 98231.0, 0.0)
    ]


def test_late_and_out_of_order_readings(tmp_path: Path) -> None:
    reader = SeriesReader(tmp_path)
    with SeriesWriter(tmp_path) as writer:
        writer.write([r("M1", T0 + i * STEP, float(i)) for i in (5, 3, 4, 0)], [], [], T0)
        writer.publish()
        assert reader.last_seen(["M1", "M2"]) == {"M1": T0 + 5 * STEP}
        writer.compact()
        # Late: yesterday, and a gap filled in today after compaction.
        late = writer.write([r("M1", T0 - 86_400_000, -1.0), r("M1", T0 + 2 * STEP, 2.0)], [], [], T0)
        assert late.inserted == 2
        writer.publish()
        assert [row[0] for row in reader.raw("M1", T0 - 2 * 86_400_000, T0 + 10 * STEP)] == [
            T0 - 86_400_000,
            *(T0 + i * STEP for i in (0, 2, 3, 4, 5)),
        ]
        writer.compact()
        assert count(reader) == distinct_keys(reader) == 6
        assert reader.manifest["live"] == []
        assert sorted(reader.manifest["days"]) == ["2026-11-29", "2026-11-30"]
        assert reader.last_seen(["M1"]) == {"M1": T0 + 5 * STEP}


def _month_readings(day: str, meters: int, per_day: int) -> list[Reading]:
    start = date_start_ms(day)
    return [r(f"M{m}", start + i * STEP, float(i)) for m in range(meters) for i in range(per_day)]


def test_exactly_once_across_publish_compact_archive_and_late_writes(tmp_path: Path) -> None:
    days = ["2026-09-30", "2026-10-01", "2026-10-31", "2026-11-29"]
    batch = [x for d in days for x in _month_readings(d, meters=5, per_day=12)]
    total = len(batch)
    reader = SeriesReader(tmp_path)
    with SeriesWriter(tmp_path) as writer:
        assert writer.write(batch, [], [], T0).inserted == total
        writer.publish()
        assert count(reader) == total
        writer.compact()
        assert count(reader) == distinct_keys(reader) == total
        # September and October ended more than 20 days before 2026-11-30: they leave DuckDB.
        assert writer.archive(keep_days=20, now_ms=T0) == ["2026-09", "2026-10"]
        assert writer._scalar("SELECT count(*) FROM readings") == 60
        assert count(reader) == distinct_keys(reader) == total

        # A late reading for archived September, a redelivery of an archived one, a conflicting one.
        sept = date_start_ms("2026-09-30")
        late = [r("M9", sept, 1.0), r("M0", sept, 0.0), r("M1", sept + STEP, 42.0)]
        result = writer.write(late, [], [], T0)
        assert (result.inserted, result.duplicates, result.conflicts) == (1, 1, 1)
        writer.publish()
        assert count(reader) == distinct_keys(reader) == total + 1
        # Redelivered while the late reading is both hot and (after compaction) in Parquet.
        assert writer.write(late[:1], [], [], T0).duplicates == 1
        writer.compact()
        assert count(reader) == distinct_keys(reader) == total + 1
        assert writer.write(late[:1], [], [], T0).duplicates == 1
        writer.archive(keep_days=20, now_ms=T0)
        assert writer._scalar("SELECT count(*) FROM readings") == 60
        # Only Parquet knows it now; still refused.
        assert writer.write(late[:1], [], [], T0).duplicates == 1
        writer.compact()
        assert count(reader) == distinct_keys(reader) == total + 1
        assert reader.raw("M1", sept, sept + 2 * STEP) == [
            (sept, 0.0, "cumulative", "kWh"),
            (sept + STEP, 1.0, "cumulative", "kWh"),
        ]
    # A restarted writer keeps the archive horizon and the sequence.
    with SeriesWriter(tmp_path) as writer:
        assert writer.write(late, [], [], T0).inserted == 0
        writer.compact()
    assert count(reader) == distinct_keys(reader) == total + 1


def test_reader_never_double_counts_while_publishing_and_compacting(tmp_path: Path) -> None:
    """Readers in another thread count while the writer publishes and compacts with no grace period (retired
    files vanish at once): every count must be one of the published totals, never more, never less."""
    published: set[int] = {0}
    errors: list[str] = []
    seen: list[int] = []
    stop = threading.Event()

    def read_loop() -> None:
        reader = SeriesReader(tmp_path)
        try:
            while not stop.is_set():
                n, keys = reader.query("SELECT count(*), count(DISTINCT (meter_id, ts_ms)) FROM readings")[0]
                if n != keys or n not in published:
                    errors.append(f"read {n} rows, {keys} keys; published totals {sorted(published)}")
                seen.append(n)
        except Exception as exc:  # a failure here must fail the test, not die silently in the thread
            errors.append(repr(exc))

    threads = [threading.Thread(target=read_loop) for _ in range(2)]
    with SeriesWriter(tmp_path, retire_grace_s=0) as writer:
        for t in threads:
            t.start()
        total = 0
        for step in range(40):
            ts = T0 - 3 * 86_400_000 + step * 2 * 3_600_000  # spans several local days
            total += writer.write([r(f"M{m}", ts, float(step)) for m in range(200)], [], [], T0).inserted
            published.add(total)  # before publish: a reader may see it as soon as the swap happens
            writer.publish()
            if step % 5 == 4:
                writer.compact()
        writer.compact()
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[:5]
    assert len(seen) > 20 and max(seen) == total == 8000


def test_second_writer_is_refused(tmp_path: Path) -> None:
    with SeriesWriter(tmp_path):
        with pytest.raises(WriterBusyError, match="another series writer"):
            SeriesWriter(tmp_path)
        code = f"from entgraph.telemetry.series_store import SeriesWriter; SeriesWriter({str(tmp_path)!r})"
        done = subprocess.run(
            [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60
        )
        assert done.returncode != 0
        assert "WriterBusyError" in done.stderr and "only one process may write" in done.stderr
        # Readers are never refused.
        assert count(SeriesReader(tmp_path)) == 0
    with SeriesWriter(tmp_path):  # released on close
        pass


def test_replay_of_unknown_meter_messages(tmp_path: Path) -> None:
    single = payloads.encode_reading(T0, 5.0)
    batch = payloads.encode_batch([r("M1", T0, 1.0), r("NEW2", T0, 2.0), r("NEW2", T0 + STEP, 3.0)])
    gateway = payloads.gateway_topic("G1")
    rejections = [
        Rejection(payloads.reading_topic("NEW1"), single, "unknown meter 'NEW1'", None, "NEW1"),
        Rejection(gateway, batch, "unknown meter 'NEW2'", 1, "NEW2"),
        Rejection(gateway, batch, "unknown meter 'NEW2'", 2, "NEW2"),
        Rejection(payloads.reading_topic("NEW3"), single, "unknown meter 'NEW3'", None, "NEW3"),
        Rejection("entgraph/x", b"junk", "unknown topic 'entgraph/x'"),
    ]
    with SeriesWriter(tmp_path) as writer:
        stored = writer.write([r("M1", T0, 1.0)], [], rejections, T0)
        assert stored.quarantined == 5
        assert writer.quarantine_summary()["unknown meter 'NEW2'"] == 2
        known = {"M1", "NEW1", "NEW2"}
        assert writer.replay_quarantine(known.__contains__, T0) == 3  # NEW1, and NEW2's two readings
        assert writer.replay_quarantine(known.__contains__, T0) == 0  # replayed rows are not taken twice
        assert writer.quarantine_summary() == {"unknown meter 'NEW3'": 1, "unknown topic 'entgraph/x'": 1}
        writer.publish()
    reader = SeriesReader(tmp_path)
    assert count(reader) == distinct_keys(reader) == 4
    assert reader.last_seen(["NEW1", "NEW2", "NEW3"]) == {"NEW1": T0, "NEW2": T0 + STEP}
    assert reader.quarantine_counts() == {"unknown meter 'NEW3'": 1, "unknown topic 'entgraph/x'": 1}
    audit = reader.quarantined(10, reason_prefix="unknown meter")
    assert len(audit) == 4
    assert sorted(row["replayed_ms"] is not None for row in audit) == [False, True, True, True]


def test_a_gateway_batch_of_several_unknown_meters_loses_none_of_them(tmp_path: Path) -> None:
    # The ingester keeps one row per message, naming its first unknown meter; meters of the batch
    # registered in any order, one at a time, each get all their readings, and none is left pending.
    batch = payloads.encode_batch(
        [r("M1", T0, 1.0), r("NEW1", T0, 2.0), r("NEW2", T0, 3.0), r("NEW2", T0 + STEP, 4.0)]
    )
    gateway = payloads.gateway_topic("G1")
    quarantined = payloads.unknown_meters(gateway, batch, ["NEW1", "NEW2"])
    assert quarantined.meter_id == "NEW1" and quarantined.reason == "unknown meter: NEW1, NEW2"
    with SeriesWriter(tmp_path) as writer:
        writer.write([r("M1", T0, 1.0)], [], [quarantined], T0)
        # NEW2 first: the row's own meter (NEW1) is still unknown, but the message names NEW2
        known = {"M1", "NEW2"}
        assert writer.replay_quarantine(known.__contains__, T0, newly=["NEW2"]) == 2
        assert writer.quarantine_summary() == {"unknown meter: NEW1": 1}  # requeued for NEW1 alone
        assert writer.replay_quarantine(known.__contains__, T0, newly=["NEW2"]) == 0  # nothing twice
        known.add("NEW1")
        assert writer.replay_quarantine(known.__contains__, T0, newly=["NEW1"]) == 1
        assert writer.quarantine_summary() == {}
        writer.publish()
    reader = SeriesReader(tmp_path)
    assert count(reader) == distinct_keys(reader) == 4  # M1 once (stored on arrival), NEW1, NEW2 twice
    assert reader.last_seen(["NEW1", "NEW2"]) == {"NEW1": T0, "NEW2": T0 + STEP}


CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from entgraph.telemetry.payloads import Reading
    from entgraph.telemetry.series_store import SeriesWriter

    writer = SeriesWriter(Path(sys.argv[1]))
    t0 = int(sys.argv[2])
    for b in range(1000):
        batch = [Reading(f"M{m}", t0 + b * 300_000, float(b), "cumulative", "kWh") for m in range(100)]
        writer.write(batch, [], [], t0)
        print(b, flush=True)  # the ack: the ingester would ack the MQTT messages now
    """
)


def test_acknowledged_writes_survive_a_killed_writer(tmp_path: Path) -> None:
    """SIGKILL the writing process right after a write returned: everything acknowledged is there on reopen
    (DuckDB fsyncs its WAL on COMMIT, and the reopened writer replays it)."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path), str(T0)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert child.stdout is not None
    acked = -1
    for line in child.stdout:
        acked = int(line)
        if acked >= 30:
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    # It went on writing until the kill landed: every ack it printed before dying counts.
    for line in child.stdout:
        acked = int(line)
    assert acked >= 30
    with SeriesWriter(tmp_path) as writer:  # the dead process's file lock went with it
        stored = writer._scalar("SELECT count(*) FROM readings")
        # Everything acknowledged is stored; at most the batch in flight beyond it, whole or not at all.
        assert stored in ((acked + 1) * 100, (acked + 2) * 100)
        writer.publish()
    assert count(SeriesReader(tmp_path)) == stored


def test_writes_go_on_while_another_thread_compacts(tmp_path: Path) -> None:
    """compact() holds the write lock only to publish and to swap the manifest; writes in between land in
    live parts above the compacted seq, so nothing is lost or listed twice."""
    with SeriesWriter(tmp_path, retire_grace_s=0) as writer:
        total = 0
        stop = threading.Event()
        failures: list[str] = []

        def compact_loop() -> None:
            try:
                while not stop.is_set():
                    writer.compact()
            except Exception as exc:
                failures.append(repr(exc))

        thread = threading.Thread(target=compact_loop)
        thread.start()
        for step in range(60):
            ts = T0 - 2 * 86_400_000 + step * 3_600_000
            total += writer.write([r(f"M{m}", ts, float(step)) for m in range(100)], [], [], T0).inserted
            if step % 7 == 0:
                writer.publish()
        stop.set()
        thread.join()
        writer.compact()
    assert not failures, failures
    reader = SeriesReader(tmp_path)
    assert count(reader) == distinct_keys(reader) == total == 6000
    assert reader.manifest["live"] == []


def test_consumption_functions_run_on_the_reader_views(tmp_path: Path) -> None:
    """The relation contract: consumption.py's functions take the reader's connection and view names."""
    with SeriesWriter(tmp_path) as writer:
        writer.write([r("M1", T0 + i * STEP, 100.0 + i) for i in range(6)], [], [], T0)
        writer.publish()
    reader = SeriesReader(tmp_path)
    rows = reader.consumption("intervals", meter_ids=["M1"])
    # six register readings a kWh apart: five good five-minute intervals of 1 kWh
    assert [(r["start_ms"], r["ts_ms"], r["consumption"], r["quality"]) for r in rows] == [
        (T0 + i * STEP, T0 + (i + 1) * STEP, 1.0, "good") for i in range(5)
    ]


def test_the_reader_unions_the_shards_of_several_ingesters_and_keeps_one_copy(tmp_path: Path) -> None:
    root = tmp_path / "series"
    main = [r("M1", T0 + i * STEP, float(i)) for i in range(10)]
    # the second ingester of the shared group got other messages, and one re-sent copy of M1's last reading
    shard = [r("M2", T0 + i * STEP, float(i)) for i in range(5)] + [main[-1]]
    with SeriesWriter(root) as first, SeriesWriter(root / SHARDS / "ingester-2") as second:
        first.write(main)
        second.write(shard)
        first.publish()
        with SeriesReader(root) as reader:
            assert count(reader) == 10  # the shard has published nothing yet
            second.publish()
            assert count(reader) == 15 == distinct_keys(reader)  # 10 + 5, the re-sent copy once
            assert count(reader, "meter_id = 'M2'") == 5
            second.write([r("M2", T0 + 9 * STEP, 9.0)])
            second.publish()
            assert count(reader, "meter_id = 'M2'") == 6  # a shard's new publish is seen
