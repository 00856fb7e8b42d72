"""The ingester against a real mosquitto: every published reading stored exactly once, through duplicate
deliveries, an ingester killed between its write and its acks, an ingester offline while 100k readings
queue, and a broker killed mid-stream."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from entgraph.telemetry import profiles
from entgraph.telemetry.broker import MosquittoBroker
from entgraph.telemetry.ingester import Ingester, IngestSettings
from entgraph.telemetry.payloads import (
    MeterEvent,
    Reading,
    encode_batch,
    encode_event,
    encode_reading,
    event_topic,
    gateway_topic,
    reading_topic,
)
from entgraph.telemetry.series_store import SeriesReader, SeriesWriter
from entgraph.telemetry.simulator import Simulator

T0 = 1_790_000_000_000  # 2026-09-21, well in the past: the ingester refuses readings from the future
STEP = 300_000


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


class Publisher:
    """A plain QoS 1 publisher, waiting for every PUBACK."""

    def __init__(self, broker: MosquittoBroker, client_id: str) -> None:
        info = broker.ensure_running()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.connect(info.host, info.port)
        self.client.loop_start()

    def publish(self, messages: list[tuple[str, bytes]]) -> None:
        for at in range(0, len(messages), 500):  # a window: paho refuses to queue without limit
            infos = [self.client.publish(topic, payload, qos=1) for topic, payload in messages[at : at + 500]]
            for info in infos:
                info.wait_for_publish(60)
                assert info.is_published()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextmanager
def publisher(broker: MosquittoBroker, client_id: str = "test-pub") -> Iterator[Publisher]:
    pub = Publisher(broker, client_id)
    try:
        yield pub
    finally:
        pub.close()


@contextmanager
def running_ingester(
    broker: MosquittoBroker, series: Path, known: set[str], client_id: str = "ing-1", **settings: object
) -> Iterator[tuple[Ingester, threading.Event]]:
    info = broker.ensure_running()
    cfg = IngestSettings(info.host, info.port, client_id=client_id, group=None, batch_wait_s=0.02,
                         reconnect_min_s=1, reconnect_max_s=2, **settings)  # type: ignore[arg-type]  # fmt: skip
    stop = threading.Event()
    with SeriesWriter(series) as writer:
        ingester = Ingester(cfg, writer, lambda: set(known))
        thread = threading.Thread(target=ingester.run, args=(stop,), daemon=True)
        thread.start()
        wait_until(ingester.connected.is_set, 30, "the ingester to connect")
        try:
            yield ingester, stop
        finally:
            stop.set()
            thread.join(60)
            assert not thread.is_alive()


def stored(series: Path) -> list[tuple[str, int, float]]:
    with SeriesReader(series) as reader:
        return [
            (m, int(t), float(v)) for m, t, v in reader.query("SELECT meter_id, ts_ms, value FROM readings")
        ]


def redelivered(broker: MosquittoBroker, client_id: str) -> int:
    """Messages the broker still holds for ``client_id``'s session (unacknowledged or queued).

    The session is resumed, subscribed to a topic of its own, and a sentinel is published there: the
    broker queues a session's messages in order, so once the sentinel arrives everything held before it
    has arrived too (no fixed wait that a slow broker would turn into a false zero; no other session
    gets the sentinel)."""
    info = broker.ensure_running()
    own = f"entgraph-test/sentinel/{client_id}"
    got: list[str] = []
    subscribed, sentinel = threading.Event(), threading.Event()

    def on_message(_client: Any, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic == own:
            sentinel.set()
        else:
            got.append(message.topic)

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe(own, qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    client.connect(info.host, info.port, clean_start=False, properties=props)
    client.loop_start()
    try:
        assert subscribed.wait(10), "the session was not resumed"
        with publisher(broker, f"{client_id}-sentinel") as pub:
            pub.publish([(own, b"sentinel")])
        assert sentinel.wait(30), "the sentinel never arrived"
    finally:
        client.disconnect()
        client.loop_stop()
    return len(got)


def subscribe_session(broker: MosquittoBroker, client_id: str, topics: list[str]) -> None:
    """Create a persistent session subscribed to ``topics``, then leave: the broker queues for it."""
    info = broker.ensure_running()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    client.connect(info.host, info.port, clean_start=False, properties=props)
    client.loop_start()
    done = threading.Event()
    client.on_subscribe = lambda *a: done.set()
    client.subscribe([(t, mqtt.SubscribeOptions(qos=1)) for t in topics])
    assert done.wait(10)
    client.disconnect()
    client.loop_stop()


TOPICS = ["entgraph/meters/+/readings", "entgraph/gateways/+/readings", "entgraph/meters/+/events"]


def test_single_readings_batches_events_and_the_quarantine(
    mqtt_broker: MosquittoBroker, tmp_path: Path
) -> None:
    series = tmp_path / "series"
    singles = [(reading_topic("M1"), encode_reading(T0 + i * STEP, 100.0 + i)) for i in range(50)]
    batch = [Reading("M2", T0 + i * STEP, 5.0 + i, "cumulative", "kWh") for i in range(300)]
    bad = [
        (reading_topic("M1"), b"not json"),
        (reading_topic("M1"), json.dumps({"ts": T0, "value": "high"}).encode()),
        (reading_topic("M-UNKNOWN"), encode_reading(T0, 1.0)),
    ]
    event = MeterEvent("M1", T0 + 10 * STEP + 1, "replacement", 109.0, 0.0)
    with running_ingester(mqtt_broker, series, {"M1", "M2"}, client_id="ing-basic") as (ingester, _), \
            publisher(mqtt_broker, "pub-basic") as pub:  # fmt: skip
        pub.publish([*singles, (gateway_topic("G1"), encode_batch(batch)), *bad])
        pub.publish([(event_topic("M1"), encode_event(event))])
        wait_until(lambda: ingester.stats.messages >= len(singles) + 1 + len(bad) + 1, 30, "every message")
    rows = stored(series)
    assert len(rows) == 350 and len({(m, t) for m, t, _ in rows}) == 350
    assert redelivered(mqtt_broker, "ing-basic") == 0  # every ack reached the broker
    assert sorted(v for m, _, v in rows if m == "M2") == [5.0 + i for i in range(300)]
    stats = ingester.stats
    assert stats.acked == stats.messages == len(singles) + len(bad) + 2 and stats.ack_skipped == 0
    with SeriesReader(series) as reader:
        reasons = reader.quarantine_counts()
        events = reader.query("SELECT meter_id, event, old_value FROM meter_events")
    assert events == [("M1", "replacement", 109.0)]
    assert sum(reasons.values()) == 3
    assert any(r.startswith("payload is not JSON") for r in reasons)
    assert any(r.startswith("unknown meter: M-UNKNOWN") for r in reasons)
    assert any("value must be a number" in r for r in reasons)


def test_duplicate_deliveries_are_stored_once(mqtt_broker: MosquittoBroker, tmp_path: Path) -> None:
    series = tmp_path / "series"
    messages = [(reading_topic("D1"), encode_reading(T0 + i * STEP, float(i))) for i in range(200)]
    with running_ingester(mqtt_broker, series, {"D1"}, client_id="ing-dup") as (ingester, _), \
            publisher(mqtt_broker, "pub-dup") as pub:  # fmt: skip
        pub.publish(messages)
        pub.publish(messages[50:150])  # a terminal re-sending what it was not sure got through
        wait_until(lambda: ingester.stats.messages >= 300, 30, "all 300 messages")
    assert len(stored(series)) == 200
    assert ingester.stats.duplicates == 100 and ingester.stats.stored == 200


def test_unknown_meters_are_replayed_once_registered(mqtt_broker: MosquittoBroker, tmp_path: Path) -> None:
    series = tmp_path / "series"
    known = {"K1"}
    messages = [(reading_topic("LATE"), encode_reading(T0 + i * STEP, float(i))) for i in range(20)]
    with running_ingester(mqtt_broker, series, known, client_id="ing-replay", refresh_meters_every_s=0.2) as (
        ingester, _), publisher(mqtt_broker, "pub-replay") as pub:  # fmt: skip
        pub.publish(messages)
        wait_until(lambda: ingester.stats.quarantined >= 20, 30, "the unknown meter's messages in quarantine")
        known.add("LATE")  # a steward registers the meter
        wait_until(lambda: ingester.stats.replayed >= 20, 30, "the replay")
    assert sorted(t for _, t, _ in stored(series)) == [T0 + i * STEP for i in range(20)]
    with SeriesReader(series) as reader:
        assert reader.quarantine_counts() == {}  # replayed rows are kept for audit, no longer pending
        assert len(reader.quarantined(100)) == 20


def test_a_running_ingester_moves_old_months_out_of_its_hot_store(
    mqtt_broker: MosquittoBroker, tmp_path: Path
) -> None:
    # September 2026 ended more than 20 days ago: the ingester's maintenance archives it (the DuckDB file
    # keeps only recent readings however long it runs), and readers still see it all, in Parquet.
    series = tmp_path / "series"
    messages = [(reading_topic("A1"), encode_reading(T0 + i * STEP, float(i))) for i in range(30)]
    settings = {"client_id": "ing-archive", "compact_every_s": 0.2, "hot_days": 20, "publish_every_s": 0.1}
    with running_ingester(mqtt_broker, series, {"A1"}, **settings) as (ingester, _), \
            publisher(mqtt_broker, "pub-archive") as pub:  # fmt: skip
        pub.publish(messages)
        wait_until(lambda: ingester.stats.messages >= 30, 30, "the readings")
        wait_until(lambda: ingester.sink.hot_count() == 0, 30, "September to leave DuckDB")
    assert sorted(t for _, t, _ in stored(series)) == [T0 + i * STEP for i in range(30)]


# --- faults ------------------------------------------------------------------------------------------

CHILD = """
import os, sys, threading, time
from pathlib import Path
from entgraph.telemetry.ingester import Ingester, IngestSettings
from entgraph.telemetry.series_store import SeriesWriter
port, series, marker, kill_after = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
def after_write(batch):
    if kill_after and batch >= kill_after:
        marker.write_text(str(batch))  # the batch is durable; its acks are not sent: the parent kills us
        time.sleep(600)
