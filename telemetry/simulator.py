"""Publish a simulated fleet's meter readings over MQTT, live or as a backfill.

The readings come from :mod:`entgraph.telemetry.profiles` (pure functions of the profiles), so what is
published for a window never depends on how often the simulator was started or where it stopped.

Delivery is QoS 1 on a persistent MQTT 5 session (``clean_start=False`` with a session expiry): paho
keeps every message until its PUBACK and re-sends the unacknowledged ones after a reconnect. That does
not cover what the broker acknowledged and then lost — mosquitto SIGKILLed before it saved or delivered
a message — so after every reconnect the simulator also re-publishes the readings of the last
``resend_window_s`` simulated seconds, as a concentrator re-reads (补抄) its meters after a link outage,
and at least everything it published in the last ``resend_wall_s`` wall seconds before the link broke
(a backfill covers hours of simulated time in the seconds a broker may not have saved yet).
Duplicates are harmless: the store is idempotent on (meter, timestamp). docs/simulator.md has the rest.
"""

from __future__ import annotations

import collections
import logging
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from entgraph.telemetry import payloads, profiles
from entgraph.telemetry.payloads import MeterEvent, Reading
from entgraph.telemetry.profiles import MeterProfile

log = logging.getLogger(__name__)

HOUR_MS = profiles.HOUR_MS


@dataclass
class SimStats:
    """Counters of one simulator; readable at any time (the lock guards the callback-side counts)."""

    published: int = 0  # messages handed to the client, resends included
    acked: int = 0  # PUBACKs received
    failed: int = 0  # PUBACKs with a failure reason code (>= 0x80)
    readings: int = 0  # readings published, resends included
    events: int = 0  # meter events published, resends included
    resent: int = 0  # readings re-published after reconnects
    connects: int = 0
    reconnects: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return {k: v for k, v in vars(self).items() if isinstance(v, int)}


