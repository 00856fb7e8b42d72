"""The managed mosquitto: lifecycle, fixed port, and the config that keeps QoS 1 readings from being lost.

Real broker, real paho 2 clients. Waiting is always "poll until true or a deadline", never a bare sleep.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import psutil
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from entgraph.telemetry import broker as broker_module
from entgraph.telemetry.broker import BrokerUnavailable, MosquittoBroker

TIMEOUT = 30.0


def wait_for(condition: Callable[[], bool], timeout: float = TIMEOUT, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.02)


class Subscriber:
    """A persistent-session MQTT 5 client that records every payload it receives."""

    def __init__(self, port: int, client_id: str) -> None:
        self.port = port
        self.client_id = client_id
        self.received: list[str] = []
        self.session_present: bool | None = None
        self._lock = threading.Lock()
        self._client: mqtt.Client | None = None

    def connect(self) -> None:
        connected = threading.Event()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5)

        def on_connect(_c, _u, flags, reason_code, _p) -> None:
            if not reason_code.is_failure:
                self.session_present = flags.session_present
                connected.set()

        def on_message(_c, _u, message: mqtt.MQTTMessage) -> None:
            with self._lock:
                self.received.append(message.payload.decode())

        client.on_connect = on_connect
        client.on_message = on_message
        props = Properties(PacketTypes.CONNECT)
        # Without a session expiry an MQTT 5 session ends at disconnect, whatever clean_start says.
        props.SessionExpiryInterval = 3600
        client.connect(broker_module.LOOPBACK, self.port, clean_start=False, properties=props)
        client.loop_start()
        assert connected.wait(TIMEOUT), f"{self.client_id} did not connect"
        self._client = client

    def subscribe(self, topic: str) -> None:
        assert self._client
        done = threading.Event()
        self._client.on_subscribe = lambda *_args: done.set()
        self._client.subscribe(topic, qos=1)
        assert done.wait(TIMEOUT), f"no SUBACK for {topic}"

    def disconnect(self) -> None:
        if self._client:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None

    def distinct(self) -> set[str]:
        with self._lock:
            return set(self.received)


def publish(port: int, topic: str, payloads: list[str]) -> None:
    """Publish at QoS 1 and return once the broker has acknowledged every message."""
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5
    )
    client.max_inflight_messages_set(200)
    client.connect(broker_module.LOOPBACK, port)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=1) for payload in payloads]
        for info in infos:
            info.wait_for_publish(TIMEOUT)
            assert info.is_published(), "the broker did not acknowledge a QoS 1 publish"
    finally:
        client.disconnect()
        client.loop_stop()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# -- lifecycle ----------------------------------------------------------------------------------------


def test_start_status_stop_and_restart_keep_the_port(tmp_path: Path) -> None:
    broker = MosquittoBroker(tmp_path / "home")
    assert not broker.status().running
    info = broker.ensure_running()
    try:
        assert info.host == "127.0.0.1"
        assert broker.status().running
        assert broker.ensure_running() == info, "a second call must not start another broker"
        conf = (tmp_path / "home/mqtt/mosquitto.conf").read_text()
        assert f"listener {info.port} 127.0.0.1" in conf
        assert "max_queued_messages 2000000" in conf

        assert broker.stop()
        assert not broker.status().running
        assert not (tmp_path / "home/mqtt/broker.json").exists()
        assert not broker.stop(), "stopping a stopped broker reports that it was not running"

        # A new object with port=0, as a later command would make: it must come back where clients expect it.
        again = MosquittoBroker(tmp_path / "home").ensure_running()
        assert again.port == info.port
        assert again.pid != info.pid
    finally:
        broker.stop()


def test_killed_broker_is_replaced_on_the_same_port(private_broker: MosquittoBroker) -> None:
    before = private_broker.ensure_running()
    assert private_broker.kill()
    assert not psutil.pid_exists(before.pid) or psutil.Process(before.pid).status() == psutil.STATUS_ZOMBIE
    after = private_broker.ensure_running()
    assert after.port == before.port
    assert after.pid != before.pid


def test_crashed_broker_with_leftover_state_is_restarted(private_broker: MosquittoBroker) -> None:
    before = private_broker.ensure_running()
    # A crash leaves broker.json behind; the next ensure_running must notice the pid is gone.
    psutil.Process(before.pid).kill()
    wait_for(lambda: not private_broker.status().running, what="the killed broker to be seen as down")
    assert "stale" in private_broker.status().detail
    after = private_broker.ensure_running()
    assert (after.port, private_broker.status().running) == (before.port, True)


def test_remembered_port_taken_by_another_program_is_a_clear_error(tmp_path: Path) -> None:
    broker = MosquittoBroker(tmp_path / "home")
    port = broker.ensure_running().port
    broker.stop()
    with socket.socket() as squatter:
        # The broker's own connections may leave the port in TIME_WAIT; only a live listener should count.
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        with pytest.raises(BrokerUnavailable, match=rf"port {port} .* in use .*delete .*port"):
            broker.ensure_running()
    assert not (tmp_path / "home/mqtt/broker.json").exists()


CONCURRENT_START = """
import json, sys, time
from pathlib import Path
from entgraph.telemetry.broker import MosquittoBroker
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.005)
info = MosquittoBroker(Path(sys.argv[1])).ensure_running()
print(json.dumps({"pid": info.pid, "port": info.port}))
"""


def test_concurrent_ensure_running_starts_one_broker(tmp_path: Path) -> None:
    home = tmp_path / "home"
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT_START, str(home), str(go)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    try:
        go.touch()  # both are importing/polling by now or soon; the file releases them together
        results = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
        assert all(p.returncode == 0 for p in procs)
        assert results[0] == results[1], "two processes started two brokers"
        data_dir = home / "mqtt"
        ours = [
            p for p in psutil.process_iter(["name"]) if p.info["name"] == "mosquitto" and _cwd(p) == data_dir
        ]
        assert [p.pid for p in ours] == [results[0]["pid"]]
    finally:
        MosquittoBroker(home).stop()


def _cwd(proc: psutil.Process) -> Path | None:
    try:
        return Path(proc.cwd())
    except (psutil.Error, OSError):
        return None


# -- message durability -------------------------------------------------------------------------------


@pytest.mark.slow
def test_offline_subscriber_gets_every_queued_message(mqtt_broker: MosquittoBroker) -> None:
    """5000 > mosquitto's default max_queued_messages of 1000: only our config delivers them all."""
    port = mqtt_broker.ensure_running().port
    topic = f"entgraph/test/{unique('queue')}"
    sub = Subscriber(port, unique("ingester"))
    sub.connect()
    sub.subscribe(topic)
    sub.disconnect()

    expected = [f"reading-{i}" for i in range(5000)]
    publish(port, topic, expected)

    sub.connect()
    try:
        assert sub.session_present, "the broker forgot the persistent session"
        wait_for(lambda: len(sub.distinct()) >= len(expected), what="all 5000 queued messages")
        assert sub.distinct() == set(expected)
    finally:
        sub.disconnect()


