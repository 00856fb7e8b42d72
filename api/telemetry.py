"""Meters, their series and warnings over GraphQL.

``Enterprise.meters``, ``Enterprise.consumption``, ``Enterprise.warnings``, ``warnings``, ``warning``,
``meterReview`` (and the deprecated ``metersForReview``), ``telemetryQuarantine`` and the warning and meter
mutations.

Series come from the series store's reader (Parquet published by the ingester, queried with DuckDB in
this process); the registry and warnings from the graph. Every list goes through a DataLoader, so a
panorama with many meters costs one registry read, one last-reading query and one series query per
distinct window, not one per meter.

Who sees what: a meter's readings are its device feed's data (有条件使用, not open to the public), so the
public gets meters without series; warnings are for the city's staff (analyst and above); changing a
warning's status or a meter's owners takes a steward, and each change is kept in its history. As
everywhere (``api/visibility.py``), a warning about an enterprise only datasets hidden from the caller
know is not there for it, a warning's town and industry peer group show (and a town finds and counts
it) only where the caller may see its enterprise's golden town and industry, and its figures only where
it may see every metric source they came from; a meter names only enterprises the caller may see (a
steward cannot pin one to an enterprise it may not see, and its pin leaves the meter's links to such
enterprises as they are: ``meter_queries.pin``), and is ``shared`` only between such enterprises.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from entgraph.api.auth import Role, requires
from entgraph.api.client_errors import BadInput, NotFound
from entgraph.api.context import Context
from entgraph.api.limits import DEFAULT_LIST_SIZE
from entgraph.api.masking import column_sharing, mask_kind
from entgraph.api.pagination import MAX_PAGE, PageInfo, check_first, decode_cursor, encode_cursor
from entgraph.api.visibility import visibility
from entgraph.catalog.spec import DatasetSpec
from entgraph.graph import enterprise_queries
from entgraph.graph import meter_queries as mq
from entgraph.graph import warning_queries as wq
from entgraph.localtime import CST, DAY_MS, local_ms
from entgraph.telemetry import meter_registry as registry
from entgraph.telemetry import warning_lifecycle

STEWARD_ONLY = [requires("steward")]
ANALYST_UP = [requires("analyst")]
# Points one series may return: about a month of 5-minute intervals. Longer windows take a coarser
# interval (hourly for a year is 8,760 points, under the cap).
MAX_POINTS = 10_000
_STEP_MS = {"RAW": 300_000, "HOUR": 3_600_000, "DAY": DAY_MS, "MONTH": 28 * DAY_MS}
_DEFAULT_DAYS = {"RAW": 1, "HOUR": 7, "DAY": 90, "MONTH": 730}
_DEVICE_FEED = {"electricity": "wh_meter_electricity", "water": "wh_meter_water"}
_ACCOUNT_FIELD = "account_no"


@strawberry.enum(description="RAW: each reading interval (5 min for electricity, 1 h for water).")
class SeriesInterval(Enum):
    RAW = "RAW"
    HOUR = "HOUR"
    DAY = "DAY"
    MONTH = "MONTH"


@strawberry.type(description="Consumption in one interval or bucket (China local time).")
class SeriesPoint:
    start: str = strawberry.field(
        description="Local start: 2026-11-30T10:05+08:00, 2026-11-30T10:00+08:00 (China time with its "
        "offset), 2026-11-30 or 2026-11."
    )
    start_ms: float = strawberry.field(description="UTC epoch milliseconds of the start.")
    value: float | None = strawberry.field(description="kWh or m³; null when it cannot be known (suspect).")
    quality: str = strawberry.field(description="good, estimated (spread over a gap, a rollover) or suspect.")
    reason: str | None = strawberry.field(default=None, description="Why not good: negative_delta, spike ...")


@strawberry.type(description="A meter's consumption over a window.")
class MeterSeries:
    interval: SeriesInterval
    unit: str | None
    start: str
    end: str
    points: list[SeriesPoint]


@strawberry.type(
    description="Readings received against expected in one local day (the national rule: ≥ 90%)."
)
class DayCompleteness:
    day: str
    expected: int
    received: int
    ratio: float
    complete: bool


@strawberry.type(description="A meter measuring the enterprise, and why the registry says so.")
class Meter:
    meter_id: str
    utility: str | None = strawberry.field(description="electricity or water")
    account_no: str | None = strawberry.field(description="The utility account (户号) its feed carries.")
    via: str | None = strawberry.field(description="credit_code, account, name or steward")
    evidence: str | None
    shared: bool = strawberry.field(
        description="多户一表: also measures other enterprises the caller may see (for stewards)."
    )
    review: str | None = strawberry.field(description="shared or unattached while a steward must decide.")
    enterprise_ids: list[str] = strawberry.field(description="Every enterprise it is attached to.")

    @strawberry.field(
        description="Time of its latest published reading (ISO 8601, China time with its +08:00 offset)."
    )
    async def last_reading_at(self, info: Info[Context, None]) -> str | None:
        if not _may_see_series(info, self.utility):
            return None
        ms = await _last_seen_loader(info).load(self.meter_id)
        return None if ms is None else _local_iso(ms, "minutes")

    @strawberry.field(
        description="Consumption between ``from`` and ``to`` (ISO dates or times, China time; default: a "
        "window ending now that suits the interval), per interval. Null for roles that may not see the "
        "device feed."
    )
    async def series(
        self,
        info: Info[Context, None],
        interval: SeriesInterval = SeriesInterval.HOUR,
        start: Annotated[str | None, strawberry.argument(name="from")] = None,
        end: Annotated[str | None, strawberry.argument(name="to")] = None,
    ) -> MeterSeries | None:
        if not _may_see_series(info, self.utility):
            return None
        lo, hi = _window(info, interval, start, end)
        points = await _series_loader(info).load((self.meter_id, interval.value, lo, hi))
        unit = points[0][1] if points else None
        return MeterSeries(
            interval=interval,
            unit=unit,
            start=_local_iso(lo, "minutes"),
            end=_local_iso(hi, "minutes"),
            points=[p[0] for p in points],
        )

    @strawberry.field(description="Per local day: readings received against expected.")
    async def completeness(
        self,
        info: Info[Context, None],
        start: Annotated[str | None, strawberry.argument(name="from")] = None,
        end: Annotated[str | None, strawberry.argument(name="to")] = None,
    ) -> list[DayCompleteness] | None:
        if not _may_see_series(info, self.utility):
            return None
        lo, hi = _window(info, SeriesInterval.DAY, start, end, default_days=30)
        rows = await _completeness_loader(info).load((self.meter_id, lo, hi))
        return [
            DayCompleteness(
                day=str(r["day"]),
                expected=int(r["expected"]),
                received=int(r["received"]),
                ratio=float(r["ratio"]),
                complete=bool(r["complete"]),
            )
            for r in rows
        ]


@strawberry.type(description="One change of a warning's status.")
class WarningAction:
    at: str
    actor: str | None
    from_status: str | None
    to_status: str | None
    note: str | None


@strawberry.type(description="A warning raised by a rule (see docs/warnings.md), with its status.")
class Warning:
    props: strawberry.Private[dict[str, Any]]

    @strawberry.field
    def id(self) -> str:
        return self.props["id"]

    @strawberry.field(description="tax_per_kwh_low, zero_consumption, sudden_drop or meter_silent")
    def rule(self) -> str:
        return self.props["rule"]

    @strawberry.field(description="low, medium or high")
    def severity(self) -> str | None:
        return self.props.get("severity")

    @strawberry.field(description="The month, quarter or day the finding is about.")
    def period(self) -> str | None:
        return self.props.get("period")

    @strawberry.field(description="open, acknowledged or resolved")
    def status(self) -> str:
        return self.props["status"]

    @strawberry.field
    def message_zh(self) -> str | None:
        return self.props.get("message_zh")

    @strawberry.field
    def message_en(self) -> str | None:
        return self.props.get("message_en")

    @strawberry.field(description="The figures behind it (ratios, medians, months ...).")
    def evidence(self) -> JSON:
        return self.props.get("evidence") or {}

    @strawberry.field
    def town(self) -> str | None:
        return self.props.get("town")

    @strawberry.field
    def enterprise_id(self) -> str | None:
        return self.props.get("enterprise")

    @strawberry.field
    def meter_id(self) -> str | None:
        return self.props.get("meter")

    @strawberry.field
    def opened_at(self) -> str | None:
        return _iso_or_none(self.props.get("opened_at"))

    @strawberry.field
    def updated_at(self) -> str | None:
        return _iso_or_none(self.props.get("updated_at"))

    @strawberry.field(description="The feedback note it was resolved with.")
    def feedback(self) -> str | None:
        return self.props.get("feedback")

    @strawberry.field(description="Every status change, oldest first (who, when, note).")
    async def history(self, info: Info[Context, None]) -> list[WarningAction]:
        found = self.props.get("history")
        if found is None:  # a page of warnings: every history on it is read in one statement
            found = await _history_loader(info.context).load(self.props["id"])
        return [
            WarningAction(
                at=_iso_or_none(a.get("at")) or "",
                actor=a.get("actor"),
                from_status=a.get("from_status"),
                to_status=a.get("to_status"),
                note=a.get("note"),
            )
            for a in found
        ]


def _history_loader(context: Context) -> Any:
    async def load(ids: list[str]) -> list[list[dict[str, Any]]]:
        found = await context.in_thread(wq.histories, context.store, ids)
        return [found.get(i, []) for i in ids]

    return context.loader("warning.history", load)


@strawberry.type
class WarningEdge:
    cursor: str
    node: Warning


@strawberry.type(description="A page of warnings, newest first.")
class WarningConnection:
    total_count: int
    edges: list[WarningEdge]
    page_info: PageInfo
    has_next_page: bool = strawberry.field(deprecation_reason="Use pageInfo { hasNextPage }, as every list.")
    end_cursor: str | None = strawberry.field(deprecation_reason="Use pageInfo { endCursor }, as every list.")


@strawberry.type
class MeterEdge:
    cursor: str
    node: Meter


@strawberry.type(description="A page of meters waiting for a steward, in meter id order.")
class MeterConnection:
    edges: list[MeterEdge]
    page_info: PageInfo


@strawberry.type(description="Messages the ingester could not store, by reason.")
class QuarantineCount:
    reason: str
    count: int


@strawberry.type(description="One quarantined message (or reading of a batch).")
class QuarantinedMessage:
    id: int
    received_at: str
    topic: str
    reason: str
    meter_id: str | None
    payload: str = strawberry.field(description="The payload as received (first 2,000 characters).")
    replayed: bool


@strawberry.type(description="What telemetry could not store: counted, kept, replayable.")
class TelemetryQuarantine:
    counts: list[QuarantineCount]
    latest: list[QuarantinedMessage]


# --- helpers ---------------------------------------------------------------------------------------------


def _device_spec(context: Context, utility: str | None) -> DatasetSpec | None:
    return context.spec(_DEVICE_FEED.get(utility or "electricity", "wh_meter_electricity"))


def _may_see_series(info: Info[Context, None], utility: str | None) -> bool:
    """Whether the caller may see a meter of ``utility``: its device feed's data."""
    return info.context.may_see(_DEVICE_FEED.get(utility or "electricity", "wh_meter_electricity"))