class _Window:
    """A counting window of messages awaiting a PUBACK, whose size can shrink to the broker's limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._cond = threading.Condition()

    def acquire(self, timeout: float) -> bool:
        with self._cond:
            if not self._cond.wait_for(lambda: self.used < self.limit, timeout):
                return False
            self.used += 1
            return True

    def release(self) -> None:
        with self._cond:
            self.used -= 1
            self._cond.notify()

    def set_limit(self, limit: int) -> None:
        with self._cond:
            self.limit = max(1, limit)
            self._cond.notify_all()


class Simulator:
    """Publishes the readings of ``fleet`` to the broker at ``host:port``.

    ``batch=0`` sends one message per reading on the meter's topic; ``batch>0`` sends gateway batches
    (meters grouped into gateways of ``gateway_size`` in fleet order) of up to ``batch`` readings.
    ``max_inflight`` (further capped by the broker's MQTT 5 Receive Maximum) bounds the messages awaiting
    a PUBACK: the publisher blocks at that many, which keeps memory flat however large the window.
    Use as a context manager, or call :meth:`start` and :meth:`close`.
    """

    def __init__(
        self,
        host: str,
        port: int,
        fleet: Sequence[MeterProfile],
        *,
        speedup: float = 60.0,
        batch: int = 0,
        gateway_size: int = 200,
        client_id: str = "entgraph-sim",
        qos: int = 1,
        resend_window_s: float = 3600.0,
        resend_wall_s: float = 10.0,
        resume_delay_s: float = 1.0,
        max_inflight: int = 1000,
        session_expiry_s: int = 3600,
        keepalive_s: int = 30,
        connect_timeout_s: float = 30.0,
        ack_timeout_s: float = 120.0,
        stats: SimStats | None = None,
    ) -> None:
        if speedup <= 0:
            raise ValueError("speedup must be positive")
        if batch < 0 or gateway_size < 1 or max_inflight < 1:
            raise ValueError("batch must be >= 0, gateway_size and max_inflight >= 1")
        if qos not in (0, 1, 2):
            raise ValueError("qos must be 0, 1 or 2")
        self.host, self.port = host, port
        self.fleet = list(fleet)
        self.speedup, self.batch, self.qos = speedup, batch, qos
        # Seconds of simulated time re-published after a reconnect; the default covers an hourly water
        # reading and an hour of 5-minute electricity.
        self.resend_window_ms = int(resend_window_s * 1000)
        # ... and at least what was published in the last `resend_wall_s` wall seconds before the link
        # broke: a broker loses what arrived since its last save (entgraph's mosquitto saves every 5 s),
        # and in a backfill that is far more than any simulated window.
        self.resend_wall_s = resend_wall_s
        self._progress: collections.deque[tuple[float, int]] = collections.deque()  # (monotonic, upto ts)
        self._disconnected_at: float | None = None
        # Wall seconds to pause after a reconnect before re-publishing: subscribers (the ingester) need
        # a moment to reconnect and re-subscribe to a restarted broker, or they miss what we send first.
        self.resume_delay_s = resume_delay_s
        self.connect_timeout_s, self.ack_timeout_s = connect_timeout_s, ack_timeout_s
        self.stats = stats if stats is not None else SimStats()
        self.gateways: dict[str, str] = {
            p.meter_id: f"GW{i // gateway_size:04d}" for i, p in enumerate(self.fleet)
        }
        self._max_inflight = max_inflight
        self._window = _Window(max_inflight)
        self._connected = threading.Event()
        self._reconnected = threading.Event()  # set by on_connect after the first; cleared on resend
        self._pending_mids: set[int] = set()  # mids awaiting a PUBACK (to release the window once each)
        self._early_acks: set[int] = set()  # PUBACKs that beat publish() returning its mid
        self._started = False

        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        # paho's own in-flight limit is off (0) and ours (the semaphore) bounds the window instead: with a
        # limit, paho scans every outgoing message on each PUBACK looking for queued ones to send, which
        # is quadratic in the window and capped single-message publishing near 1,000 messages/s.
        self._client.max_inflight_messages_set(0)
        self._client.max_queued_messages_set(0)
        self._client.reconnect_delay_set(min_delay=1, max_delay=5)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._keepalive_s, self._session_expiry_s = keepalive_s, session_expiry_s

    # -- connection ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect (retrying in the background until ``connect_timeout_s``) and start the network loop."""
        if self._started:
            return
        props = Properties(PacketTypes.CONNECT)
        # A session that outlives the connection: the broker keeps our packet ids and in-flight state
        # across a reconnect, and paho re-sends every unacknowledged message on it.
        props.SessionExpiryInterval = self._session_expiry_s
        self._client.connect_async(
            self.host, self.port, keepalive=self._keepalive_s, clean_start=False, properties=props
        )
        self._client.loop_start()
        self._started = True
        if not self._connected.wait(self.connect_timeout_s):
            self.close()
            raise ConnectionError(
                f"no MQTT connection to {self.host}:{self.port} in {self.connect_timeout_s}s"
            )

    def close(self) -> None:
        """Disconnect and stop the network loop (unacknowledged messages are dropped: call flush first)."""
        if not self._started:
            return
        self._client.disconnect()
        self._client.loop_stop()
        self._started = False

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.warning("MQTT connect to %s:%s refused: %s", self.host, self.port, reason)
            return
        sock = client.socket()
        # MQTT 5: the broker says how many unacknowledged QoS 1 messages it accepts (mosquitto: its
        # max_inflight_messages, 20 by default). Exceeding it is a protocol error a broker may punish by
        # disconnecting; mosquitto tolerates it, others need not. The cost of obeying is small.
        limit = getattr(props, "ReceiveMaximum", None) if props is not None else None
        self._window.set_limit(min(self._max_inflight, limit) if limit else self._max_inflight)
        if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
            # paho leaves Nagle on: small PUBLISH packets then wait for the broker's delayed ACK.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.stats.lock:
            self.stats.connects += 1
            again = self.stats.connects > 1
            if again:
                self.stats.reconnects += 1
        if again:
            log.info(
                "reconnected to %s:%s (session present: %s)", self.host, self.port, flags.session_present
            )
            self._reconnected.set()
        self._connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self._connected.clear()
        if self._disconnected_at is None:  # the first failure since the last resend is what counts
            self._disconnected_at = time.monotonic()
        if self._started:
            log.info("disconnected from %s:%s: %s", self.host, self.port, reason)

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        with self.stats.lock:
            self.stats.acked += 1
            if reason is not None and getattr(reason, "is_failure", False):
                self.stats.failed += 1
            if self.qos == 0:
                return  # "acked" means written to the socket; _send never holds the window for these
            # The PUBACK can arrive before publish() has returned the mid to _send; remember it then.
            if mid in self._pending_mids:
                self._pending_mids.discard(mid)
            else:
                self._early_acks.add(mid)
                return
        self._window.release()

    # -- publishing ------------------------------------------------------------------------------------

    def _send(self, topic: str, payload: bytes) -> None:
        """Publish one message, waiting for room in the in-flight window."""
        while not self._window.acquire(timeout=1.0):
            if not self._started:
                raise RuntimeError("simulator closed while publishing")
        info = self._client.publish(topic, payload, qos=self.qos)
        if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
            self._window.release()
            raise RuntimeError("paho refused the message: queue full")
        # MQTT_ERR_NO_CONN is fine: paho keeps QoS>0 messages and sends them when the link is back.
        with self.stats.lock:
            self.stats.published += 1
            if self.qos == 0:
                release = True
            elif info.mid in self._early_acks:
                self._early_acks.discard(info.mid)
                release = True
            else:
                self._pending_mids.add(info.mid)
                release = False
        if release:
            self._window.release()

    def flush(self, timeout_s: float | None = None) -> None:
        """Wait until every published message is acknowledged; TimeoutError if acks stop coming."""
        limit = self.ack_timeout_s if timeout_s is None else timeout_s
        last, progress_at = -1, time.monotonic()
        while True:
            with self.stats.lock:
                outstanding = len(self._pending_mids)
                acked = self.stats.acked
            if outstanding == 0:
                return
            if acked != last:
                last, progress_at = acked, time.monotonic()
            elif time.monotonic() - progress_at > limit:
                raise TimeoutError(f"{outstanding} messages unacknowledged for {limit}s")
            time.sleep(0.01)

    def _collect(self, start_ms: int, end_ms: int) -> tuple[list[Reading], list[MeterEvent]]:
        """The fleet's readings and events in [start, end), in time order."""
        out: list[Reading] = []
        events: list[MeterEvent] = []
        for profile in self.fleet:
            got, ev = profiles.readings(profile, start_ms, end_ms)
            out.extend(got)
            events.extend(ev)
        out.sort(key=lambda r: r.ts_ms)  # stable: fleet order within a tick
        return out, events

    def _messages(self, readings: list[Reading]) -> Iterator[tuple[str, bytes, int, int]]:
        """(topic, payload, readings in it, latest ts in it) for a time-ordered list of readings."""
        if self.batch == 0:
            for r in readings:
                payload = payloads.encode_reading(r.ts_ms, r.value, r.kind, r.unit)
                yield payloads.reading_topic(r.meter_id), payload, 1, r.ts_ms
            return
        # Group by gateway, keeping time order inside each group; send a group when it reaches `batch`.
        groups: dict[str, list[Reading]] = {}
        for r in readings:
            gateway = self.gateways[r.meter_id]
            group = groups.setdefault(gateway, [])
            group.append(r)
            if len(group) >= self.batch:
                yield payloads.gateway_topic(gateway), payloads.encode_batch(group), len(group), r.ts_ms
                groups[gateway] = []
        for gateway, group in groups.items():
            if group:
                yield (
                    payloads.gateway_topic(gateway),
                    payloads.encode_batch(group),
                    len(group),
                    group[-1].ts_ms,
                )

    def _publish_span(self, start_ms: int, end_ms: int, *, resend: bool = False) -> int:
        """Publish the readings and events of [start, end); returns readings published.

        Checks for a reconnect between messages: then pauses, re-publishes the resend window that ends
        at the latest reading handed over so far, and carries on."""
        readings, events = self._collect(start_ms, end_ms)
        for event in events:
            self._send(payloads.event_topic(event.meter_id), payloads.encode_event(event))
            with self.stats.lock:
                self.stats.events += 1
        count = 0
        upto = start_ms - 1  # the latest reading time handed to the client in this span
        for topic, payload, n, latest in self._messages(readings):
            if not resend and self._reconnected.is_set():
                self._resend(upto)
            self._send(topic, payload)
            upto = max(upto, latest)
            if not resend:
                self._checkpoint(upto)
            count += n
            with self.stats.lock:
                self.stats.readings += n
                if resend:
                    self.stats.resent += n
        return count

    def _checkpoint(self, upto_ms: int) -> None:
        """Remember (about every 50 ms) how far publishing had got, for the wall-time part of a resend."""
        now = time.monotonic()
        if self._progress and now - self._progress[-1][0] < 0.05:
            return
        self._progress.append((now, upto_ms))
        # Publishing stalls while the link is down, so pruning relative to the newest entry keeps the
        # entries from before an outage until the resend has used them.
        while self._progress and self._progress[0][0] < now - self.resend_wall_s - 5.0:
            self._progress.popleft()

    def _resend_from(self, upto_ms: int) -> int:
        """Where a resend starts: resend_window_s of simulated time before the last reading handed over,
        or earlier if that was published less than resend_wall_s wall seconds before the disconnect."""
        start = upto_ms - self.resend_window_ms
        broke = self._disconnected_at if self._disconnected_at is not None else time.monotonic()
        cut = broke - self.resend_wall_s
        before = [ts for at, ts in self._progress if at < cut]
        if before:
            return min(start, before[-1])  # the last checkpoint before the cut: everything after is suspect
        if self._progress:
            return min(start, self._progress[0][1])  # all we published is within the wall window
        return start

    def _resend(self, upto_ms: int) -> None:
        """After a reconnect: pause, then re-publish what the broker may have lost, up to ``upto_ms``."""
        self._reconnected.clear()
        self._connected.wait(self.connect_timeout_s)
        time.sleep(self.resume_delay_s)
        start = self._resend_from(upto_ms)
        self._disconnected_at = None
        log.info("re-publishing readings of %s..%s after a reconnect", start, upto_ms)
        self._publish_span(start, upto_ms + 1, resend=True)

    def _check_reconnect(self, cursor_ms: int) -> None:
        """Between spans: re-publish what may have been lost before the cursor if we reconnected."""
        if self._reconnected.is_set():
            self._resend(cursor_ms - 1)

    def backfill(self, start_ms: int, end_ms: int, *, chunk_ms: int = HOUR_MS) -> int:
        """Publish every reading in [start_ms, end_ms) as fast as the broker acknowledges them.

        Goes through time in chunks of ``chunk_ms`` simulated time (all meters per chunk), so the
        resend window after a reconnect is the last stretch of simulated time, as in live mode.
        Waits for every PUBACK; returns the readings published (resends excluded)."""
        self.start()
        total = 0
        cursor = start_ms
        while cursor < end_ms:
            nxt = min(end_ms, (cursor // chunk_ms + 1) * chunk_ms)
            self._check_reconnect(cursor)
            total += self._publish_span(cursor, nxt)
            cursor = nxt
        self.flush()
        # A reconnect during the last chunk or while waiting for its acks still owes a resend.
        while self._reconnected.is_set():
            self._check_reconnect(end_ms)
            self.flush()
        return total

    def run_live(
        self,
        start_ms: int | None = None,
        duration_s: float | None = None,
        stop_event: threading.Event | None = None,
    ) -> int:
        """Publish readings as a clock running ``speedup`` times faster than wall time reaches them.

        The simulated clock starts at ``start_ms`` (default: now) and a tick's readings go out when the
        clock passes the tick. Runs for ``duration_s`` wall seconds, or until ``stop_event`` is set, or
        forever. Returns the readings published (resends excluded). Note that ingesters refuse readings
        more than a day ahead of their own clock: with a speedup, start far enough in the past.
        """
        self.start()
        stop = stop_event if stop_event is not None else threading.Event()
        if start_ms is None:
            start_ms = int(time.time() * 1000)
        wall0 = time.monotonic()
        cursor = start_ms  # readings with ts < cursor have been published
        total = 0
        step = min(p.cadence_ms for p in self.fleet) if self.fleet else profiles.MINUTE_MS
        while True:
            elapsed = time.monotonic() - wall0
            finished = stop.is_set() or (duration_s is not None and elapsed >= duration_s)
            if finished and duration_s is not None:
                elapsed = min(elapsed, duration_s)
            sim_now = start_ms + int(elapsed * self.speedup * 1000)
            if sim_now >= cursor:
                self._check_reconnect(cursor)
                total += self._publish_span(cursor, sim_now + 1)
                cursor = sim_now + 1
            if finished:
                break
            # Sleep until the simulated clock reaches the next tick (or the run ends).
            next_tick = (cursor // step + 1) * step if cursor % step else cursor
            wait = (next_tick - start_ms) / 1000 / self.speedup - (time.monotonic() - wall0)
            if duration_s is not None:
                wait = min(wait, duration_s - (time.monotonic() - wall0))
            stop.wait(max(0.0, min(wait, 1.0)))
        self.flush()
        return total
