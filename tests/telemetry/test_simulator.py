"""Load profiles (pure) and the MQTT simulator against a real mosquitto."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from dataclasses import replace
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from entgraph import localtime
from entgraph.localtime import CST
from entgraph.telemetry import payloads, profiles
from entgraph.telemetry.broker import BrokerInfo, MosquittoBroker
from entgraph.telemetry.payloads import Reading
from entgraph.telemetry.profiles import DAY_MS, HOUR_MS, MeterProfile, make_fleet, readings
from entgraph.telemetry.simulator import SimStats, Simulator


def ms(text: str) -> int:
    """Epoch ms of a CST wall time ``YYYY-MM-DD HH:MM``."""
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=CST).timestamp() * 1000)


def consumption(profile: MeterProfile, start: str, end: str) -> float:
    """Consumption between two CST times (register difference; no swap inside)."""
    return profiles.register(profile, ms(end)) - profiles.register(profile, ms(start))


OFFICE = MeterProfile("OFF-1", "electricity", 5, 200.0, shift="one", weekend_factor=0.12, standby=0.15)
PLANT = MeterProfile(
    "PLANT-1",
    "electricity",
    5,
    3000.0,
    shift="three",
    weekend_factor=0.85,
    holiday_factor=0.5,
    standby=0.2,
    manufacturer=True,
    spring_festival_days=(5, 10),
    spring_festival_factor=0.05,
    initial_value=123_456.0,
)


# -- profiles ------------------------------------------------------------------------------------------


def test_one_shift_day_load_exceeds_night_load() -> None:
    # 2026-03-10 is a Tuesday: 10:00-16:00 at full activity, 00:00-05:00 on standby only.
    day = consumption(OFFICE, "2026-03-10 10:00", "2026-03-10 16:00") / 6
    night = consumption(OFFICE, "2026-03-10 00:00", "2026-03-10 05:00") / 5
    assert day > 4 * night
    # Loads near the nominal ones: full 200 kW by day, standby 15 % (30 kW) at night, within the noise.
    assert 150 < day < 230
    assert 20 < night < 40


def test_weekend_and_holiday_lower_than_workday() -> None:
    tuesday = consumption(OFFICE, "2026-03-10 00:00", "2026-03-11 00:00")
    saturday = consumption(OFFICE, "2026-03-14 00:00", "2026-03-15 00:00")
    national_day = consumption(OFFICE, "2026-10-02 00:00", "2026-10-03 00:00")
    assert saturday < 0.6 * tuesday
    assert national_day < 0.6 * tuesday
    # 2026-02-14 is a Saturday worked instead (调休): a workday, not a weekend.
    adjusted = consumption(OFFICE, "2026-02-14 00:00", "2026-02-15 00:00")
    assert adjusted > 0.8 * tuesday


def test_spring_festival_shutdown_for_a_manufacturer() -> None:
    assert profiles.HOLIDAYS[dt.date(2026, 2, 17)] == "春节"
    workday = consumption(PLANT, "2026-03-10 00:00", "2026-03-11 00:00")
    festival = consumption(PLANT, "2026-02-17 00:00", "2026-02-18 00:00")
    assert festival < 0.3 * workday
    # Deeper and longer than the official holiday: still shut the Friday after it (2026-02-27, +4 days),
    # while an office is back at work then.
    after = consumption(PLANT, "2026-02-27 00:00", "2026-02-28 00:00")
    assert after < 0.3 * workday
    office_after = consumption(OFFICE, "2026-02-27 00:00", "2026-02-28 00:00")
    assert office_after > 0.8 * consumption(OFFICE, "2026-03-10 00:00", "2026-03-11 00:00")


def test_day_total_matches_interval_sum_and_prefix() -> None:
    # The closed-form day total, the sum of the day's intervals and the prefix sums must agree, or
    # registers would jump at midnight.
    day = localtime.day_number(ms("2026-02-20 00:00"))
    for p in (OFFICE, PLANT):
        total = profiles.day_total(p, day)
        assert profiles.consumed(p, localtime.day_number_start_ms(day + 1)) - profiles.consumed(
            p, localtime.day_number_start_ms(day)
        ) == pytest.approx(total, rel=1e-12)


def _window_fleet() -> tuple[list[MeterProfile], int, int]:
    start, end = ms("2026-03-01 00:00"), ms("2026-03-08 00:00")
    ids = [(f"E{i:03d}", "electricity") for i in range(8)] + [(f"W{i:03d}", "water") for i in range(4)]
    return make_fleet(ids, seed=42, window=(start, end)), start, end


def test_fleet_has_one_swap_and_one_dead_meter() -> None:
    fleet, start, end = _window_fleet()
    swapped = [p for p in fleet if p.swap_at is not None]
    dead = [p for p in fleet if p.dead_at is not None]
    assert len(swapped) == 1 and len(dead) == 1 and swapped[0] is not dead[0]
    assert start < swapped[0].swap_at < end  # type: ignore[operator]
    assert start < dead[0].dead_at < end  # type: ignore[operator]
    assert make_fleet([(p.meter_id, p.kind) for p in fleet], seed=42, window=(start, end)) == fleet
    assert make_fleet([(p.meter_id, p.kind) for p in fleet], seed=43, window=(start, end)) != fleet
    assert len({(p.shift, p.manufacturer) for p in fleet}) >= 2  # varied
    small = make_fleet([("A", "electricity"), ("B", "water")], seed=1)
    assert all(p.swap_at is None and p.dead_at is None for p in small)


def test_register_monotone_except_at_swap_with_matching_event() -> None:
    fleet, start, end = _window_fleet()
    for p in fleet:
        got, events = readings(p, start, end)
        values = [r.value for r in got]
        drops = [i for i in range(1, len(values)) if values[i] < values[i - 1]]
        if p.swap_at is None:
            assert drops == [] and events == []
            continue
        # Exactly one drop, at the swap tick, and the event brackets it.
        [i] = drops
        assert got[i].ts_ms == p.swap_at
        [event] = events
        assert (event.event, event.ts_ms, event.meter_id) == ("replacement", p.swap_at, p.meter_id)
        assert event.new_value == got[i].value < 2.0  # the new register starts from ~0
        # The old meter's final register: its last reading plus that interval's consumption.
        last_interval = profiles.consumed(p, p.swap_at) - profiles.consumed(p, p.swap_at - p.cadence_ms)
        assert event.old_value == pytest.approx(got[i - 1].value + last_interval, abs=0.011)
        assert event.old_value > got[i - 1].value
        # Across the swap no consumption is lost: (old - before) + (after - new) == the integral.
        across = (event.old_value - got[i - 1].value) + (got[i + 1].value - event.new_value)
        integral = profiles.consumed(p, got[i + 1].ts_ms) - profiles.consumed(p, got[i - 1].ts_ms)
        assert across == pytest.approx(integral, abs=0.03)


def test_dead_meter_stops_reporting() -> None:
    fleet, start, end = _window_fleet()
    [dead] = [p for p in fleet if p.dead_at is not None]
    got, _ = readings(dead, start, end)
    assert got and max(r.ts_ms for r in got) == dead.dead_at - dead.cadence_ms  # type: ignore[operator]
    assert readings(dead, dead.dead_at, end)[0] == []  # type: ignore[arg-type]


def test_split_window_gives_identical_readings() -> None:
    fleet, start, end = _window_fleet()
    whole = {p.meter_id: readings(p, start, end) for p in fleet}
    cut = ms("2026-03-04 13:07")  # not on a tick, mid-day
    profiles.clear_caches()  # nothing computed for the whole window may be reused
    for p in reversed(fleet):
        second = readings(p, cut, end)  # later half first: no state carried forward
        first = readings(p, start, cut)
        assert first[0] + second[0] == whole[p.meter_id][0]
        assert first[1] + second[1] == whole[p.meter_id][1]
        # And the single-tick register() agrees with the batched readings().
        for r in whole[p.meter_id][0][::97]:
            assert profiles.register(p, r.ts_ms) == r.value


def test_water_hourly_in_m3_electricity_five_minutes() -> None:
    fleet, start, _ = _window_fleet()
    for p in fleet:
        got, _ = readings(p, start, start + DAY_MS)
        steps = {b.ts_ms - a.ts_ms for a, b in itertools.pairwise(got)}
        if p.kind == "water":
            assert (p.cadence_min, steps, {r.unit for r in got}) == (60, {HOUR_MS}, {"m3"})
            assert len(got) == 24
        else:
            assert (p.cadence_min, steps, {r.unit for r in got}) == (5, {300_000}, {"kWh"})
            assert len(got) == 288
        assert all(r.kind == "cumulative" and r.ts_ms % p.cadence_ms == 0 for r in got)


def test_before_origin_refused() -> None:
    with pytest.raises(ValueError, match="origin"):
        profiles.consumed(OFFICE, ms("2024-06-01 00:00"))


# -- publishing against a real mosquitto ---------------------------------------------------------------


@pytest.fixture(scope="module")
def broker(mqtt_broker: MosquittoBroker) -> BrokerInfo:
    """The shared broker of tests/telemetry/conftest.py (host and port)."""
    return mqtt_broker.ensure_running()


class _Subscriber:
    """Collects every message on the entgraph topics (QoS 1)."""

    def __init__(self, host: str, port: int, client_id: str) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.loop_start()
        assert self.ready.wait(10), "subscriber did not subscribe"

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        client.subscribe([(topic, 1) for topic in payloads.SUBSCRIPTIONS])
        client.on_subscribe = lambda *_: self.ready.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((msg.topic, msg.payload))

    def wait_for(self, count: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                got = len(self.messages)
            if got >= count:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"received {got} of {count} messages in {timeout:g} s")
            time.sleep(0.02)
        time.sleep(0.2)  # anything beyond the expected count (a duplicate) would show up now

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _expected(
    fleet: list[MeterProfile], start: int, end: int
) -> tuple[list[tuple[str, int, float]], list[Any]]:
    want: list[tuple[str, int, float]] = []
    events: list[Any] = []
    for p in fleet:
        got, ev = readings(p, start, end)
        want += [(r.meter_id, r.ts_ms, r.value) for r in got]
        events += ev
    return sorted(want), events


@pytest.mark.parametrize("batch", [0, 50])
def test_backfill_delivers_exactly_the_readings(broker: BrokerInfo, batch: int) -> None:
    fleet, _, _ = _window_fleet()
    start, end = ms("2026-03-04 00:00"), ms("2026-03-06 00:00")
    # Place the swap inside the backfilled window so its event is published too.
    i = next(i for i, p in enumerate(fleet) if p.kind == "electricity" and p.dead_at is None)
    fleet[i] = replace(fleet[i], swap_at=ms("2026-03-05 10:00"), swap_value=0.5)
    want, want_events = _expected(fleet, start, end)
    assert len(want_events) == 1

    sub = _Subscriber(broker.host, broker.port, f"test-simulator-sub-{batch}")
    stats = SimStats()
    try:
        client_id = f"test-simulator-pub-{batch}"
        with Simulator(broker.host, broker.port, fleet, batch=batch, gateway_size=5, client_id=client_id,
                       stats=stats) as sim:  # fmt: skip
            published = sim.backfill(start, end)
        assert published == len(want)
        snap = stats.snapshot()
        assert snap["acked"] == snap["published"] and snap["failed"] == 0 and snap["resent"] == 0
        if batch:
            assert snap["published"] < len(want) / 10  # batched, not one message per reading
            assert snap["published"] == snap["events"] + sum(
                -(-n // batch) for n in _readings_per_gateway_chunk(sim, fleet, start, end)
            )
        else:
            assert snap["published"] == len(want) + 1
        sub.wait_for(snap["published"])
    finally:
        sub.close()

    now = end + DAY_MS
    got: list[Reading] = []
    events = []
    for topic, payload in sub.messages:
        parsed = payloads.parse_message(topic, payload, now)
        assert parsed.rejections == []
        got += parsed.readings
        events += parsed.events
        if batch and parsed.readings:
            assert topic.startswith("entgraph/gateways/GW")
    assert sorted((r.meter_id, r.ts_ms, r.value) for r in got) == want  # nothing lost, nothing doubled
    assert events == want_events
    units = {r.meter_id: r.unit for r in got}
    assert all(units[p.meter_id] == p.unit for p in fleet if p.meter_id in units)


def _readings_per_gateway_chunk(sim: Simulator, fleet: list[MeterProfile], start: int, end: int) -> list[int]:
    """Readings per (gateway, hour chunk): what the batch messages are cut from."""
    counts: dict[tuple[str, int], int] = {}
    for p in fleet:
        for r in readings(p, start, end)[0]:
            key = (sim.gateways[p.meter_id], r.ts_ms // HOUR_MS)
            counts[key] = counts.get(key, 0) + 1
    return list(counts.values())


def test_live_mode_publishes_due_ticks(broker: BrokerInfo) -> None:
    fleet = make_fleet([("L1", "electricity"), ("L2", "electricity")], seed=3)
    start = ms("2026-03-10 09:00")
    stats = SimStats()
    # 3600x: one simulated hour per wall second; 1.5 s covers ticks 09:00 .. 10:30.
    with Simulator(
        broker.host, broker.port, fleet, speedup=3600.0, client_id="test-simulator-live", stats=stats
    ) as sim:
        published = sim.run_live(start, duration_s=1.5)
    assert published == 2 * 19  # 09:00, 09:05, ..., 10:30 for two meters
    assert stats.snapshot()["acked"] == published


def test_broker_killed_mid_backfill_loses_nothing(private_broker: MosquittoBroker) -> None:
    """SIGKILL the broker mid-backfill and restart it: a persistent subscriber still receives every
    reading, because the simulator re-publishes what the broker may have acknowledged and then lost."""
    info = private_broker.ensure_running()
    fleet = make_fleet([(f"R{i:03d}", "electricity") for i in range(20)], seed=5)
    start = ms("2026-03-01 00:00")
    end = start + DAY_MS
    want, _ = _expected(fleet, start, end)
    received: set[tuple[str, int, float]] = set()
    lock = threading.Lock()

    def on_connect(client: mqtt.Client, *_: Any) -> None:
        # Every connect: a broker restarted from an old save may have forgotten the subscription.
        client.subscribe([(topic, 1) for topic in payloads.SUBSCRIPTIONS])

    def on_message(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        parsed = payloads.parse_message(msg.topic, msg.payload, end + DAY_MS)
        with lock:
            received.update((r.meter_id, r.ts_ms, r.value) for r in parsed.readings)

    sub = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id="test-simulator-kill-sub", protocol=mqtt.MQTTv5
    )
    sub.on_connect, sub.on_message = on_connect, on_message
    sub.reconnect_delay_set(1, 1)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    sub.connect(info.host, info.port, clean_start=False, properties=props)
    sub.loop_start()
    stats = SimStats()
    # resume_delay_s: time for the subscriber (retrying every second) to be back before the resend.
    sim = Simulator(
        info.host, info.port, fleet, client_id="test-simulator-kill-pub", stats=stats, resume_delay_s=2.5
    )
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(sim.backfill(start, end)))
    try:
        with sim:
            worker.start()
            while stats.snapshot()["acked"] < 1500 and worker.is_alive():
                time.sleep(0.005)
            assert private_broker.kill()
            time.sleep(0.3)
            private_broker.ensure_running()
            worker.join(120)
        assert result == [len(want)]
        snap = stats.snapshot()
        assert snap["reconnects"] >= 1 and snap["resent"] >= 1500 - 20
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(received) < len(want):
            time.sleep(0.05)
        with lock:
            assert sorted(received) == want
    finally:
        sub.disconnect()
        sub.loop_stop()
