"""The topic and payload schema: what is accepted, how it is normalised, and why the rest is refused."""

from __future__ import annotations

import json

import pytest

from entgraph.telemetry.payloads import (
    MeterEvent,
    Reading,
    encode_batch,
    encode_event,
    encode_reading,
    event_topic,
    gateway_topic,
    parse_message,
    reading_topic,
)

NOW = 1_796_000_000_000  # 2026-11-30T00:53:20Z
T = 1_795_996_800_000  # 2026-11-30T00:00:00Z = 08:00 China time


def one(topic: str, body: object) -> Reading:
    parsed = parse_message(topic, json.dumps(body).encode(), NOW)
    assert not parsed.rejections, parsed.rejections
    (reading,) = parsed.readings
    return reading


def reasons(topic: str, payload: bytes) -> list[str]:
    return [r.reason for r in parse_message(topic, payload, NOW).rejections]


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        (T, T),
        ("2026-11-30T00:00:00Z", T),
        ("2026-11-30T08:00:00+08:00", T),
        ("2026-11-30T08:00:00", T),  # no offset: China Standard Time
        ("2026-11-30 08:00", T),
    ],
)
def test_timestamps_in_every_accepted_form(ts: object, expected: int) -> None:
    assert one(reading_topic("M1"), {"ts": ts, "value": 1.5}).ts_ms == expected


@pytest.mark.parametrize(
    ("unit", "value", "stored", "canonical"),
    [("kWh", 2.0, 2.0, "kWh"), ("KWH", 2.0, 2.0, "kWh"), ("Wh", 2500, 2.5, "kWh"),
     ("MWh", 1.5, 1500.0, "kWh"), ("m3", 3, 3.0, "m3"), ("m³", 3.0, 3.0, "m3"), ("t", 4, 4.0, "m3"),
     ("千瓦时", 2.0, 2.0, "kWh"), ("度", 2.0, 2.0, "kWh"), ("立方米", 3.0, 3.0, "m3"), ("吨", 4, 4.0, "m3")],
)  # fmt: skip
def test_units_are_normalised(unit: str, value: float, stored: float, canonical: str) -> None:
    r = one(reading_topic("M1"), {"ts": T, "value": value, "unit": unit})
    assert (r.value, r.unit) == (stored, canonical)


def test_defaults_and_interval_readings() -> None:
    assert one(reading_topic("M1"), {"ts": T, "value": 7}) == Reading("M1", T, 7.0, "cumulative", "kWh")
    assert (
        one(reading_topic("W1"), {"ts": T, "value": 0.4, "type": "interval", "unit": "m3"}).kind == "interval"
    )


def test_a_gateway_batch_keeps_its_good_readings_and_rejects_each_bad_one() -> None:
    batch = {
        "readings": [
            {"meter": "A", "ts": T, "value": 1.0},
            {"meter": "B", "ts": T, "value": float("nan")},
            {"meter": "bad id!", "ts": T, "value": 1.0},
            {"meter": "C", "ts": 5, "value": 1.0},
            {"meter": "D", "ts": NOW + 2 * 86_400_000, "value": 1.0},
            {"meter": "E", "ts": T, "value": True},
            {"meter": "F", "ts": T, "value": 1.0, "type": "delta"},
            {"meter": "G", "ts": T, "value": 1.0, "unit": "kW"},
            {"meter": "H", "ts": "yesterday", "value": 1.0},
            {"meter": "I", "ts": T, "value": 2.0},
        ]
    }
    parsed = parse_message(gateway_topic("GW1"), json.dumps(batch).encode(), NOW)
    assert [r.meter_id for r in parsed.readings] == ["A", "I"]
    rejected = {r.index: (r.meter_id, r.reason) for r in parsed.rejections}
    assert sorted(rejected) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert "finite" in rejected[1][1]
    assert "meter id" in rejected[2][1]
    assert all("before 2000 or more than a day in the future" in rejected[i][1] for i in (3, 4))
    assert "number" in rejected[5][1]
    assert "cumulative or interval" in rejected[6][1]
    assert "unknown unit" in rejected[7][1]
    assert "ISO 8601" in rejected[8][1]
    assert rejected[4][0] == "D"  # each rejection names its meter where it can
    assert all(r.payload == json.dumps(batch).encode() for r in parsed.rejections)  # kept for replay


def test_whole_messages_that_cannot_be_read() -> None:
    assert reasons(reading_topic("M1"), b"{not json")[0].startswith("payload is not JSON")
    assert reasons(reading_topic("M1"), b"[1, 2]") == ["payload must be an object"]
    assert reasons(gateway_topic("G"), b'{"ts": 1}') == ["a gateway message needs {'readings': [...]}"]
    assert reasons(gateway_topic("G"), b'{"readings": 3}') == ["'readings' must be a list"]
    assert reasons("entgraph/meters/M1/other", b"{}") == ["unknown topic 'entgraph/meters/M1/other'"]
    assert reasons("other/meters/M1/readings", b"{}") == ["unknown topic 'other/meters/M1/readings'"]
    assert reasons("entgraph/meters/a b/readings", b"{}") == ["bad meter id 'a b' in topic"]


def test_events_and_the_encoders_round_trip() -> None:
    event = MeterEvent("M1", T, "replacement", 98231.5, 0.0)
    assert parse_message(event_topic("M1"), encode_event(event), NOW).events == [event]
    assert reasons(event_topic("M1"), b'{"ts": 1795996800000, "event": "moved"}')[0].startswith(
        "event must be"
    )
    reading = Reading("M1", T, 12.5, "interval", "m3")
    assert one(reading_topic("M1"), json.loads(encode_reading(T, 12.5, "interval", "m3"))) == reading
    many = [Reading(f"M{i}", T + i, float(i), "cumulative", "kWh") for i in range(3)]
    assert parse_message(gateway_topic("G"), encode_batch(many), NOW).readings == many
    own = parse_message(reading_topic("M1"), b'{"readings": [{"ts": 1795996800000, "value": 1}]}', NOW)
    assert own.readings == [Reading("M1", T, 1.0, "cumulative", "kWh")]  # a meter's own batch