cfg = IngestSettings("127.0.0.1", port, client_id="ing-crash", group=None, batch_max=500, batch_wait_s=0.02)
with SeriesWriter(series) as writer:
    Ingester(cfg, writer, lambda: {"C1"}, after_write=after_write).run(threading.Event())
"""


def test_an_ingester_killed_between_write_and_ack_loses_and_doubles_nothing(
    mqtt_broker: MosquittoBroker, tmp_path: Path
) -> None:
    series, marker = tmp_path / "series", tmp_path / "killed-at"
    port = mqtt_broker.ensure_running().port
    subscribe_session(mqtt_broker, "ing-crash", TOPICS)  # the session exists before anything is published
    messages = [(reading_topic("C1"), encode_reading(T0 + i * STEP, float(i))) for i in range(3000)]
    with publisher(mqtt_broker, "pub-crash") as pub:
        pub.publish(messages)
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(port), str(series), str(marker), "2"])
    try:
        wait_until(marker.exists, 60, "the child to write its second batch")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    before = len(stored_after_crash(series))
    assert 0 < before < 3000  # what was written before the kill; the last batch's acks never left
    with running_ingester(mqtt_broker, series, {"C1"}, client_id="ing-crash") as (ingester, _):
        wait_until(lambda: before + ingester.stats.stored >= 3000, 60, "the unacked messages again")
    rows = stored(series)
    assert sorted(t for _, t, _ in rows) == [T0 + i * STEP for i in range(3000)]
    assert ingester.stats.duplicates >= 1  # the killed batch came again and was recognised


def stored_after_crash(series: Path) -> list[tuple[str, int, float]]:
    """What the killed writer made durable (its DuckDB file, reopened by a new writer and published)."""
    with SeriesWriter(series) as writer:
        writer.publish()
    return stored(series)


@pytest.mark.slow
def test_an_ingester_offline_while_100k_readings_queue_gets_them_all(
    private_broker: MosquittoBroker, tmp_path: Path
) -> None:
    series = tmp_path / "series"
    subscribe_session(private_broker, "ing-offline", TOPICS)
    meters = [f"Q{k:03d}" for k in range(100)]
    messages = [
        (reading_topic(m), encode_reading(T0 + i * STEP, float(i))) for i in range(1000) for m in meters
    ]
    with publisher(private_broker, "pub-offline") as pub:
        pub.publish(messages)  # 100,000 QoS 1 messages queued for an absent session
    with running_ingester(private_broker, series, set(meters), client_id="ing-offline") as (ingester, _):
        wait_until(lambda: ingester.stats.messages >= 100_000, 240, "the queued 100k messages")
    assert len(stored(series)) == 100_000
    assert ingester.stats.duplicates == 0 and ingester.stats.quarantined == 0


@pytest.mark.parametrize("kill", ["SIGKILL", "SIGTERM"])
def test_a_broker_killed_mid_stream_and_restarted_loses_and_doubles_nothing(
    private_broker: MosquittoBroker, tmp_path: Path, kill: str
) -> None:
    series = tmp_path / "series"
    fleet = profiles.make_fleet(
        [(f"B{k:02d}", "electricity") for k in range(20)], seed=3, window=(T0, T0 + 86_400_000)
    )
    fleet = [p for p in fleet if p.dead_at is None]  # a dead meter is the simulator's other story
    start, end = T0, T0 + 2 * 86_400_000
    expected = {(r.meter_id, r.ts_ms) for p in fleet for r in profiles.readings(p, start, end)[0]}
    info = private_broker.ensure_running()
    with running_ingester(private_broker, series, {p.meter_id for p in fleet}, client_id="ing-bk") as (
        ingester,
        _,
    ):
        sim = Simulator(
            info.host, info.port, fleet, client_id="sim-bk", resend_window_s=6 * 3600, max_inflight=200
        )
        done = threading.Event()

        def publish() -> None:
            with sim:
                sim.backfill(start, end)
            done.set()

        thread = threading.Thread(target=publish, daemon=True)
        thread.start()
        wait_until(lambda: ingester.stats.stored > len(expected) // 4, 120, "a quarter of the readings")
        if kill == "SIGKILL":
            private_broker.kill()
        else:
            private_broker.stop()
        time.sleep(1.0)
        private_broker.ensure_running()  # same port: both clients reconnect by themselves
        assert private_broker.ensure_running().port == info.port
        wait_until(done.is_set, 240, "the simulator to finish (and resend after the outage)")
        wait_until(lambda: ingester.stats.stored >= len(expected), 120, "every reading stored")
        assert ingester.stats.disconnects >= 1
    rows = stored(series)
    assert {(m, t) for m, t, _ in rows} == expected
    assert len(rows) == len(expected)
