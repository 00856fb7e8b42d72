"""A town's figures for its monthly analysis meeting: totals by month, changes, shut-down and loss lists.

Pure functions of what the graph reads give (the town's enterprises, their monthly figures from
:func:`~entgraph.telemetry.warnings.monthly_figures`, the lists they are on), so the same data always
give the same dashboard:

* **monthly totals** of tax, electricity (kWh) and insured employees, with the change on the same
  month a year before;
* **largest changes** among above-scale and key enterprises: their last three months against the same
  months a year before, by electricity and by tax (seed 001: "数据变化较大的梁柱企业 … 及时组织人员
  进行调研");
* **long-term shut-down** (长期停业): enterprises that once used power or paid tax and have had neither
  for ``shutdown_months`` months up to the month judged;
* **loss-making** (亏损): net profit below zero over the last twelve months, where a feed reports it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from entgraph.telemetry.warnings import ELECTRICITY, TAX, month_label, month_number

INSURED = "insured_employees"
NET_PROFIT = "net_profit"
METRICS = (TAX, ELECTRICITY, INSURED, NET_PROFIT)
SHUTDOWN_MONTHS = 6
CHANGE_MONTHS = 3
TOP = 10
# Figures below these over the compared months make a percentage meaningless (a kiosk's 1 kWh to 5 kWh).
MIN_BASE = {ELECTRICITY: 1000.0, TAX: 1000.0}

Figures = Mapping[tuple[str, str], Mapping[str, tuple[float, str]]]  # as monthly_figures gives them
Series = Mapping[str, Mapping[str, Mapping[int, float]]]  # metric -> enterprise -> month -> value
People = Mapping[str, Mapping[str, Any]]  # enterprise id -> its row


@dataclass(frozen=True)
class MonthTotals:
    month: str
    values: dict[str, float | None]  # metric -> the town's total (None: nobody reported it)
    year_on_year: dict[str, float | None]  # metric -> change on the same month a year before (0.12: +12%)


@dataclass(frozen=True)
class Change:
    enterprise: str
    name: str
    group: str  # above_scale | key
    metric: str
    current: float
    previous: float

    @property
    def change(self) -> float:
        return (self.current - self.previous) / self.previous


@dataclass(frozen=True)
class Dormant:
    enterprise: str
    name: str
    last_active: str | None  # the last month with power or tax
    months: int  # complete months since


@dataclass(frozen=True)
class LossMaking:
    enterprise: str
    name: str
    net_profit: float  # over the last twelve months
    loss_months: int  # months of those with a loss


@dataclass
class TownFigures:
    town: str
    month: str
    by_status: Counter[str] = field(default_factory=Counter)
    by_industry: Counter[str] = field(default_factory=Counter)
    monthly: list[MonthTotals] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    dormant: list[Dormant] = field(default_factory=list)
    loss_making: list[LossMaking] = field(default_factory=list)
    profit_reported: bool = False  # whether any feed reports net profit for the town


def compute(
    town: str,
    month: int,
    enterprises: Iterable[Mapping[str, Any]],
    figures: Figures,
    groups: Mapping[str, set[str]],
    shutdown_months: int = SHUTDOWN_MONTHS,
    months_shown: int = 12,
) -> TownFigures:
    """The dashboard of ``town`` for ``month`` (a month number); ``groups``: enterprise id -> the
    lists it is on (``above_scale``, ``key``)."""
    people = {row["id"]: row for row in enterprises}
    out = TownFigures(town, month_label(month))
    for row in people.values():
        out.by_status[row.get("status") or "未知"] += 1
        out.by_industry[row.get("industry_name") or _division(row.get("industry_code"))] += 1
    series: dict[str, dict[str, dict[int, float]]] = {}
    for (enterprise, metric), by_month in figures.items():
        if enterprise in people:
            numbered = ((month_number(label), v) for label, (v, _) in by_month.items())
            series.setdefault(metric, {})[enterprise] = {m: v for m, v in numbered if m is not None}
    out.monthly = [_totals(series, m) for m in range(month - months_shown + 1, month + 1)]
    out.changes = _changes(series, people, groups, month)
    out.dormant = _dormant(series, people, month, shutdown_months)
    out.profit_reported = bool(series.get(NET_PROFIT))
    out.loss_making = _losses(series.get(NET_PROFIT, {}), people, month)
    return out


def _division(code: str | None) -> str:
    return f"行业{code[:2]}" if code else "未知"


def _totals(series: Series, month: int) -> MonthTotals:
    values: dict[str, float | None] = {}
    change: dict[str, float | None] = {}
    for metric in (TAX, ELECTRICITY, INSURED):
        now = _sum(series.get(metric, {}), month)
        before = _sum(series.get(metric, {}), month - 12)
        values[metric] = now
        change[metric] = (now - before) / before if now is not None and before else None
    return MonthTotals(month_label(month), values, change)


def _sum(by_enterprise: Mapping[str, Mapping[int, float]], month: int) -> float | None:
    found = [v[month] for v in by_enterprise.values() if month in v]
    return round(sum(found), 2) if found else None


def _changes(series: Series, people: People, groups: Mapping[str, set[str]], month: int) -> list[Change]:
    window = range(month - CHANGE_MONTHS + 1, month + 1)
    found = []
    for metric in (ELECTRICITY, TAX):
        for enterprise, by_month in series.get(metric, {}).items():
            for group in sorted(groups.get(enterprise, ())):
                current = sum(by_month.get(m, 0.0) for m in window)
                previous = sum(by_month.get(m - 12, 0.0) for m in window)
                if previous >= MIN_BASE[metric]:
                    found.append(
                        Change(
                            enterprise, people[enterprise].get("name") or "", group, metric, current, previous
                        )
                    )
                break  # one group is enough to be watched; the first names it
    found.sort(key=lambda c: (-abs(c.change), c.enterprise, c.metric))
    return found[:TOP]


def _dormant(series: Series, people: People, month: int, months: int) -> list[Dormant]:
    active: dict[str, int] = {}
    for metric in (ELECTRICITY, TAX):
        for enterprise, by_month in series.get(metric, {}).items():
            used = [m for m, v in by_month.items() if v > 0 and m <= month]
            if used:
                active[enterprise] = max(active.get(enterprise, used[0]), *used)
    # a month nobody in the town reported is a missing feed, not a town at a standstill
    reported = {m for metric in (ELECTRICITY, TAX) for v in series.get(metric, {}).values() for m in v}
    if month not in reported:
        return []
    dormant = [
        Dormant(enterprise, people[enterprise].get("name") or "", month_label(last), month - last)
        for enterprise, last in active.items()
        if month - last >= months
    ]
    return sorted(dormant, key=lambda d: (-d.months, d.enterprise))


def _losses(profits: Mapping[str, Mapping[int, float]], people: People, month: int) -> list[LossMaking]:
    window = range(month - 11, month + 1)
    found = []
    for enterprise, by_month in profits.items():
        figures = [by_month[m] for m in window if m in by_month]
        if figures and sum(figures) < 0:
            name = people[enterprise].get("name") or ""
            found.append(
                LossMaking(enterprise, name, round(sum(figures), 2), sum(1 for v in figures if v < 0))
            )
    return sorted(found, key=lambda x: (x.net_profit, x.enterprise))
