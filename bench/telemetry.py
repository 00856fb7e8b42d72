"""Telemetry figures in one run: receive rates, backfill, series queries, shared subscriptions.

Receive rates against a bare subscriber, a day's backfill, series query latency, and two ingesters
sharing a subscription.

    python -m bench.telemetry [--single 50000] [--batch-meters 1000] [--backfill-meters 10000] [--quick]

1. **Receive rate.** A backlog is queued in the broker for two persistent sessions at once (the same
   messages for each), then drained twice: by a bare paho subscriber that only counts (QoS 1, acks by
   paho) and by the ingester (parse, write durably, ack). Same broker, same messages, same run; the
   ratio is the figure. Once with one reading per message, once with gateway batches of 500.
2. **Backfill.** One day of ``--backfill-meters`` meters at 5-minute cadence (10k: 2.88M readings)
   published by the simulator (a separate process, gateway batches of 500) while the ingester runs:
   wall time from first publish to the last reading stored.
3. **Series queries** through the API's reader (DuckDB over the published Parquet): one meter-year by
   hour and by day, and one town-month (200 meters, a month of 5-minute readings) per enterprise by day.
4. **Two ingesters** (separate processes, ``$share/bench/...``, each its own store shard) drain a
   batch backlog; against one ingester draining the same backlog.

The broker, stores and processes live under ``--home`` (a temporary directory by default) and are
stopped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from entgraph.telemetry import profiles
from entgraph.telemetry.broker import MosquittoBroker
from entgraph.telemetry.ingester import Ingester, IngestSettings
from entgraph.telemetry.payloads import SUBSCRIPTIONS
from entgraph.telemetry.series_store import SeriesReader, SeriesWriter
from entgraph.telemetry.simulator import Simulator

DAY = 86_400_000
T0 = 1_788_192_000_000  # 2026-09-01T00:00+08:00: in the past, so no reading is refused as future


def fleet(
    n: int, kind: str = "electricity", window: tuple[int, int] | None = None
) -> list[profiles.MeterProfile]:
    made = profiles.make_fleet(
        [(f"M{i:06d}", kind) for i in range(n)], seed=7, window=window or (T0, T0 + DAY)
    )
    return [p for p in made if p.dead_at is None and p.swap_at is None]  # every meter reports every tick


def make_session(host: str, port: int, client_id: str, topics: list[str]) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    client.connect(host, port, clean_start=False, properties=props)
    done = threading.Event()
    client.on_subscribe = lambda *a: done.set()
    client.loop_start()
    client.subscribe([(t, mqtt.SubscribeOptions(qos=1)) for t in topics])
    done.wait(10)
    client.disconnect()
    client.loop_stop()


def publish_backlog(
    host: str, port: int, meters: list[profiles.MeterProfile], span: tuple[int, int], batch: int
) -> tuple[int, int]:
    """Publish the meters' readings over ``span``; (readings, messages) once every PUBACK is in."""
    with Simulator(host, port, meters, batch=batch, client_id=f"bench-pub-{batch}", max_inflight=1000) as sim:
        readings = sim.backfill(*span)
        return readings, sim.stats.published


def bare_drain(host: str, port: int, client_id: str, messages: int) -> float:
    """Seconds a counting-only subscriber takes to receive ``messages`` queued messages."""
    got = [0]
    done = threading.Event()

    def on_message(*_: Any) -> None:
        got[0] += 1
        if got[0] >= messages:
            done.set()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.on_message = on_message
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    props.ReceiveMaximum = 65535
    started = time.perf_counter()
    client.connect(host, port, clean_start=False, properties=props)
    client.loop_start()
    if not done.wait(1800):
        raise RuntimeError(f"bare subscriber got {got[0]} of {messages}")
    took = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return took


def ingester_drain(
    host: str,
    port: int,
    client_id: str,
    root: Path,
    known: set[str],
    done: Callable[[Any], bool],
    group: str | None = None,
) -> tuple[float, Any]:
    cfg = IngestSettings(host, port, client_id=client_id, group=group, batch_max=5000, receive_maximum=10000)
    stop = threading.Event()
    with SeriesWriter(root) as writer:
        ingester = Ingester(cfg, writer, lambda: known)
        started = time.perf_counter()
        thread = threading.Thread(target=ingester.run, args=(stop,), daemon=True)
        thread.start()
        while not done(ingester.stats):
            if not thread.is_alive():
                raise RuntimeError("the ingester stopped")
            time.sleep(0.01)
        took = time.perf_counter() - started
        stop.set()
        thread.join(120)
    return took, ingester.stats


