"""A town's dashboard over GraphQL, and how well each town handles warnings and verifications.

``townDashboard(town, month)`` gathers, as the caller may see them, the town's enterprises by status
and industry, its monthly tax, electricity and insured employees with the change on a year before,
the above-scale and key enterprises that changed most, the long-term shut-down and loss-making lists
(``telemetry/town_figures.py``), its open warnings and verifications with their ages, and its
effectiveness. ``townEffectiveness`` ranks every town by the last one (seed 001 四(三): the towns'
handling of warnings and verifications is part of their effectiveness monitoring). The same figures go
into the monthly town report (``api/town_exports.py``).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import strawberry
from strawberry.types import Info

from entgraph.api.auth import Role, requires
from entgraph.api.client_errors import BadInput
from entgraph.api.context import Context
from entgraph.api.metrics import sources_visible_to
from entgraph.api.towns import ROUND
from entgraph.api.visibility import visibility_of
from entgraph.catalog.registry import Catalog
from entgraph.graph import metric_queries, town_queries, warning_queries
from entgraph.graph.port import GraphStore
from entgraph.localtime import CST
from entgraph.resolution import field_checks, verification
from entgraph.telemetry import town_figures as tf
from entgraph.telemetry.warnings import month_label, month_number, monthly_figures
from entgraph.workdays import add_workdays

WARNING_WORKDAYS = 10  # a town feeds back on a warning within 10 working days (预警反馈)
ABOVE_SCALE_LABELS = frozenset({"AboveScaleListing"})
KEY_LABELS = frozenset({"HonorAward", "ListedCompany"})  # 龙头, 专精特新, 高新, 瞪羚, 上市
OPEN = ["open", "acknowledged"]


@dataclass
class Handling:
    """One kind of work a town received in a window and how it handled it."""

    received: int = 0
    handled: int = 0
    on_time: int = 0
    open: int = 0
    median_days: float | None = None


@dataclass
class Dashboard:
    figures: tf.TownFigures
    warnings: list[dict[str, Any]] = field(default_factory=list)
    verifications: list[dict[str, Any]] = field(default_factory=list)
    warning_handling: Handling = field(default_factory=Handling)
    verification_handling: Handling = field(default_factory=Handling)
    field_checks: dict[str, int] = field(default_factory=dict)  # this month's, per status seen


def last_complete_month(now: dt.datetime | None = None) -> str:
    today = (now or dt.datetime.now(CST)).astimezone(CST)
    return month_label(month_number(today.strftime("%Y-%m")) - 1)  # type: ignore[operator]


def assemble(
    store: GraphStore, catalog: Catalog, role: Role, town: str, month: str | None, shutdown_months: int
) -> Dashboard:
    """The dashboard of ``town`` for ``month`` (``YYYY-MM``; None: the last complete month with
    figures, the feeds lagging behind the calendar) as ``role`` may see it."""
    sight = visibility_of(catalog, role)
    sources = [s for s in sources_visible_to(catalog, role) if s.metric in tf.METRICS]
    people = town_queries.enterprises(store, town, sight)
    ids = [row["id"] for row in people]
    figures = monthly_figures(metric_queries.series(store, ids, sources)) if ids else {}
    groups: dict[str, set[str]] = defaultdict(set)
    seen = set(sight.datasets) if sight.datasets is not None else None
    for group, labels in (("above_scale", ABOVE_SCALE_LABELS), ("key", KEY_LABELS)):
        datasets = [f.spec.key for f in catalog if f.spec.record_label in labels]
        datasets = [d for d in datasets if seen is None or d in seen]
        for row in town_queries.listed(store, ids, datasets):
            groups[row["id"]].add(group)
    if month is None:
        latest = last_complete_month()
        reported = [m for by_month in figures.values() for m in by_month if m <= latest]
        month = max(reported, default=latest)
    number = month_number(month)
    assert number is not None  # checked by the caller
    out = Dashboard(tf.compute(town, number, people, figures, groups, shutdown_months))
    now = dt.datetime.now(dt.UTC)
    page = warning_queries.by_town(store, town, statuses=OPEN, first=100, sight=sight)
    out.warnings = [
        {**w, "age_days": (now.timestamp() * 1000 - w["opened_at"]) / 86_400_000} for w in page["items"]
    ]
    out.verifications = [
        {**v, "age_days": (now - dt.datetime.fromisoformat(v["first_seen_at"])).total_seconds() / 86400}
        # what is on the town's desk now, whatever month the figures are of
        for v in verification.listing(store, town, verification.current_round())
        if v["status"] == "open"
    ]
    this_month = now.astimezone(CST).strftime("%Y-%m")
    out.field_checks = field_checks.checks_per_town(store, this_month).get(town, {})
    # how the town handles its desk: the twelve months up to today, like its open work
    until = now.astimezone(CST).date()
    handled = effectiveness(store, until - dt.timedelta(days=365), until)
    out.warning_handling, out.verification_handling = handled.get(town, (Handling(), Handling()))
    return out


def effectiveness(
    store: GraphStore, since: dt.date, until: dt.date
) -> dict[str | None, tuple[Handling, Handling]]:
    """Per town: (warnings, verifications) received between ``since`` and ``until`` (China dates) and
    how it handled them: settled, within the deadline (10 and 20 working days), median days, open."""
    start = dt.datetime.combine(since, dt.time(), CST)
    warnings: dict[str | None, Handling] = defaultdict(Handling)
    days: dict[str | None, list[float]] = defaultdict(list)
    for row in town_queries.warning_handling(store, int(start.timestamp() * 1000)):
        opened = dt.datetime.fromtimestamp(row["opened_at"] / 1000, CST)
        if opened.date() > until:
            continue
        town = warnings[row.get("town")]
        town.received += 1
        if row.get("resolved_at") is not None:
            closed = dt.datetime.fromtimestamp(row["resolved_at"] / 1000, CST)
            town.handled += 1
            town.on_time += closed.date() <= add_workdays(opened.date(), WARNING_WORKDAYS)
            days[row.get("town")].append((closed - opened).total_seconds() / 86400)
        else:
            town.open += 1
    for name, spent in days.items():
        warnings[name].median_days = round(statistics.median(spent), 1)
    checks = {
        name: Handling(t["received"], t["handled"], t["on_time"], t["open"], t["median_days"])
        for name, t in verification.timeliness(store, since, until).items()
    }
    return {
        name: (warnings.get(name, Handling()), checks.get(name, Handling())) for name in {*warnings, *checks}
    }


# -- GraphQL ------------------------------------------------------------------------------------------


@strawberry.type(description="A count of the town's enterprises by a value (status, industry).")
class ValueCount:
    value: str
    count: int


@strawberry.type(description="The town's totals for one month, and their change on a year before.")
class TownMonth:
    month: str
    tax: float | None
    electricity_kwh: float | None
    insured_employees: float | None
    tax_yoy: float | None = strawberry.field(description="0.12 is +12% on the same month a year before.")
    electricity_yoy: float | None
    insured_employees_yoy: float | None


@strawberry.type(description="An above-scale or key enterprise whose figures changed most.")
class EnterpriseChange:
    enterprise: str
    name: str
    group: str = strawberry.field(description="above_scale or key.")
    metric: str
    current: float = strawberry.field(description="The last three months.")
    previous: float = strawberry.field(description="The same three months a year before.")
    change: float


@strawberry.type(description="An enterprise with no power and no tax for months (长期停业).")
class DormantEnterprise:
    enterprise: str
    name: str
    last_active: str | None
    months: int


@strawberry.type(description="An enterprise losing money over the last twelve months (亏损).")
class LossMakingEnterprise:
    enterprise: str
    name: str
    net_profit: float
    loss_months: int


@strawberry.type(description="Work a town received in a window and how it handled it.")
class HandlingFigures:
    received: int
    handled: int
    on_time: int = strawberry.field(description="Handled within the deadline (working days).")
    open: int
    median_days: float | None


@strawberry.type(description="Something still open on the town's desk, and for how long.")
class OpenWork:
    id: str
    kind: str = strawberry.field(description="The warning's rule, or the verification's check.")
    name: str
    enterprise: str | None
    age_days: float


@strawberry.type(description="A town's dashboard for its monthly analysis meeting.")
class TownDashboard:
    town: str
    month: str
    enterprises: int
    by_status: list[ValueCount]
    by_industry: list[ValueCount]
    monthly: list[TownMonth]
    largest_changes: list[EnterpriseChange]
    long_shutdown: list[DormantEnterprise]
    loss_making: list[LossMakingEnterprise]
    profit_reported: bool = strawberry.field(description="Whether any feed reports net profit here.")
    open_warnings: list[OpenWork]
    open_verifications: list[OpenWork]
    warnings: HandlingFigures
    verifications: HandlingFigures
    field_checks: list[ValueCount] = strawberry.field(
        description="This month's field checks (现场核查) per status seen, and their total."
    )


@strawberry.type(description="How one town handled warnings and verifications in a window.")
class TownEffectiveness:
    town: str | None
    warnings: HandlingFigures
    verifications: HandlingFigures


def _counts(counter: Any, top: int = 15) -> list[ValueCount]:
    return [ValueCount(value=str(v), count=n) for v, n in counter.most_common(top)]


def _handling(h: Handling) -> HandlingFigures:
    return HandlingFigures(
        received=h.received, handled=h.handled, on_time=h.on_time, open=h.open, median_days=h.median_days
    )


def to_graphql(board: Dashboard) -> TownDashboard:
    f = board.figures
    return TownDashboard(
        town=f.town,
        month=f.month,
        enterprises=sum(f.by_status.values()),
        by_status=_counts(f.by_status),
        by_industry=_counts(f.by_industry),
        monthly=[
            TownMonth(
                month=m.month,
                tax=m.values[tf.TAX],
                electricity_kwh=m.values[tf.ELECTRICITY],
                insured_employees=m.values[tf.INSURED],
                tax_yoy=m.year_on_year[tf.TAX],
                electricity_yoy=m.year_on_year[tf.ELECTRICITY],
                insured_employees_yoy=m.year_on_year[tf.INSURED],
            )
            for m in f.monthly
        ],
        largest_changes=[
            EnterpriseChange(
                enterprise=c.enterprise,
                name=c.name,
                group=c.group,
                metric=c.metric,
                current=c.current,
                previous=c.previous,
                change=round(c.change, 4),
            )
            for c in f.changes
        ],
        long_shutdown=[
            DormantEnterprise(
                enterprise=d.enterprise, name=d.name, last_active=d.last_active, months=d.months
            )
            for d in f.dormant
        ],
        loss_making=[
            LossMakingEnterprise(
                enterprise=x.enterprise, name=x.name, net_profit=x.net_profit, loss_months=x.loss_months
            )
            for x in f.loss_making
        ],
        profit_reported=f.profit_reported,
        open_warnings=[
            OpenWork(
                id=w["id"],
                kind=w["rule"],
                name=w.get("message_zh") or "",
                enterprise=w.get("enterprise"),
                age_days=round(w["age_days"], 1),
            )
            for w in board.warnings
        ],
        open_verifications=[
            OpenWork(
                id=v["key"],
                kind=v["check"],
                name=v.get("name") or "",
                enterprise=v.get("enterprise"),
                age_days=round(v["age_days"], 1),
            )
            for v in board.verifications
        ],
        warnings=_handling(board.warning_handling),
        verifications=_handling(board.verification_handling),
        field_checks=[ValueCount(value=k, count=n) for k, n in sorted(board.field_checks.items())],
    )


@strawberry.type
class TownDashboardQuery:
    @strawberry.field(
        description="Every town with enterprises the caller may see, largest first.",
        permission_classes=[requires(Role.ANALYST)],
    )
    async def towns(self, info: Info[Context, None]) -> list[ValueCount]:
        sight = visibility_of(info.context.catalog, info.context.principal.role)
        rows = await info.context.in_thread(town_queries.towns, info.context.store, sight)
        return [ValueCount(value=r["town"], count=r["enterprises"]) for r in rows]

    @strawberry.field(
        description="A town's dashboard for a month (by default the last complete month with figures).",
        permission_classes=[requires(Role.ANALYST)],
    )
    async def town_dashboard(
        self, info: Info[Context, None], town: str, month: str | None = None, shutdown_months: int = 6
    ) -> TownDashboard:
        if month is not None and not ROUND.match(month):
            raise BadInput(f"month {month!r}: e.g. 2026-10")
        if not 1 <= shutdown_months <= 60:
            raise BadInput("shutdownMonths lies between 1 and 60")
        ctx = info.context
        board = await ctx.in_thread(
            assemble, ctx.store, ctx.catalog, ctx.principal.role, town[:50], month, shutdown_months
        )
        return to_graphql(board)

    @strawberry.field(
        description="Per town: warnings and verifications received in a window (the last twelve "
        "months by default), handled, within the deadline, median days, still open.",
        permission_classes=[requires(Role.ANALYST)],
    )
    async def town_effectiveness(
        self, info: Info[Context, None], since: dt.date | None = None, until: dt.date | None = None
    ) -> list[TownEffectiveness]:
        until = until or dt.datetime.now(CST).date()
        since = since or until - dt.timedelta(days=365)
        if since > until or (until - since).days > 3660:
            raise BadInput("since comes before until, at most ten years apart")
        rows = await info.context.in_thread(effectiveness, info.context.store, since, until)
        return [
            TownEffectiveness(town=town, warnings=_handling(w), verifications=_handling(v))
            for town, (w, v) in sorted(rows.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
        ]