def test_queued_messages_survive_a_graceful_restart(private_broker: MosquittoBroker) -> None:
    port = private_broker.ensure_running().port
    topic = f"entgraph/test/{unique('restart')}"
    sub = Subscriber(port, unique("ingester"))
    sub.connect()
    sub.subscribe(topic)
    sub.disconnect()

    expected = [f"reading-{i}" for i in range(500)]
    publish(port, topic, expected)
    assert private_broker.stop()
    assert private_broker.ensure_running().port == port

    sub.connect()
    try:
        assert sub.session_present, "the persistent session did not survive the restart"
        wait_for(lambda: len(sub.distinct()) >= len(expected), what="the 500 messages queued before restart")
        assert sub.distinct() == set(expected)
    finally:
        sub.disconnect()


def test_shared_subscription_queues_for_offline_members(mqtt_broker: MosquittoBroker) -> None:
    """Pins mosquitto 2.0's behaviour that docs/mqtt-broker.md warns about (scaling, shared subscriptions).

    A share group's only member, offline, still gets everything queued; with one member online and one
    offline, the offline one is still dealt its share, which waits for it instead of going to the other.
    """
    port = mqtt_broker.ensure_running().port
    topic = f"entgraph/test/{unique('shared')}"
    share = f"$share/{unique('ingesters')}/{topic}"
    online, offline = Subscriber(port, unique("ingester-a")), Subscriber(port, unique("ingester-b"))
    offline.connect()
    offline.subscribe(share)
    offline.disconnect()

    alone = [f"alone-{i}" for i in range(100)]
    publish(port, topic, alone)
    offline.connect()
    wait_for(lambda: offline.distinct() >= set(alone), what="the offline sole member's queue")
    offline.disconnect()

    online.connect()
    online.subscribe(share)
    shared = [f"shared-{i}" for i in range(100)]
    try:
        publish(port, topic, shared)
        offline.connect()
        wait_for(lambda: (online.distinct() | offline.distinct()) >= set(shared), what="the group's messages")
        assert 0 < len(online.distinct() & set(shared)) < len(shared), "the offline member got no share"
    finally:
        online.disconnect()
        offline.disconnect()


# -- installation -------------------------------------------------------------------------------------


def test_missing_binary_says_how_to_install(tmp_path: Path) -> None:
    broker = MosquittoBroker(tmp_path / "home", binary=tmp_path / "no-such-mosquitto")
    with pytest.raises(BrokerUnavailable, match=r"apt-get install mosquitto"):
        broker.ensure_running()
    assert not (tmp_path / "home/mqtt/broker.json").exists()


def test_missing_from_path_and_known_places_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(broker_module, "KNOWN_BINARIES", (str(tmp_path / "sbin/mosquitto"),))
    with pytest.raises(BrokerUnavailable, match=r"not found.*apt-get install mosquitto"):
        MosquittoBroker(tmp_path / "home").ensure_running()