def _account_as_seen(context: Context, utility: str | None, account: Any) -> Any:
    """A utility account number (户号) as this caller may see it: its device feed's column decides, as
    for every masked field; without that feed in the catalog, staff only."""
    spec = _device_spec(context, utility)
    column = next((c for c in spec.columns if c.field == _ACCOUNT_FIELD), None) if spec else None
    if spec is None or column is None:
        return account if context.principal.role.covers(Role.ANALYST) else None
    return context.mask(column_sharing(spec, _ACCOUNT_FIELD), mask_kind(column), account)


def _parse_time(value: str, name: str) -> int:
    try:
        return local_ms(value)
    except ValueError:
        raise BadInput(
            f"{name} must be an ISO date or time such as 2026-11-30 or 2026-11-30T08:00", argument=name
        ) from None


def _window(
    info: Info[Context, None],
    interval: SeriesInterval,
    start: str | None,
    end: str | None,
    default_days: int | None = None,
) -> tuple[int, int]:
    # "Now" is the request's, not each resolver's: every meter of a panorama then asks for the same
    # window, and the series loader reads them all in one query (a clock read per meter gave each its
    # own millisecond, and its own query).
    hi = _parse_time(end, "to") if end else info.context.now_ms
    days = default_days or _DEFAULT_DAYS[interval.value]
    lo = _parse_time(start, "from") if start else hi - days * DAY_MS
    if lo >= hi:
        raise BadInput("from must be before to", argument="from")
    if (hi - lo) // _STEP_MS[interval.value] > MAX_POINTS:
        raise BadInput(
            f"that window has more than {MAX_POINTS:,} {interval.value.lower()} points: narrow it or use a "
            "coarser interval",
            argument="interval",
        )
    return lo, hi


