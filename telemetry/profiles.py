"""Deterministic load profiles for the demo city's meters: what the simulator publishes.

A profile describes one meter: its load shape over the day (one, two or three shifts), how weekends,
China's public holidays and the Spring Festival shutdown lower it, planned shutdowns, noise, and the
register's own history (a replacement, a meter that dies). :func:`readings` turns a profile and a time
window into the cumulative register values a terminal would send.

Everything here is a pure function of the profile: no clock, no I/O, no state that changes a result.
Register values come from per-day totals in closed form plus per-day noise seeded by
``(seed, meter, day)``, so a window gives the same readings whether it is computed whole, in pieces, in
another order or in another process — a restarted simulator continues the very same registers.
The module caches intermediate sums only to save time; clearing them (:func:`clear_caches`) changes
nothing.

Times are UTC epoch milliseconds; days, shifts and holidays are China Standard Time (UTC+8, no DST).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import math
import random
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from entgraph.localtime import CST, DAY_MS, OFFSET_MS, day_number, day_number_start_ms
from entgraph.telemetry.payloads import MeterEvent, Reading
from entgraph.workdays import HOLIDAYS, SPRING_FESTIVAL, is_workday

MeterKind = Literal["electricity", "water"]
Shift = Literal["one", "two", "three"]

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
_EPOCH = dt.date(1970, 1, 1)

# Registers count from this CST midnight unless a profile says otherwise: readings are defined from the
# origin on, and the cost of the first call grows with the days between the origin and the window.
DEFAULT_ORIGIN_MS = int(dt.datetime(2025, 1, 1, tzinfo=CST).timestamp() * 1000)
# Where make_fleet puts the swap, the dead meter and maintenance shutdowns unless told otherwise.
DEFAULT_WINDOW_MS = (DEFAULT_ORIGIN_MS + 365 * DAY_MS, DEFAULT_ORIGIN_MS + 730 * DAY_MS)  # 2026 CST

UNITS: dict[str, str] = {"electricity": "kWh", "water": "m3"}
# Register resolution: a meter shows 0.01 kWh or one litre; rounding a non-decreasing value to a fixed
# step keeps it non-decreasing, so the register still never goes backwards.
_DIGITS: dict[str, int] = {"electricity": 2, "water": 3}


@dataclass(frozen=True)
class MeterProfile:
    """One meter's load and register history.

    Load at a moment = ``base_load × (standby + (1 - standby) × shift activity × day activity)`` times
    noise, where shift activity (0..1) follows the hour of the CST day and day activity is 1 on a
    workday, ``weekend_factor`` on a weekend, ``holiday_factor`` on a public holiday,
    ``spring_festival_factor`` through a manufacturer's Spring Festival shutdown and 0 in a planned
    shutdown. ``standby`` is what never switches off (servers, compressors, lighting, leaks).
    """

    meter_id: str
    kind: MeterKind
    cadence_min: int  # 5 (electricity) or 60 (water)
    base_load: float  # kW or m3/h at full activity
    shift: Shift = "one"  # one: 08-17; two: 08-24; three: continuous, with a night dip
    weekend_factor: float = 0.3
    holiday_factor: float = 0.1
    standby: float = 0.15
    night_dip: float = 0.75  # three-shift activity 00:00-06:00
    manufacturer: bool = False
    # Manufacturers stop before the official 春节 holiday and restart well after it (workers travel
    # home): days added before and after, and the activity in that stretch.
    spring_festival_days: tuple[int, int] = (0, 0)
    spring_festival_factor: float = 0.05
    shutdowns: tuple[tuple[dt.date, dt.date], ...] = ()  # planned shutdowns, first and last CST day
    noise: float = 0.08  # per-interval multiplicative noise (lognormal sigma)
    day_noise: float = 0.05  # per-day multiplicative noise (uniform ± this)
    swap_at: int | None = None  # ms, a tick: the meter is replaced and the register restarts
    swap_value: float = 0.0  # the new meter's register at swap_at (~0)
    dead_at: int | None = None  # ms: no readings at or after this
    initial_value: float = 0.0  # the register at origin_ms
    seed: int = 0
    origin_ms: int = DEFAULT_ORIGIN_MS  # a CST midnight: the register is defined from here on
    _key: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in UNITS:
            raise ValueError(f"kind must be electricity or water, not {self.kind!r}")
        if self.cadence_min not in (5, 60):
            raise ValueError(f"cadence_min must be 5 or 60, not {self.cadence_min}")
        if self.shift not in ("one", "two", "three"):
            raise ValueError(f"shift must be one, two or three, not {self.shift!r}")
        if (self.origin_ms + OFFSET_MS) % DAY_MS:
            raise ValueError("origin_ms must be a CST midnight")
        if self.swap_at is not None and (self.swap_at % self.cadence_ms or self.swap_at <= self.origin_ms):
            raise ValueError("swap_at must be a cadence tick after origin_ms")
        # A stable 64-bit key per (seed, meter): str hash() is salted per process, blake2b is not.
        digest = hashlib.blake2b(f"{self.seed}\x00{self.meter_id}".encode(), digest_size=8).digest()
        object.__setattr__(self, "_key", int.from_bytes(digest, "big"))

    @property
    def cadence_ms(self) -> int:
        return self.cadence_min * MINUTE_MS

    @property
    def unit(self) -> str:
        return UNITS[self.kind]


def day_date(day: int) -> dt.date:
    return _EPOCH + dt.timedelta(days=day)


@functools.cache
def _spring_shutdown(before: int, after: int) -> frozenset[int]:
    """CST day numbers of a manufacturer's Spring Festival shutdown, every year of the table."""
    days: set[int] = set()
    for first, last in SPRING_FESTIVAL.values():
        lo = (first - _EPOCH).days - before
        days.update(range(lo, (last - _EPOCH).days + after + 1))
    return frozenset(days)


