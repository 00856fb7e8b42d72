"""The MQTT ingester: meter readings from the broker into the series store, none lost, none doubled.

How it keeps that promise:

- **Persistent session.** MQTT 5 with ``clean_start=False`` *and* a session expiry interval: without the
  interval a v5 session ends at disconnect, and whatever the broker queued meanwhile goes with it.
- **Acks after durability, in arrival order.** ``manual_ack``: a message is acknowledged only after the
  series store has committed the batch that holds it, and acks go out in the order the messages came.
  A crash before the ack means the broker redelivers; the store is idempotent on (meter, timestamp), so
  a redelivery is counted as a duplicate, never stored twice.
- **Acks never cross connections.** Packet ids are per connection: acking a message of a dropped
  connection on the new one could acknowledge a different, unwritten message that reuses the id. Each
  message remembers the connection it came on; acks for an older connection are skipped (the broker
  redelivers those messages, which the store then sees as duplicates and which are acked then).
- **The network loop never waits for work.** paho's thread only appends to an inbox; parsing, writing
  and acking happen on the writer thread, in batches.
- **Flow control.** ``Receive Maximum`` bounds the unacked messages the broker may push, so a slow disk
  slows the broker (which queues: its config keeps millions) instead of filling this process's memory.
- **Reconnect with back-off**, and **shared subscriptions** (``$share/<group>/...``) so several
  ingesters split one stream; each writes its own store shard (DuckDB has one writer per file).
- **Nothing dropped silently.** Unreadable payloads, bad readings and readings of meters the registry
  does not know go to the store's quarantine, counted and queryable; unknown-meter messages are replayed
  when the meter is registered.
"""

from __future__ import annotations

import logging
import queue
import struct
import sys
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from entgraph.telemetry.payloads import (
    SUBSCRIPTIONS,
    MeterEvent,
    Reading,
    Rejection,
    parse_message,
    unknown_meters,
)
from entgraph.telemetry.series_store import WriteResult

log = logging.getLogger("entgraph.telemetry.ingester")

# Readings of at most this many meters are named in one unknown-meter quarantine reason.


@dataclass(frozen=True)
class IngestSettings:
    host: str
    port: int
    client_id: str = "entgraph-ingester-1"
    group: str | None = "entgraph"  # shared-subscription group; None: a plain subscription
    session_expiry_s: int = 7 * 86_400  # how long the broker keeps queueing for us while we are away
    receive_maximum: int = 10_000  # unacked messages the broker may push at once
    batch_max: int = 5_000  # messages per durable write
    batch_wait_s: float = 0.05  # how long a batch may wait to fill before it is written anyway
    publish_every_s: float = 5.0  # how fresh readers' (API) view of the series is
    compact_every_s: float = 600.0  # live Parquet parts folded into day files (readers scan fewer files)
    # Months that ended this long ago leave the DuckDB file (still in Parquet), checked daily, so the
    # file stays the size of recent weeks however long the ingester runs. None keeps everything.
    hot_days: int | None = 40
    archive_every_s: float = 86_400.0
    refresh_meters_every_s: float = 30.0
    keepalive_s: int = 30
    reconnect_min_s: int = 1
    reconnect_max_s: int = 30

    def topics(self) -> list[str]:
        prefix = f"$share/{self.group}/" if self.group else ""
        return [prefix + t for t in SUBSCRIPTIONS]


@dataclass
class IngestStats:
    messages: int = 0
    readings: int = 0
    stored: int = 0
    duplicates: int = 0
    conflicts: int = 0
    events: int = 0
    quarantined: int = 0
    batches: int = 0
    acked: int = 0
    ack_skipped: int = 0  # messages of a dropped connection: the broker redelivers them
    connects: int = 0
    disconnects: int = 0
    replayed: int = 0
    started_at: float = field(default_factory=time.time)
    last_write_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class SeriesSink(Protocol):
    """What the ingester needs of the series store (``telemetry.series_store.SeriesWriter``)."""

    def write(self, readings: list[Reading], events: list[MeterEvent], rejections: list[Rejection],
              received_ms: int) -> WriteResult: ...  # fmt: skip
    def publish(self) -> Any: ...
    def compact(self) -> Any: ...
    def archive(self, keep_days: int) -> Any: ...
    def replay_quarantine(
        self, is_known: Callable[[str], bool], now_ms: int, newly: Collection[str] = ()
    ) -> int: ...