def _local_iso(ms: int, spec: str) -> str:
    """China time with its offset (2026-11-04T00:00+08:00): a time without a zone is read in the
    reader's own, which a front end abroad or a server in UTC gets wrong."""
    return dt.datetime.fromtimestamp(ms / 1000, CST).isoformat(timespec=spec)


def _iso_or_none(ms: Any) -> str | None:
    return (
        None
        if ms is None
        else dt.datetime.fromtimestamp(int(ms) / 1000, dt.UTC).isoformat(timespec="seconds")
    )


def _last_seen_loader(info: Info[Context, None]) -> Any:
    context = info.context

    async def load(meters: list[str]) -> list[int | None]:
        seen = await context.in_thread(context.series.last_seen, meters)
        return [seen.get(m) for m in meters]

    return context.loader("meter.last_seen", load)


_SeriesKey = tuple[str, str, int, int]  # meter, interval, from, to


def _series_loader(info: Info[Context, None]) -> Any:
    context = info.context

    def read(keys: list[_SeriesKey]) -> dict[_SeriesKey, list[tuple[SeriesPoint, str]]]:
        # One query per distinct (interval, window): a panorama asks for all its meters' series at once.
        groups: dict[tuple[str, int, int], list[str]] = defaultdict(list)
        for meter, interval, lo, hi in keys:
            groups[(interval, lo, hi)].append(meter)
        out: dict[_SeriesKey, list[tuple[SeriesPoint, str]]] = defaultdict(list)
        reader = context.series
        for (interval, lo, hi), meters in groups.items():
            if interval == "RAW":
                for r in reader.consumption("intervals", meter_ids=meters, start_ms=lo, end_ms=hi):
                    point = SeriesPoint(
                        start=_local_iso(int(r["start_ms"]), "minutes"),
                        start_ms=float(r["start_ms"]),
                        value=r["consumption"],
                        quality=r["quality"],
                        reason=r["reason"],
                    )
                    out[(r["meter_id"], interval, lo, hi)].append((point, r["unit"]))
            else:
                rows = reader.consumption(
                    "aggregate", interval=interval.lower(), meter_ids=meters, start_ms=lo, end_ms=hi
                )
                for r in rows:
                    bucket = str(r["bucket"])  # a day or month is a date; a time gets its offset
                    point = SeriesPoint(
                        start=_local_iso(int(r["bucket_start_ms"]), "minutes") if "T" in bucket else bucket,
                        start_ms=float(r["bucket_start_ms"]),
                        value=r["consumption"],
                        quality=r["quality"],
                    )
                    out[(r["meter_id"], interval, lo, hi)].append((point, r["unit"]))
        for points in out.values():
            points.sort(key=lambda p: p[0].start_ms)
        return out

    async def load(keys: list[_SeriesKey]) -> list[list[tuple[SeriesPoint, str]]]:
        found = await context.in_thread(read, keys)
        return [found.get(k, []) for k in keys]

    return context.loader("meter.series", load)


