"""The MQTT topic and payload schema of meter readings, and the one parser every ingester uses.

Topics (``{meter_id}``: letters, digits, ``_ . -``; at most 64 characters):

- ``entgraph/meters/{meter_id}/readings`` — one meter's reading::

      {"ts": "2026-11-30T10:05:00+08:00", "value": 15234.5, "type": "cumulative", "unit": "kWh"}

  or several of that meter's readings: ``{"readings": [{"ts": ..., "value": ...}, ...]}``.
- ``entgraph/gateways/{gateway_id}/readings`` — a gateway (a concentrator, 集中器) batch of many
  meters' readings, each naming its meter: ``{"readings": [{"meter": "M1", "ts": ..., ...}, ...]}``.
- ``entgraph/meters/{meter_id}/events`` — a meter replacement or recalibration::

      {"ts": "...", "event": "replacement", "old_value": 98231.0, "new_value": 0.0}

Fields of a reading:

- ``ts``: ISO 8601 with an offset (``Z`` or ``+08:00``), or epoch milliseconds. A time with no offset is
  China Standard Time (UTC+8), which is what terminals here send; China has kept no daylight saving
  since 1991, so the offset is fixed and no time is ambiguous.
- ``value``: a finite number.
- ``type``: ``cumulative`` (a register: consumption is the difference of readings; the default) or
  ``interval`` (the consumption of the period ending at ``ts``).
- ``unit``: ``kWh`` (the default), ``Wh``, ``MWh``, ``m3``, ``m³`` or ``t``
  (a tonne of water is a cubic metre). Values are stored in kWh or m³.

A message that cannot be read at all is rejected whole; in a batch, each bad reading is rejected on its
own and the good ones are kept. Nothing is dropped: every rejection names its reason and goes to the
quarantine with the message it came from.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from entgraph.localtime import DAY_MS, local_ms

Kind = Literal["cumulative", "interval"]
KINDS: frozenset[str] = frozenset(("cumulative", "interval"))
EVENTS: frozenset[str] = frozenset(("replacement", "recalibration"))

TOPIC_ROOT = "entgraph"
READINGS_TOPIC = TOPIC_ROOT + "/meters/{meter_id}/readings"
GATEWAY_TOPIC = TOPIC_ROOT + "/gateways/{gateway_id}/readings"
EVENTS_TOPIC = TOPIC_ROOT + "/meters/{meter_id}/events"
# What an ingester subscribes to (wildcards); shared subscriptions prefix these with $share/{group}/.
SUBSCRIPTIONS = (
    TOPIC_ROOT + "/meters/+/readings",
    TOPIC_ROOT + "/gateways/+/readings",
    TOPIC_ROOT + "/meters/+/events",
)

_METER_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
# Canonical unit and factor for every unit spelling accepted.
UNITS: dict[str, tuple[str, float]] = {
    "kwh": ("kWh", 1.0),
    "wh": ("kWh", 0.001),
    "mwh": ("kWh", 1000.0),
    "千瓦时": ("kWh", 1.0),
    "度": ("kWh", 1.0),  # 1 度 is 1 kWh in everyday Chinese
    "m3": ("m3", 1.0),
    "m³": ("m3", 1.0),
    "立方米": ("m3", 1.0),
    "t": ("m3", 1.0),  # water by weight: a tonne is a cubic metre
    "吨": ("m3", 1.0),
}
UTILITY_OF_UNIT = {"kWh": "electricity", "m3": "water"}


def utility_of_unit(unit: str | None) -> str | None:
    """electricity or water, from a unit in any spelling ``UNITS`` accepts; None for others."""
    found = UNITS.get((unit or "").strip().lower())
    return UTILITY_OF_UNIT[found[0]] if found else None


# The spellings terminals send, looked up as they are before any case folding.
_UNIT_EXACT: dict[Any, tuple[str, float]] = {"kWh": ("kWh", 1.0), "m3": ("m3", 1.0), "m³": ("m3", 1.0)}
# Readings dated before this or more than a day ahead of the receiver's clock are refused: a terminal
# whose clock has reset to 1970 or jumped a year would otherwise file consumption in the wrong month.
EARLIEST_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
FUTURE_SLACK_MS = DAY_MS


class Reading(NamedTuple):
    """One meter reading, normalised: UTC epoch milliseconds, canonical unit. A named tuple: an
    ingester makes thousands a second, and a tuple is built several times faster than a frozen
    dataclass."""

    meter_id: str
    ts_ms: int
    value: float
    kind: Kind
    unit: str


@dataclass(frozen=True, slots=True)
class MeterEvent:
    """A meter replacement or recalibration: the register read ``old_value`` before and ``new_value``
    after ``ts_ms``."""

    meter_id: str
    ts_ms: int
    event: str
    old_value: float | None
    new_value: float | None


@dataclass(frozen=True, slots=True)
class Rejection:
    """A message, or one reading of a batch, that could not be accepted, and why."""

    topic: str
    payload: bytes
    reason: str
    index: int | None = None  # position in a batch; None for the whole message
    meter_id: str | None = None


UNKNOWN_METER_PREFIX = "unknown meter"
_NAMED_UNKNOWN = 5  # meters a quarantine reason lists by name


def unknown_meters(topic: str, payload: bytes, meters: Sequence[str]) -> Rejection:
    """The quarantine row of a message naming ``meters`` the registry does not know (yet): one row per
    message, not per reading, so a gateway batch is stored once; replay re-reads the payload. The row's
    ``meter_id`` is the first of them: replay looks at the row again once that meter is known."""
    more = f" (+{len(meters) - _NAMED_UNKNOWN} more)" if len(meters) > _NAMED_UNKNOWN else ""
    reason = f"{UNKNOWN_METER_PREFIX}: " + ", ".join(meters[:_NAMED_UNKNOWN]) + more
    return Rejection(topic, payload, reason, None, meters[0])


@dataclass(slots=True)
class Parsed:
    readings: list[Reading]
    events: list[MeterEvent]
    rejections: list[Rejection]


class _Bad(ValueError):
    pass


def reading_topic(meter_id: str) -> str:
    return READINGS_TOPIC.format(meter_id=meter_id)


def gateway_topic(gateway_id: str) -> str:
    return GATEWAY_TOPIC.format(gateway_id=gateway_id)


def event_topic(meter_id: str) -> str:
    return EVENTS_TOPIC.format(meter_id=meter_id)


def parse_message(topic: str, payload: bytes, now_ms: int) -> Parsed:
    """Readings, events and rejections in one MQTT message; never raises."""
    out = Parsed([], [], [])
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != TOPIC_ROOT or parts[1] not in ("meters", "gateways"):
        out.rejections.append(Rejection(topic, payload, f"unknown topic {topic!r}"))
        return out
    _, family, source, leaf = parts
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        out.rejections.append(Rejection(topic, payload, f"payload is not JSON: {exc}"))
        return out
    if family == "meters" and not _METER_ID.fullmatch(source):
        out.rejections.append(Rejection(topic, payload, f"bad meter id {source!r} in topic"))
        return out
    if family == "meters" and leaf == "events":
        _events(topic, payload, source, body, now_ms, out)
    elif leaf == "readings":
        _readings(topic, payload, source if family == "meters" else None, body, now_ms, out)
    else:
        out.rejections.append(Rejection(topic, payload, f"unknown topic {topic!r}"))
    return out


def _readings(topic: str, payload: bytes, meter: str | None, body: Any, now_ms: int, out: Parsed) -> None:
    if isinstance(body, dict) and "readings" in body:
        items = body["readings"]
        if not isinstance(items, list):
            out.rejections.append(Rejection(topic, payload, "'readings' must be a list"))
            return
        batch = True
    elif meter is not None and isinstance(body, dict):
        items, batch = [body], False
    else:
        what = "a gateway message needs {'readings': [...]}" if meter is None else "payload must be an object"
        out.rejections.append(Rejection(topic, payload, what))
        return
    for i, item in enumerate(items):
        index = i if batch else None
        try:
            out.readings.append(_reading(item, meter, now_ms))
        except _Bad as exc:
            named = item.get("meter") if isinstance(item, dict) else None
            named = named if isinstance(named, str) else None
            out.rejections.append(Rejection(topic, payload, str(exc), index, meter or named))


def _reading(item: Any, meter: str | None, now_ms: int) -> Reading:
    # The hot path of every ingester: plain type checks first, the general helpers only for the rest.
    if not isinstance(item, dict):
        raise _Bad("a reading must be an object")
    if meter is None:
        meter = item.get("meter")
        if not isinstance(meter, str) or not _METER_ID.fullmatch(meter):
            raise _Bad(f"bad or missing meter id {meter!r}")
    kind = item.get("type", "cumulative")
    if kind not in KINDS:
        raise _Bad(f"type must be cumulative or interval, not {kind!r}")
    unit, factor = _UNIT_EXACT.get(item.get("unit", "kWh")) or _unit(item.get("unit"))
    value = item.get("value")
    # finite floats pass at once (inf - inf and nan - nan are nan); anything else is checked in full
    number = value if type(value) is float and value - value == 0.0 else _number(value, "value")
    ts = item.get("ts")
    in_range = type(ts) is int and EARLIEST_MS <= ts <= now_ms + FUTURE_SLACK_MS
    ms = ts if in_range else _timestamp(ts, now_ms)
    return Reading(meter, ms, number * factor if factor != 1.0 else number, kind, unit)


def _events(topic: str, payload: bytes, meter: str, body: Any, now_ms: int, out: Parsed) -> None:
    try:
        if not isinstance(body, dict):
            raise _Bad("payload must be an object")
        event = body.get("event")
        if event not in EVENTS:
            raise _Bad(f"event must be replacement or recalibration, not {event!r}")
        old, new = body.get("old_value"), body.get("new_value")
        out.events.append(
            MeterEvent(
                meter,
                _timestamp(body.get("ts"), now_ms),
                event,
                None if old is None else _number(old, "old_value"),
                None if new is None else _number(new, "new_value"),
            )
        )
    except _Bad as exc:
        out.rejections.append(Rejection(topic, payload, str(exc), None, meter))


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Bad(f"{name} must be a number, not {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise _Bad(f"{name} must be finite, not {value!r}")
    return number


def _unit(value: Any) -> tuple[str, float]:
    found = UNITS.get(value.lower()) if isinstance(value, str) else None
    if found is None:
        raise _Bad(f"unknown unit {value!r} (use kWh, Wh, MWh, m3 or t)")
    return found


def _timestamp(value: Any, now_ms: int) -> int:
    if isinstance(value, bool):
        raise _Bad(f"ts must be ISO 8601 or epoch milliseconds, not {value!r}")
    if isinstance(value, int | float):
        ms = int(value)
    elif isinstance(value, str):
        try:
            ms = local_ms(value)  # no offset: China time, what terminals here send
        except ValueError:
            raise _Bad(f"ts is not ISO 8601: {value!r}") from None
    else:
        raise _Bad(f"ts must be ISO 8601 or epoch milliseconds, not {value!r}")
    if ms < EARLIEST_MS or ms > now_ms + FUTURE_SLACK_MS:
        raise _Bad(f"ts {value!r} is before 2000 or more than a day in the future")
    return ms


def encode_reading(ts_ms: int, value: float, kind: Kind = "cumulative", unit: str = "kWh") -> bytes:
    """The single-reading payload (what a terminal or the simulator publishes)."""
    return json.dumps({"ts": ts_ms, "value": value, "type": kind, "unit": unit}).encode()


def encode_batch(readings: list[Reading]) -> bytes:
    """A gateway batch payload."""
    return json.dumps(
        {
            "readings": [
                {"meter": r.meter_id, "ts": r.ts_ms, "value": r.value, "type": r.kind, "unit": r.unit}
                for r in readings
            ]
        },
        separators=(",", ":"),
    ).encode()


def encode_event(event: MeterEvent) -> bytes:
    return json.dumps(
        {"ts": event.ts_ms, "event": event.event, "old_value": event.old_value, "new_value": event.new_value}
    ).encode()