_Inbound = tuple[int, int, int, str, bytes]  # connection generation, mid, qos, topic, payload


def send_pubacks(client: mqtt.Client, mids: list[int]) -> None:
    """PUBACK each of ``mids``, in this order, as one write.

    ``client.ack`` queues one packet per message and wakes paho's network thread once per packet (a
    byte on its socket pair), which costs the ingester a fifth of its time on single-reading messages.
    The acks of a batch are instead queued as one buffer of consecutive PUBACK packets (MQTT 5 allows
    the short form: success, no properties), so they leave in one send, in arrival order. This uses
    paho's internal packet queue (paho-mqtt is pinned below 3); without it, acks go one by one.
    """
    if not mids:
        return
    queue_packet = getattr(client, "_packet_queue", None)
    if queue_packet is None:
        for mid in mids:
            client.ack(mid, 1)
        return
    packet = b"".join(_PUBACK.pack(_PUBACK_BYTE, 2, mid) for mid in mids)
    queue_packet(_PUBACK_BYTE, packet, 0, 0)


_PUBACK = struct.Struct("!BBH")
_PUBACK_BYTE = 0x40


class Ingester:
    """Run with :meth:`run` on the calling thread until ``stop`` is set; paho's network loop runs on
    its own thread."""

    def __init__(
        self,
        settings: IngestSettings,
        sink: SeriesSink,
        known_meters: Callable[[], set[str]],
        on_batch: Callable[[IngestStats], None] | None = None,
        after_write: Callable[[int], None] | None = None,
    ) -> None:
        self.settings = settings
        self.sink = sink
        self._load_known = known_meters
        self._known: set[str] = set()
        self._on_batch = on_batch
        # Called with the batch number between the durable write and the acks: the fault tests use it
        # to kill the process exactly there, the one moment a crash must cost a redelivery, not a loss.
        self._after_write = after_write
        self.stats = IngestStats()
        self._inbox: queue.SimpleQueue[_Inbound] = queue.SimpleQueue()
        self._gen = 0
        self._gen_lock = threading.Lock()
        self.connected = threading.Event()
        self._stopping = False
        self._client = self._make_client()

    # --- paho's thread --------------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        s = self.settings
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=s.client_id, protocol=mqtt.MQTTv5, manual_ack=True
        )
        client.reconnect_delay_set(s.reconnect_min_s, s.reconnect_max_s)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _connect_properties(self) -> Properties:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.settings.session_expiry_s
        props.ReceiveMaximum = self.settings.receive_maximum
        return props

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.warning("broker refused the connection: %s", reason)
            return
        with self._gen_lock:
            self._gen += 1
        self.stats.connects += 1
        # Subscribing again on a resumed session is harmless and covers a session the broker expired.
        client.subscribe([(t, mqtt.SubscribeOptions(qos=1)) for t in self.settings.topics()])
        log.info("connected (session present: %s)", flags.session_present)
        self.connected.set()

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.connected.clear()
        self.stats.disconnects += 1
        if self._stopping:
            log.info("disconnected on stop")
        else:
            log.warning("disconnected (%s); reconnecting with back-off", reason)

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        # Nothing else here: the network loop must stay free to read and to send acks.
        self._inbox.put((self._gen, msg.mid, msg.qos, msg.topic, msg.payload))

    # --- writer thread --------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> IngestStats:
        s = self.settings
        self._refresh_known()
        old_interval = sys.getswitchinterval()
        # The paho thread and this one share the GIL; at the default 5 ms the network loop waits on a
        # parsing batch long enough to fall behind the socket.
        sys.setswitchinterval(0.0005)
        self._client.connect_async(
            s.host, s.port, keepalive=s.keepalive_s, clean_start=False, properties=self._connect_properties()
        )
        self._client.loop_start()
        # Compaction rewrites day files for seconds on a big store: on its own thread, so batches keep
        # flowing (the store holds its write lock only to swap the manifest).
        compactor = threading.Thread(target=self._compact_every, args=(stop,), daemon=True)
        compactor.start()
        last_publish = last_refresh = time.monotonic()
        try:
            while not stop.is_set():
                batch = self._take(s.batch_max, s.batch_wait_s, stop)
                if batch:
                    self._write(batch)
                now = time.monotonic()
                if now - last_refresh >= s.refresh_meters_every_s:
                    self._refresh_known()
                    last_refresh = now
                if now - last_publish >= s.publish_every_s:
                    self.sink.publish()
                    last_publish = now
            # Stopping: what is already here is written and acked before we leave; anything later is
            # redelivered to the next session.
            while batch := self._take(s.batch_max, 0.0, None):
                self._write(batch)
            self.sink.publish()
        finally:
            self._stopping = True
            self._client.disconnect()
            self._client.loop_stop()
            sys.setswitchinterval(old_interval)
            compactor.join(60)
        return self.stats

    def _compact_every(self, stop: threading.Event) -> None:
        s = self.settings
        last_archive: float | None = None
        while not stop.wait(s.compact_every_s):
            try:
                due = last_archive is None or time.monotonic() - last_archive >= s.archive_every_s
                if s.hot_days is not None and due:
                    months = self.sink.archive(s.hot_days)  # compacts first
                    last_archive = time.monotonic()
                    if months:
                        log.info("archived %s out of the hot store (kept in Parquet)", ", ".join(months))
                else:
                    self.sink.compact()
            except Exception:  # a failed compaction leaves the live parts readable; retried next time
                log.exception("compaction failed; the live parts stay and it is retried")

    def _take(self, most: int, wait_s: float, stop: threading.Event | None) -> list[_Inbound]:
        batch: list[_Inbound] = []
        try:
            batch.append(self._inbox.get(timeout=0.2) if stop is not None else self._inbox.get_nowait())
        except queue.Empty:
            return batch
        deadline = time.monotonic() + wait_s
        while len(batch) < most:
            try:
                batch.append(self._inbox.get_nowait())
            except queue.Empty:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    batch.append(self._inbox.get(timeout=left))
                except queue.Empty:
                    break
        return batch

    def _write(self, batch: list[_Inbound]) -> None:
        now_ms = int(time.time() * 1000)
        readings: list[Reading] = []
        events: list[MeterEvent] = []
        rejections: list[Rejection] = []
        known = self._known
        for _gen, _mid, _qos, topic, payload in batch:
            parsed = parse_message(topic, payload, now_ms)
            rejections.extend(parsed.rejections)
            unknown: list[str] = []
            for r in parsed.readings:
                if r.meter_id in known:
                    readings.append(r)
                elif r.meter_id not in unknown:
                    unknown.append(r.meter_id)
            for e in parsed.events:
                if e.meter_id in known:
                    events.append(e)
                elif e.meter_id not in unknown:
                    unknown.append(e.meter_id)
            if unknown:
                rejections.append(unknown_meters(topic, payload, unknown))
        result = self.sink.write(readings, events, rejections, now_ms)
        if self._after_write is not None:
            self._after_write(self.stats.batches + 1)
        self._ack(batch)
        st = self.stats
        st.messages += len(batch)
        st.readings += len(readings)
        st.stored += result.inserted
        st.duplicates += result.duplicates
        st.conflicts += result.conflicts
        st.events += result.events
        st.quarantined += len(rejections)
        st.batches += 1
        st.last_write_at = time.time()
        if self._on_batch is not None:
            self._on_batch(st)

    def _ack(self, batch: list[_Inbound]) -> None:
        with self._gen_lock:  # a reconnect cannot slip in between the generation check and the acks
            current = self._gen
            mids = []
            for gen, mid, qos, _topic, _payload in batch:
                if qos == 0:
                    continue
                if gen != current:
                    self.stats.ack_skipped += 1
                    continue
                mids.append(mid)
            send_pubacks(self._client, mids)
            self.stats.acked += len(mids)

    def _refresh_known(self) -> None:
        fresh = self._load_known()
        newly = fresh - self._known
        self._known = fresh
        if newly:
            replayed = self.sink.replay_quarantine(fresh.__contains__, int(time.time() * 1000), newly)
            self.stats.replayed += replayed
            if replayed:
                log.info("replayed %d quarantined message(s) of %d newly registered meter(s)", replayed,
                         len(newly))  # fmt: skip