def receive_rates(
    broker: MosquittoBroker, home: Path, mode: str, meters: int, span_ms: int, rounds: int = 3
) -> dict[str, Any]:
    """Median over ``rounds`` of: the same backlog queued for both sessions, then drained by each, the
    order alternating between rounds (the machine's noise otherwise decides which looks faster)."""
    info = broker.ensure_running()
    batch = 0 if mode == "single" else 500
    topics = list(SUBSCRIPTIONS)
    make_session(info.host, info.port, f"bare-{mode}", topics)
    make_session(info.host, info.port, f"ing-{mode}", topics)
    ms = fleet(meters)
    bare, ingest = [], []
    for k in range(rounds):
        span = (T0 + k * span_ms, T0 + (k + 1) * span_ms)  # new readings each round: none is a duplicate
        readings, messages = publish_backlog(info.host, info.port, ms, span, batch)

        def drain_bare(messages: int = messages) -> None:
            bare.append(bare_drain(info.host, info.port, f"bare-{mode}", messages))

        def drain_ingester(messages: int = messages, readings: int = readings) -> None:
            known = {p.meter_id for p in ms}
            root = home / f"series-{mode}"
            took, stats = ingester_drain(
                info.host, info.port, f"ing-{mode}", root, known, lambda st: st.messages >= messages
            )
            assert stats.stored == readings, (stats.stored, readings)
            ingest.append(took)

        for drain in (drain_bare, drain_ingester) if k % 2 == 0 else (drain_ingester, drain_bare):
            drain()
    bare_s, ing_s = statistics.median(bare), statistics.median(ingest)
    return {
        "mode": mode,
        "rounds": rounds,
        "messages": messages,
        "readings": readings,
        "bare_msg_s": messages / bare_s,
        "bare_readings_s": readings / bare_s,
        "ingester_msg_s": messages / ing_s,
        "ingester_readings_s": readings / ing_s,
        "ratio": bare_s / ing_s,
        "ratios": [b / i for b, i in zip(bare, ingest, strict=True)],
    }


def _publish_process(host: str, port: int, meters: int, start: int, end: int) -> None:
    publish_backlog(host, port, fleet(meters, window=(start, end)), (start, end), 500)


def backfill(broker: MosquittoBroker, home: Path, meters: int) -> dict[str, Any]:
    info = broker.ensure_running()
    ms = fleet(meters)
    expected = sum(len(profiles.readings(p, T0 + DAY, T0 + 2 * DAY)[0]) for p in ms)
    make_session(info.host, info.port, "ing-backfill", list(SUBSCRIPTIONS))
    ctx = mp.get_context("spawn")
    started = time.perf_counter()
    pub = ctx.Process(target=_publish_process, args=(info.host, info.port, meters, T0 + DAY, T0 + 2 * DAY))
    pub.start()
    took, stats = ingester_drain(
        info.host,
        info.port,
        "ing-backfill",
        home / "series-backfill",
        {p.meter_id for p in fleet(meters, window=(T0 + DAY, T0 + 2 * DAY))},
        lambda st: st.stored >= expected,
    )
    pub.join(600)
    return {
        "meters": meters,
        "readings": expected,
        "seconds": time.perf_counter() - started,
        "ingest_seconds": took,
        "readings_s": expected / took,
        "stored": stats.stored,
    }