def _completeness_loader(info: Info[Context, None]) -> Any:
    context = info.context

    def read(keys: list[tuple[str, int, int]]) -> dict[tuple[str, int, int], list[dict[str, Any]]]:
        # One query per distinct window, as for series.
        groups: dict[tuple[int, int], list[str]] = defaultdict(list)
        for meter, lo, hi in keys:
            groups[(lo, hi)].append(meter)
        out: dict[tuple[str, int, int], list[dict[str, Any]]] = defaultdict(list)
        for (lo, hi), meters in groups.items():
            for r in context.series.consumption("completeness", meter_ids=meters, start_ms=lo, end_ms=hi):
                out[(r["meter_id"], lo, hi)].append(r)
        return out

    async def load(keys: list[tuple[str, int, int]]) -> list[list[dict[str, Any]]]:
        found = await context.in_thread(read, keys)
        return [found.get(k, []) for k in keys]

    return context.loader("meter.completeness", load)


def _meter(context: Context, row: dict[str, Any], owners: list[str]) -> Meter:
    utility, via, evidence = row.get("utility"), row.get("via"), row.get("evidence")
    return Meter(
        meter_id=row["meter"],
        utility=utility,
        account_no=_account_as_seen(context, utility, row.get("account_no")),
        via=via,
        # matched on the account, the evidence is that account number
        evidence=_account_as_seen(context, utility, evidence) if via == "account" else evidence,
        shared=bool(row.get("shared")),
        review=row.get("review"),
        enterprise_ids=owners,
    )