_WORKDAY, _WEEKEND, _HOLIDAY = 0, 1, 2


@functools.lru_cache(maxsize=8192)
def _day_class(day: int) -> int:
    date = day_date(day)
    if date in HOLIDAYS:
        return _HOLIDAY
    return _WORKDAY if is_workday(date) else _WEEKEND


def day_activity(profile: MeterProfile, day: int) -> float:
    """The activity (0..1) of a CST day for this profile, before noise."""
    if profile.shutdowns:
        date = day_date(day)
        for first, last in profile.shutdowns:
            if first <= date <= last:
                return 0.0
    if profile.manufacturer and day in _spring_shutdown(*profile.spring_festival_days):
        return profile.spring_festival_factor
    cls = _day_class(day)
    if cls == _HOLIDAY:
        return profile.holiday_factor
    return profile.weekend_factor if cls == _WEEKEND else 1.0


def _shift_activity(shift: str, hour: float, night_dip: float) -> float:
    """Activity (0..1) at an hour of the day (the interval's midpoint)."""
    if shift == "three":
        return night_dip if hour < 6 else 1.0
    if shift == "two":
        if hour < 7:
            return 0.0
        return 0.4 if hour < 8 else 1.0
    # One shift, 08-17: staff arrive from 07:00, lunch dips, the building empties by 18:00.
    if 8 <= hour < 17:
        return 0.7 if 12 <= hour < 13 else 1.0
    return 0.4 if 7 <= hour < 8 or 17 <= hour < 18 else 0.0


@functools.lru_cache(maxsize=1024)
def _shape(shift: str, cadence_min: int, night_dip: float) -> tuple[tuple[float, ...], float]:
    """The shift activity of every interval of a day, and its sum."""
    n = 1440 // cadence_min
    values = tuple(_shift_activity(shift, (i + 0.5) * cadence_min / 60, night_dip) for i in range(n))
    return values, math.fsum(values)


def _mix(x: int) -> int:
    """splitmix64: a fast, well-spread 64-bit hash, for per-day noise that needs no RNG object."""
    x = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return x ^ (x >> 31)