def query_latency(home: Path, town_meters: int) -> dict[str, Any]:
    """A meter-year and a town-month written straight into a store, then read through the reader."""
    root = home / "series-queries"
    year = [profiles.readings(p, T0 - 365 * DAY, T0)[0] for p in fleet(1, window=(T0 - 365 * DAY, T0))]
    town = fleet(town_meters, window=(T0 - 30 * DAY, T0))
    with SeriesWriter(root) as writer:
        for rs in year:
            for i in range(0, len(rs), 10_000):
                writer.write(rs[i : i + 10_000])
        for p in town:
            writer.write(profiles.readings(p, T0 - 30 * DAY, T0)[0])
        writer.publish()
        writer.compact()
    meter = year[0][0].meter_id
    owners = [(p.meter_id, f"E{i // 2:04d}") for i, p in enumerate(town)]  # 一户多表: two meters each
    out: dict[str, Any] = {"meter_year_readings": len(year[0]), "town_month_readings": 30 * 288 * len(town)}
    with SeriesReader(root) as reader:
        con = reader.connection()
        con.execute(
            "CREATE TEMP TABLE owners AS SELECT * FROM (VALUES "
            + ",".join(f"('{m}', '{e}')" for m, e in owners)
            + ") t(meter_id, enterprise_id)"
        )

        def timed(fn: Callable[[], Any], runs: int = 5) -> float:
            fn()  # warm: the first scan opens the files
            samples = []
            for _ in range(runs):
                t = time.perf_counter()
                fn()
                samples.append(time.perf_counter() - t)
            return statistics.median(samples) * 1000

        out["meter_year_hour_ms"] = timed(
            lambda: reader.consumption(
                "aggregate", interval="hour", meter_ids=[meter], start_ms=T0 - 365 * DAY, end_ms=T0
            )
        )
        out["meter_year_day_ms"] = timed(
            lambda: reader.consumption(
                "aggregate", interval="day", meter_ids=[meter], start_ms=T0 - 365 * DAY, end_ms=T0
            )
        )
        from entgraph.telemetry import consumption

        out["town_month_by_enterprise_day_ms"] = timed(
            lambda: consumption.aggregate(
                con, interval="day", owners="owners", start_ms=T0 - 30 * DAY, end_ms=T0
            ).fetchall(),
            runs=3,
        )
        out["town_month_meter_month_ms"] = timed(
            lambda: reader.consumption(
                "monthly_totals", meter_ids=[p.meter_id for p in town], start_ms=T0 - 30 * DAY, end_ms=T0
            ),
            runs=3,
        )
    return out


INGEST_CHILD = """
import sys, threading, time, json
from pathlib import Path
from entgraph.telemetry.ingester import Ingester, IngestSettings
from entgraph.telemetry.series_store import SeriesWriter
port, root, client, expected_file = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
group = sys.argv[5]
meters = set(json.loads(expected_file.read_text()))
cfg = IngestSettings("127.0.0.1", port, client_id=client, group=group, batch_max=5000,
                     receive_maximum=10000)
stop = threading.Event()
with SeriesWriter(root) as w:
    ing = Ingester(cfg, w, lambda: meters)
    t = threading.Thread(target=ing.run, args=(stop,), daemon=True); t.start()
    status = root.parent / (client + ".json")
    while True:
        status.write_text(json.dumps({"stored": ing.stats.stored, "messages": ing.stats.messages,
                                      "first": ing.stats.last_write_at}))
        if Path(str(status) + ".stop").exists():
            break
        time.sleep(0.02)
    stop.set(); t.join(60)
"""


def _stored_by(home: Path, names: list[str]) -> int:
    """Readings the ingester processes ``names`` report stored (their status files)."""
    found = 0
    for name in names:
        with contextlib.suppress(FileNotFoundError, json.JSONDecodeError, KeyError):
            found += json.loads((home / name / f"{name}.json").read_text())["stored"]
    return found


