"""Reporting timeliness: did each department send each period's data by its deadline?

A period's deadline is its spec's ``deadline`` duration after the period ends (the instant the next
period starts, China Standard Time). Wuhai's rules become: daily data PT9H30M (09:30 next day),
monthly P5D (by the 5th), quarterly P15D, annual P15D (by 15 January); Jinjiang's monthly P15D.

For each dataset and period: ``on_time`` (first received by the deadline), ``late`` (received after),
``missing`` (deadline passed, nothing received) or ``not_due`` (deadline still ahead).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from entgraph.catalog.spec import DatasetSpec, Frequency
from entgraph.localtime import CST

Status = Literal["on_time", "late", "missing", "not_due", "no_deadline"]

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


@dataclass(frozen=True)
class PeriodStatus:
    period: str
    due: dt.datetime
    received_at: dt.datetime | None
    status: Status


@dataclass(frozen=True)
class FeedStatus:
    dataset: str
    department: str
    title: str
    frequency: str
    last_period: str | None  # the latest period received
    current_period: str | None  # the latest period whose deadline has passed
    status: Status  # of current_period
    periods: tuple[PeriodStatus, ...]  # every period from the first received to the current one


def period_end(label: str) -> dt.datetime:
    """The instant a period ends (start of the next one), in China Standard Time."""
    if m := _DAY.match(label):
        day = dt.date(int(m[1]), int(m[2]), int(m[3])) + dt.timedelta(days=1)
    elif m := _MONTH.match(label):
        year, month = int(m[1]), int(m[2])
        day = dt.date(year + month // 12, month % 12 + 1, 1)
    elif m := _QUARTER.match(label):
        year, quarter = int(m[1]), int(m[2])
        day = dt.date(year + quarter // 4, (quarter % 4) * 3 + 1, 1)
    elif m := _YEAR.match(label):
        day = dt.date(int(m[1]) + 1, 1, 1)
    else:
        raise ValueError(f"not a period label: {label!r}")
    return dt.datetime.combine(day, dt.time(), CST)


def period_label_at(moment: dt.date, frequency: Frequency) -> str:
    if frequency is Frequency.ANNUAL:
        return f"{moment.year}"
    if frequency is Frequency.QUARTERLY:
        return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"
    if frequency in (Frequency.DAILY, Frequency.HOURLY, Frequency.FIVE_MINUTES):
        return moment.isoformat()
    return f"{moment.year}-{moment.month:02d}"


def previous_period(label: str, frequency: Frequency) -> str:
    start = period_start(label)
    return period_label_at(start - dt.timedelta(days=1), frequency)


def period_start(label: str) -> dt.date:
    if m := _DAY.match(label):
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    if m := _MONTH.match(label):
        return dt.date(int(m[1]), int(m[2]), 1)
    if m := _QUARTER.match(label):
        return dt.date(int(m[1]), (int(m[2]) - 1) * 3 + 1, 1)
    if m := _YEAR.match(label):
        return dt.date(int(m[1]), 1, 1)
    raise ValueError(f"not a period label: {label!r}")


def feed_status(
    spec: DatasetSpec, uploads: Iterable[Mapping[str, Any]], as_of: dt.datetime, max_periods: int = 60
) -> FeedStatus:
    """Timeliness of one dataset as of a moment, from its upload summaries (graph Upload nodes)."""
    received: dict[str, dt.datetime] = {}
    for upload in uploads:
        if upload.get("status") != "done":
            continue
        at = _instant(upload.get("received_at") or upload.get("started_at"))
        for label in upload.get("periods") or ():
            if _is_label(label) and (label not in received or at < received[label]):
                received[label] = at
    last = max(received, key=period_start) if received else None
    if spec.deadline is None or spec.frequency in (Frequency.ON_CHANGE, Frequency.FULL_SNAPSHOT):
        return FeedStatus(
            spec.key, spec.department, spec.title, spec.frequency.value, last, None, "no_deadline", ()
        )

    current = period_label_at(as_of.astimezone(CST).date(), spec.frequency)
    while period_end(current) + spec.deadline > as_of:
        current = previous_period(current, spec.frequency)
    periods: list[PeriodStatus] = []
    label = period_label_at((as_of.astimezone(CST)).date(), spec.frequency)
    earliest = min(received, key=period_start) if received else current
    while len(periods) < max_periods and period_start(label) >= period_start(earliest):
        due = period_end(label) + spec.deadline
        at = received.get(label)
        if at is not None:
            status: Status = "on_time" if at <= due else "late"
        else:
            status = "missing" if due <= as_of else "not_due"
        periods.append(PeriodStatus(label, due, at, status))
        label = previous_period(label, spec.frequency)
    current_status = next((p.status for p in periods if p.period == current), "missing")
    return FeedStatus(
        spec.key,
        spec.department,
        spec.title,
        spec.frequency.value,
        last,
        current,
        current_status,
        tuple(periods),
    )


def _is_label(label: Any) -> bool:
    return isinstance(label, str) and any(p.match(label) for p in (_DAY, _MONTH, _QUARTER, _YEAR))


def _instant(value: Any) -> dt.datetime:
    moment = dt.datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


_NAME_QUARTER = re.compile(r"(20\d{2})\s*(?:[-_.]?\s*Q([1-4])|年第?([1-4一二三四])季度)", re.I)
_NAME_MONTH = re.compile(r"(20\d{2})\s*[-_.年]?\s*(0?[1-9]|1[0-2])(?!\d)")
_NAME_YEAR = re.compile(r"(?<!\d)(20\d{2})(?!\d)")
_CN_DIGIT = {"一": "1", "二": "2", "三": "3", "四": "4"}


def period_from_file_name(name: str, frequency: Frequency) -> str | None:
    """The period a file says it covers in its name: 税务登记_2023-04.xlsx, 2023年一季度..., 2023年报."""
    if m := _NAME_QUARTER.search(name):
        quarter = m[2] or _CN_DIGIT.get(m[3], m[3])
        if frequency is Frequency.ANNUAL:
            return m[1]
        return f"{m[1]}-Q{quarter}"
    if m := _NAME_MONTH.search(name):
        return period_label_at(dt.date(int(m[1]), int(m[2]), 1), frequency)
    if m := _NAME_YEAR.search(name):
        return m[1] if frequency in (Frequency.ANNUAL, Frequency.FULL_SNAPSHOT, Frequency.ON_CHANGE) else None
    return None


def last_ended_period(moment: dt.datetime, frequency: Frequency) -> str:
    """The most recent period that had ended at ``moment``: what an upload then most likely reports."""
    current = period_label_at(moment.astimezone(CST).date(), frequency)
    return previous_period(current, frequency)