def _day_key(profile: MeterProfile, day: int) -> int:
    return _mix(profile._key ^ ((day * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF))


def day_total(profile: MeterProfile, day: int) -> float:
    """Consumption of a CST day (kWh or m3), in closed form: what the day's intervals sum to."""
    shape, shape_sum = _shape(profile.shift, profile.cadence_min, profile.night_dip)
    u = (_day_key(profile, day) >> 11) / float(1 << 53)
    noise = 1.0 + profile.day_noise * (2.0 * u - 1.0)
    fixed = profile.standby * len(shape)
    varying = (1.0 - profile.standby) * shape_sum
    return (
        profile.base_load
        * profile.cadence_min
        / 60.0
        * noise
        * (fixed + varying * day_activity(profile, day))
    )


@functools.lru_cache(maxsize=8192)
def _day_cumulative(profile: MeterProfile, day: int) -> array[float]:
    """Cumulative consumption at the end of each interval of a day; the last equals day_total.

    The interval noise is renormalised so the day sums to its closed-form total: registers can then
    be found without generating the noise of every earlier day."""
    shape, _ = _shape(profile.shift, profile.cadence_min, profile.night_dip)
    rng = random.Random(_day_key(profile, day))
    activity = day_activity(profile, day)
    sigma = profile.noise
    raw = [
        (profile.standby + (1.0 - profile.standby) * a * activity)
        * math.exp(sigma * rng.gauss() - sigma * sigma / 2)
        for a in shape
    ]
    total = day_total(profile, day)
    scale = total / math.fsum(raw)
    # array('d'), not a tuple of floats: a quarter of the memory for the thousands of cached days.
    out = array("d")
    acc = 0.0
    for x in raw:
        acc += x * scale
        out.append(acc)
    out[-1] = total  # the float sum may differ in the last bits; the closed form is the truth
    return out


# Prefix sums of day totals since each profile's origin, grown on demand. Only a cache: every entry is
# a pure function of the profile, and the sums are always accumulated in the same order.
_PREFIX: dict[MeterProfile, array[float]] = {}  # 8 bytes a day: 10,000 meters x 2 years = 58 MB


def _prefix(profile: MeterProfile, day: int) -> float:
    """Consumption from the origin to the start of ``day``."""
    origin = day_number(profile.origin_ms)
    index = day - origin
    if index < 0:
        raise ValueError(f"{profile.meter_id}: {day_date(day)} is before the register's origin")
    sums = _PREFIX.get(profile)
    if sums is None:
        sums = _PREFIX[profile] = array("d", [0.0])
    if len(sums) <= index:
        _extend(profile, sums, origin, index)
    return sums[index]


def _extend(profile: MeterProfile, sums: array[float], origin: int, index: int) -> None:
    """Append prefix sums up to ``index``: day_total() inlined, since a fleet's first window can need a
    million of them. Must compute exactly what day_total() does (a test holds them equal)."""
    _, shape_sum = _shape(profile.shift, profile.cadence_min, profile.night_dip)
    n = 1440 // profile.cadence_min
    scale = profile.base_load * profile.cadence_min / 60.0
    fixed = profile.standby * n
    varying = (1.0 - profile.standby) * shape_sum
    key, amp = profile._key, profile.day_noise
    acc = sums[-1]
    for day in range(origin + len(sums) - 1, origin + index):
        u = (_mix(key ^ ((day * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF)) >> 11) / float(1 << 53)
        acc += scale * (1.0 + amp * (2.0 * u - 1.0)) * (fixed + varying * day_activity(profile, day))
        sums.append(acc)


def clear_caches() -> None:
    """Forget cached sums (memory only: results do not depend on them)."""
    _PREFIX.clear()
    _day_cumulative.cache_clear()


def consumed(profile: MeterProfile, ts_ms: int) -> float:
    """Consumption from the origin to ``ts_ms`` (a cadence tick), ignoring swaps: the load's integral."""
    if ts_ms % profile.cadence_ms:
        raise ValueError(f"{ts_ms} is not a {profile.cadence_min}-minute tick")
    if ts_ms == profile.origin_ms:
        return 0.0
    start = ts_ms - profile.cadence_ms  # the interval ending at ts_ms starts here
    day = day_number(start)
    index = (start - day_number_start_ms(day)) // profile.cadence_ms
    return _prefix(profile, day) + _day_cumulative(profile, day)[index]


def register(profile: MeterProfile, ts_ms: int) -> float:
    """The register shown at a tick: the old meter before ``swap_at``, the new one from it on."""
    if profile.swap_at is not None and ts_ms >= profile.swap_at:
        # Grouped as readings() groups it, so both give the very same float.
        value = consumed(profile, ts_ms) + (profile.swap_value - consumed(profile, profile.swap_at))
    else:
        value = profile.initial_value + consumed(profile, ts_ms)
    return round(value, _DIGITS[profile.kind])


def swap_event(profile: MeterProfile) -> MeterEvent | None:
    """The replacement event: the old meter's final register and the new one's first, at swap_at."""
    if profile.swap_at is None or (profile.dead_at is not None and profile.swap_at >= profile.dead_at):
        return None
    digits = _DIGITS[profile.kind]
    old = round(profile.initial_value + consumed(profile, profile.swap_at), digits)
    return MeterEvent(
        profile.meter_id, profile.swap_at, "replacement", old, round(profile.swap_value, digits)
    )


def ticks(profile: MeterProfile, start_ms: int, end_ms: int) -> range:
    """The cadence ticks in [start_ms, end_ms) at which the meter reports (origin and death bound it)."""
    step = profile.cadence_ms
    lo = max(start_ms, profile.origin_ms + step)
    hi = end_ms if profile.dead_at is None else min(end_ms, profile.dead_at)
    first = -(-lo // step) * step
    return range(first, max(first, hi), step)


def readings(profile: MeterProfile, start_ms: int, end_ms: int) -> tuple[list[Reading], list[MeterEvent]]:
    """Cumulative register readings at every tick in [start_ms, end_ms), and the events in it."""
    meter, unit, step = profile.meter_id, profile.unit, profile.cadence_ms
    digits = _DIGITS[profile.kind]
    swap_at = profile.swap_at if profile.swap_at is not None else end_ms + 1  # never reached if unset
    # The same arithmetic as register(), one CST day at a time: the per-tick cache lookups of
    # register() cost more than the readings themselves on a large fleet.
    offset_new = 0.0 if profile.swap_at is None else profile.swap_value - consumed(profile, profile.swap_at)
    out: list[Reading] = []
    span = ticks(profile, start_ms, end_ms)
    t = span.start
    while t < span.stop:
        day = day_number(t - step)
        base = _prefix(profile, day)
        cumulative = _day_cumulative(profile, day)
        first = day_number_start_ms(day) + step  # the tick that ends the day's first interval
        last = min(span.stop, day_number_start_ms(day + 1) + step)
        for tick in range(t, last, step):
            c = base + cumulative[(tick - first) // step]
            value = c + offset_new if tick >= swap_at else profile.initial_value + c
            out.append(Reading(meter, tick, round(value, digits), "cumulative", unit))
        t = last
    event = swap_event(profile)
    events = [event] if event is not None and start_ms <= event.ts_ms < end_ms else []
    return out, events


# Archetypes of the demo city: (name, shift, manufacturer, weekend, holiday, standby, base load range
# for electricity kW, for water m3/h, weight).
_ARCHETYPES: tuple[
    tuple[str, Shift, bool, float, float, float, tuple[float, float], tuple[float, float], float], ...
] = (
    ("office", "one", False, 0.12, 0.05, 0.15, (20.0, 400.0), (0.3, 4.0), 0.30),
    ("retail", "two", False, 0.9, 0.6, 0.2, (50.0, 600.0), (0.5, 6.0), 0.20),
    ("light-industry", "two", True, 0.4, 0.15, 0.12, (150.0, 2000.0), (1.0, 15.0), 0.20),
    ("process-plant", "three", True, 0.85, 0.5, 0.25, (500.0, 8000.0), (5.0, 80.0), 0.30),
)


def _log_uniform(rng: random.Random, lo: float, hi: float) -> float:
    # Enterprise loads spread over orders of magnitude; log-uniform gives small and large sites alike.
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def _tick_in(rng: random.Random, lo_ms: int, hi_ms: int, step_ms: int) -> int:
    return (rng.randrange(lo_ms, max(lo_ms + 1, hi_ms)) // step_ms) * step_ms


def make_fleet(
    meters: Sequence[tuple[str, str]], seed: int, *, window: tuple[int, int] | None = None
) -> list[MeterProfile]:
    """Varied profiles for ``(meter_id, kind)`` pairs (kind ``electricity`` or ``water``).

    With three meters or more, exactly one is replaced (``swap_at``, in the second third of
    ``window``) and another dies (``dead_at``, in the last third). ``window`` ([start, end) ms, default
    the year 2026 CST) also places maintenance shutdowns; pass the window you will simulate so the swap
    and the death happen in it. The same arguments always give the same fleet.
    """
    lo, hi = window if window is not None else DEFAULT_WINDOW_MS
    if hi <= lo:
        raise ValueError("window must be (start_ms, end_ms) with start < end")
    origin = min(DEFAULT_ORIGIN_MS, day_number_start_ms(day_number(lo)))
    fleet: list[MeterProfile] = []
    weights = [a[-1] for a in _ARCHETYPES]
    for meter_id, kind in meters:
        if kind not in UNITS:
            raise ValueError(f"{meter_id}: kind must be electricity or water, not {kind!r}")
        # String seeds hash with SHA-512 inside random: stable across processes and Python versions.
        rng = random.Random(f"{seed}/{meter_id}")
        _, shift, maker, weekend, holiday, standby, e_range, w_range, _ = rng.choices(_ARCHETYPES, weights)[0]
        water = kind == "water"
        shutdowns: tuple[tuple[dt.date, dt.date], ...] = ()
        if maker and rng.random() < 0.15:
            first = day_date(day_number(rng.randrange(lo, hi)))
            shutdowns = ((first, first + dt.timedelta(days=rng.randint(2, 6))),)
        fleet.append(
            MeterProfile(
                meter_id=meter_id,
                kind="water" if water else "electricity",
                cadence_min=60 if water else 5,
                base_load=round(_log_uniform(rng, *(w_range if water else e_range)), 3),
                shift=shift,
                weekend_factor=min(1.0, weekend * rng.uniform(0.8, 1.2)),
                holiday_factor=holiday,
                standby=standby * rng.uniform(0.7, 1.3),
                night_dip=rng.choice((0.6, 0.65, 0.7, 0.75, 0.8, 0.85)),  # few shapes to cache
                manufacturer=maker,
                spring_festival_days=(rng.randint(3, 7), rng.randint(7, 14)) if maker else (0, 0),
                spring_festival_factor=rng.uniform(0.03, 0.1),
                shutdowns=shutdowns,
                noise=rng.uniform(0.04, 0.12),
                day_noise=rng.uniform(0.02, 0.08),
                initial_value=round(
                    _log_uniform(rng, 100.0, 50_000.0) if water else _log_uniform(rng, 1e3, 5e5), 2
                ),
                seed=seed,
                origin_ms=origin,
            )
        )
    if len(fleet) >= 3:
        pick = random.Random(f"{seed}/fleet")
        swapped, dead = pick.sample(range(len(fleet)), 2)
        span = hi - lo
        p = fleet[swapped]
        at = _tick_in(pick, lo + span // 3, lo + 2 * span // 3, p.cadence_ms)
        fleet[swapped] = replace(
            p, swap_at=max(at, origin + p.cadence_ms), swap_value=round(pick.uniform(0.0, 2.0), 2)
        )
        p = fleet[dead]
        fleet[dead] = replace(p, dead_at=_tick_in(pick, lo + 2 * span // 3, hi, p.cadence_ms))
    return fleet