def two_ingesters(broker: MosquittoBroker, home: Path, meters: int, span_ms: int) -> dict[str, Any]:
    info = broker.ensure_running()
    ms = fleet(meters)
    home.mkdir(parents=True, exist_ok=True)
    ids = home / "meters.json"
    ids.write_text(json.dumps([p.meter_id for p in ms]))
    result: dict[str, Any] = {}
    for n in (1, 2):
        names = [f"shard-{n}-{k}" for k in range(n)]
        for name in names:  # the group's sessions exist before the backlog, so it is queued for them
            # a group per run: mosquitto keeps dealing a group's messages to members that went offline
            make_session(info.host, info.port, name, [f"$share/bench{n}/{t}" for t in SUBSCRIPTIONS])
        readings, _ = publish_backlog(
            info.host, info.port, ms, (T0 + n * span_ms, T0 + (n + 1) * span_ms), 500
        )
        started = time.perf_counter()
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    INGEST_CHILD,
                    str(info.port),
                    str(home / name / "series"),
                    name,
                    str(ids),
                    f"bench{n}",
                ]
            )
            for name in names
        ]

        (home / names[0]).mkdir(parents=True, exist_ok=True)
        while _stored_by(home, names) < readings:
            if any(p.poll() is not None for p in procs):
                raise RuntimeError("an ingester process died")
            time.sleep(0.05)
        took = time.perf_counter() - started
        for name in names:
            Path(str(home / name / f"{name}.json") + ".stop").write_text("")
        for p in procs:
            p.wait(120)
        result[f"{n}_ingester_readings_s"] = readings / took
        result["readings"] = readings
    result["speedup"] = result["2_ingester_readings_s"] / result["1_ingester_readings_s"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--single", type=int, default=50_000, help="single-reading messages in the backlog")
    parser.add_argument(
        "--batch-meters", type=int, default=1000, help="meters of the batch backlog (one day)"
    )
    parser.add_argument("--backfill-meters", type=int, default=10_000)
    parser.add_argument("--town-meters", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--only", default="receive,backfill,queries,shared")
    args = parser.parse_args()
    if args.quick:
        args.single, args.batch_meters, args.backfill_meters, args.town_meters = 5000, 200, 500, 20
    home = args.home or Path(tempfile.mkdtemp(prefix="entgraph-bench-telemetry-"))
    broker = MosquittoBroker(home)
    parts = set(args.only.split(","))
    out: dict[str, Any] = {}
    try:
        broker.ensure_running()
        if "receive" in parts:
            # single: 100 meters for as many 5-minute ticks as make --single readings
            out["single"] = receive_rates(broker, home, "single", 100, args.single // 100 * 300_000)
            out["batch"] = receive_rates(broker, home, "batch", args.batch_meters, DAY)
        if "backfill" in parts:
            out["backfill"] = backfill(broker, home, args.backfill_meters)
        if "queries" in parts:
            out["queries"] = query_latency(home, args.town_meters)
        if "shared" in parts:
            out["shared"] = two_ingesters(broker, home / "shared", args.batch_meters, DAY)
    finally:
        broker.stop()
        if args.home is None:
            shutil.rmtree(home, ignore_errors=True)
    print(json.dumps(out, indent=1))
    report(out)


def report(out: dict[str, Any]) -> None:
    if "single" in out:
        print(
            "\n| messages | bare subscriber msg/s | ingester msg/s | ingester readings/s (durable) "
            "| ingester/bare |"
        )
        print("|---|---:|---:|---:|---:|")
        for key in ("single", "batch"):
            r = out[key]
            label = "1 reading each" if key == "single" else "gateway batches of 500"
            print(
                f"| {label} ({r['messages']:,}, median of {r['rounds']}) | {r['bare_msg_s']:,.0f} | "
                f"{r['ingester_msg_s']:,.0f} | {r['ingester_readings_s']:,.0f} | {r['ratio']:.2f} |"
            )
    if "backfill" in out:
        b = out["backfill"]
        print(
            f"\nbackfill: {b['readings']:,} readings of {b['meters']:,} meters in {b['seconds']:.0f} s "
            f"({b['readings_s']:,.0f} readings/s stored)"
        )
    if "queries" in out:
        q = out["queries"]
        print(
            f"\nmeter-year ({q['meter_year_readings']:,} readings): by hour {q['meter_year_hour_ms']:.0f} ms,"
            " "
            f"by day {q['meter_year_day_ms']:.0f} ms; town-month ({q['town_month_readings']:,} readings): "
            "per enterprise "
            f"by day {q['town_month_by_enterprise_day_ms']:.0f} ms, monthly totals "
            f"{q['town_month_meter_month_ms']:.0f} ms"
        )
    if "shared" in out:
        s = out["shared"]
        print(
            f"\nshared subscription: 1 ingester {s['1_ingester_readings_s']:,.0f} readings/s, 2 ingesters "
            f"{s['2_ingester_readings_s']:,.0f} readings/s ({s['speedup']:.2f}x)"
        )


if __name__ == "__main__":
    main()