async def enterprise_consumption(
    info: Info[Context, None], enterprise_id: str, utility: str, interval: SeriesInterval,
    start: str | None, end: str | None,
) -> MeterSeries | None:  # fmt: skip
    """The enterprise's consumption: the sum of its own meters of ``utility`` per bucket. Shared meters
    (多户一表) are left out until a steward decides whose they are; RAW is per meter only. Shared as the
    caller sees it (``Meter.shared``): leaving out one shared only with enterprises it may not see would
    tell it they exist, so for it that meter is this enterprise's, as its ``meters`` say."""
    if utility not in registry.UTILITIES:
        raise BadInput(f"utility must be electricity or water, not {utility!r}", argument="utility")
    if interval is SeriesInterval.RAW:
        raise BadInput("an enterprise's consumption is by HOUR, DAY or MONTH", argument="interval")
    if not _may_see_series(info, utility):
        return None
    meters = [
        m for m in await enterprise_meters(info, enterprise_id, 500) if m.utility == utility and not m.shared
    ]
    lo, hi = _window(info, interval, start, end)
    series = await _series_loader(info).load_many([(m.meter_id, interval.value, lo, hi) for m in meters])
    buckets: dict[float, list[SeriesPoint]] = defaultdict(list)
    unit = None
    for points in series:
        for point, point_unit in points:
            buckets[point.start_ms].append(point)
            unit = point_unit
    order = {"good": 0, "estimated": 1, "suspect": 2}
    summed = [
        SeriesPoint(
            start=group[0].start,
            start_ms=start_ms,
            value=None if any(p.value is None for p in group) else sum(p.value or 0.0 for p in group),
            quality=max((p.quality for p in group), key=lambda q: order.get(q, 2)),
        )
        for start_ms, group in sorted(buckets.items())
    ]
    return MeterSeries(
        interval=interval,
        unit=unit,
        start=_local_iso(lo, "minutes"),
        end=_local_iso(hi, "minutes"),
        points=summed,
    )


async def enterprise_meters(info: Info[Context, None], enterprise_id: str, first: int) -> list[Meter]:
    context = info.context

    async def load(ids: list[str]) -> list[list[dict[str, Any]]]:
        rows = await context.in_thread(mq.meters_of, context.store, ids, visibility(context))
        found: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            found[row["enterprise"]].append(row)
        return [found.get(i, []) for i in ids]

    if not 1 <= first <= 500:
        raise BadInput("first must be between 1 and 500", argument="first")
    rows = await context.loader("enterprise.meters", load).load(enterprise_id)
    # A meter is what its device feed says: not shown to roles that feed's sharing excludes (public).
    shown = [r for r in rows if _may_see_series(info, r.get("utility"))]
    return [_meter(context, r, [enterprise_id]) for r in shown[:first]]


_STATUS_ARG = "open, acknowledged, resolved; default open and acknowledged"


def _statuses(statuses: list[str] | None) -> tuple[str, ...]:
    chosen = tuple(statuses or ("open", "acknowledged"))
    bad = [s for s in chosen if s not in wq.STATUSES]
    if bad:
        raise BadInput(f"unknown status {bad[0]!r}: use {', '.join(wq.STATUSES)}", argument="statuses")
    return chosen


async def enterprise_warnings(
    info: Info[Context, None], enterprise_id: str, statuses: list[str] | None, first: int
) -> list[Warning] | None:
    context = info.context
    if not context.principal.role.covers(Role.ANALYST):
        return None
    # Bounded like every list, so the cost limit's estimate holds however many periods have warned.
    if not 1 <= first <= DEFAULT_LIST_SIZE:
        raise BadInput(f"first must be between 1 and {DEFAULT_LIST_SIZE}", argument="first")
    wanted = _statuses(statuses)

    async def load(keys: list[tuple[str, tuple[str, ...]]]) -> list[list[dict[str, Any]]]:
        by_status: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for eid, st in keys:
            by_status[st].append(eid)
        found: dict[tuple[str, tuple[str, ...]], list[dict[str, Any]]] = {}
        for st, ids in by_status.items():
            rows = await context.in_thread(
                wq.for_enterprises, context.store, ids, list(st), visibility(context)
            )
            for eid in ids:
                found[(eid, st)] = rows.get(eid, [])
        return [found[k] for k in keys]

    rows = await context.loader("enterprise.warnings", load).load((enterprise_id, wanted))
    return [Warning(props=r) for r in rows[:first]]


def _actor(info: Info[Context, None]) -> str:
    principal = info.context.principal
    return principal.subject or principal.role.value


# --- root fields -----------------------------------------------------------------------------------------


@strawberry.type
class TelemetryQuery:
    @strawberry.field(
        description="A town's warnings, newest first (analyst and above).", permission_classes=ANALYST_UP
    )
    async def warnings(
        self,
        info: Info[Context, None],
        town: str,
        statuses: Annotated[list[str] | None, strawberry.argument(description=_STATUS_ARG)] = None,
        rules: list[str] | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> WarningConnection:
        if not 1 <= first <= MAX_PAGE:
            raise BadInput(f"first must be between 1 and {MAX_PAGE}", argument="first")
        position = decode_cursor("warning", after, json_position=True) if after else None
        if position is not None and not (
            isinstance(position, list) and len(position) == 2 and isinstance(position[0], int)
        ):
            raise BadInput("after is not a cursor this field returned", argument="after")
        context = info.context
        page = await context.in_thread(
            wq.by_town,
            context.store,
            town,
            list(_statuses(statuses)),
            rules,
            first,
            tuple(position) if position else None,
            visibility(context),
        )
        edges = [
            WarningEdge(cursor=encode_cursor("warning", [w["opened_at"], w["id"]]), node=Warning(props=w))
            for w in page["items"]
        ]
        end_cursor = edges[-1].cursor if edges else None
        return WarningConnection(
            total_count=int(page["total"]),
            edges=edges,
            page_info=PageInfo(has_next_page=bool(page["has_next"]), end_cursor=end_cursor),
            has_next_page=bool(page["has_next"]),
            end_cursor=end_cursor,
        )

    @strawberry.field(description="One warning with its history.", permission_classes=ANALYST_UP)
    async def warning(self, info: Info[Context, None], id: str) -> Warning:
        found = await info.context.in_thread(wq.get, info.context.store, id, visibility(info.context))
        if found is None:
            raise NotFound(f"no warning {id}")
        return Warning(props=found)

    @strawberry.field(
        description="Meters waiting for a steward, shared (多户一表) or unattached, in meter id order: "
        "relay-style pages of at most 100.",
        permission_classes=STEWARD_ONLY,
    )
    async def meter_review(
        self, info: Info[Context, None], review: str = "shared", first: int = 50, after: str | None = None
    ) -> MeterConnection:
        if review not in ("shared", "unattached"):
            raise BadInput("review must be shared or unattached", argument="review")
        first = check_first(first)
        position = decode_cursor("meter", after) if after else ""
        context = info.context
        rows = await context.in_thread(
            mq.meters_for_review, context.store, review, first + 1, position, visibility(context)
        )
        edges = [
            MeterEdge(
                cursor=encode_cursor("meter", r["meter"]),
                node=_meter(context, {**r, "review": review}, list(r["enterprises"])),
            )
            for r in rows[:first]
        ]
        return MeterConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(rows) > first, end_cursor=edges[-1].cursor if edges else None
            ),
        )

    @strawberry.field(
        description="Meters waiting for a steward: SHARED (多户一表) or UNATTACHED.",
        permission_classes=STEWARD_ONLY,
        deprecation_reason="Use meterReview: a connection, as every list.",
    )
    async def meters_for_review(
        self, info: Info[Context, None], review: str = "shared", first: int = 50, after: str = ""
    ) -> list[Meter]:
        if review not in ("shared", "unattached"):
            raise BadInput("review must be shared or unattached", argument="review")
        if not 1 <= first <= 500:
            raise BadInput("first must be between 1 and 500", argument="first")
        context = info.context
        rows = await context.in_thread(
            mq.meters_for_review, context.store, review, first, after, visibility(context)
        )
        return [_meter(context, {**r, "review": review}, list(r["enterprises"])) for r in rows]

    @strawberry.field(
        description="What the ingester could not store, by reason (steward and above).",
        permission_classes=STEWARD_ONLY,
    )
    async def telemetry_quarantine(self, info: Info[Context, None], first: int = 20) -> TelemetryQuarantine:
        if not 0 <= first <= 500:
            raise BadInput("first must be between 0 and 500", argument="first")
        reader = info.context.series

        def read() -> tuple[dict[str, int], list[dict[str, Any]]]:
            return reader.quarantine_counts(), reader.quarantined(first)

        counts, rows = await info.context.in_thread(read)
        return TelemetryQuarantine(
            counts=[
                QuarantineCount(reason=k, count=v) for k, v in sorted(counts.items(), key=lambda kv: -kv[1])
            ],
            latest=[
                QuarantinedMessage(
                    id=int(r["id"]),
                    received_at=_iso_or_none(r["received_ms"]) or "",
                    topic=r["topic"],
                    reason=r["reason"],
                    meter_id=r["meter_id"],
                    payload=bytes(r["payload"] or b"").decode("utf-8", "replace")[:2000],
                    replayed=r["replayed_ms"] is not None,
                )
                for r in rows
            ],
        )


@strawberry.type
class TelemetryMutation:
    @strawberry.mutation(
        description="Acknowledge a warning (someone is looking into it).", permission_classes=STEWARD_ONLY
    )
    async def acknowledge_warning(
        self, info: Info[Context, None], id: str, note: str | None = None
    ) -> Warning:
        return await _transition(info, id, "acknowledged", note)

    @strawberry.mutation(
        description="Resolve a warning with a feedback note (what was found, what was done).",
        permission_classes=STEWARD_ONLY,
    )
    async def resolve_warning(self, info: Info[Context, None], id: str, note: str) -> Warning:
        return await _transition(info, id, "resolved", note)

    @strawberry.mutation(
        description="A steward's decision: the meter measures exactly these enterprises (several: a shared "
        "meter). Kept forever; the registry's syncs leave it alone.",
        permission_classes=STEWARD_ONLY,
    )
    async def pin_meter(
        self,
        info: Info[Context, None],
        meter_id: str,
        enterprise_ids: list[str],
        utility: str = "electricity",
    ) -> Meter:
        await _check_known(info, enterprise_ids)
        try:
            linked = await info.context.in_thread(
                registry.pin,
                info.context.store,
                meter_id,
                utility,
                enterprise_ids,
                _actor(info),
                visibility(info.context),
            )
        except ValueError as exc:
            raise BadInput(str(exc), argument="enterpriseIds") from None
        return _meter(
            info.context,
            {
                "meter": meter_id,
                "utility": utility,
                "via": "steward",
                "evidence": _actor(info),
                "shared": len(linked) > 1,
                "review": None if len(linked) == 1 else ("shared" if linked else "unattached"),
            },
            linked,
        )


async def _check_known(info: Info[Context, None], enterprise_ids: list[str]) -> None:
    """Refuse ids of enterprises only datasets hidden from the caller know, as the registry refuses ids
    it does not know (so a steward cannot learn that they exist); nothing to read when it sees all."""
    context = info.context
    sight = visibility(context)
    if sight.datasets is None or not enterprise_ids:
        return
    rows = await context.in_thread(
        enterprise_queries.enterprises, context.store, sorted(set(enterprise_ids)), sight
    )
    missing = sorted(set(enterprise_ids) - {row["id"] for row in rows})
    if missing:
        raise BadInput(f"no live enterprise with id {', '.join(missing)}", argument="enterpriseIds")


async def _transition(info: Info[Context, None], warning_id: str, status: str, note: str | None) -> Warning:
    context = info.context
    try:
        found = await context.in_thread(
            warning_lifecycle.set_status,
            context.store,
            warning_id,
            status,
            note,
            _actor(info),
            int(time.time() * 1000),
            visibility(context),
        )
    except warning_lifecycle.UnknownWarning as exc:
        raise NotFound(str(exc)) from None
    except warning_lifecycle.WarningError as exc:
        raise BadInput(str(exc), argument="note" if "note" in str(exc) else "id") from None
    return Warning(props=found)
