"""Department feeds over GraphQL: the catalog, reporting timeliness and upload history.

``feedStatus`` is ``entgraph feeds status`` (same function, same uploads), so the API and the CLI never
disagree about who reported late. The catalog is public (it says what the city collects, not what was
collected); upload history names files and counts, so it is for analysts and above.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import strawberry
from strawberry.types import Info

from entgraph.api.auth import Role, requires
from entgraph.api.client_errors import BadInput, NotFound
from entgraph.api.context import Context
from entgraph.api.reports import report_file, report_url
from entgraph.catalog.spec import DatasetSpec, Frequency
from entgraph.catalog.timeliness import FeedStatus, feed_status, previous_period
from entgraph.graph import direct_report_queries, honour_queries, upload_queries
from entgraph.loaders.direct_reports import DIRECT
from entgraph.localtime import CST

MAX_UPLOADS = 500


@strawberry.type(description="Who may see a dataset's fields (its defaults; columns may override).")
class DatasetSharing:
    usage: str = strawberry.field(description="无条件使用, 有条件使用 or 不予共享.")
    open_to_public: bool = strawberry.field(description="面向社会开放.")
    credit: bool = strawberry.field(description="Credit data (信用信息).")
    personal: bool = strawberry.field(description="Personal data: masked for roles that may not see it.")


@strawberry.type(description="A dataset the platform can load: one department feed.")
class FeedDataset:
    key: str
    title: str
    department: str
    city: str
    frequency: str = strawberry.field(
        description="5min, hourly, daily, monthly, ... on_change, full_snapshot."
    )
    deadline: str | None = strawberry.field(description="How long after a period ends it is due (ISO 8601).")
    subject: str = strawberry.field(description="enterprise, region or meter: what its rows are about.")
    sharing: DatasetSharing


@strawberry.type(description="One reporting period of a feed.")
class PeriodStatus:
    period: str
    due: str
    received_at: str | None
    status: str = strawberry.field(description="on_time, late, missing or not_due.")


@strawberry.type(description="Whether a feed has been reported on time (as `entgraph feeds status`).")
class FeedTimeliness:
    dataset: str
    title: str
    department: str
    city: str
    frequency: str
    last_period: str | None = strawberry.field(description="The latest period received.")
    current_period: str | None = strawberry.field(description="The latest period whose deadline has passed.")
    status: str = strawberry.field(
        description="Of currentPeriod: on_time, late, missing, not_due, no_deadline."
    )
    overdue_reporters: int | None = strawberry.field(
        default=None,
        description="Enterprise direct reports (企业直报) only: how many enterprises reported the period "
        "before currentPeriod and not currentPeriod, whose deadline has passed (the reminder list, GET "
        "/direct/reminders); null for departments' feeds.",
    )
    history: strawberry.Private[list[PeriodStatus]] = strawberry.field(default_factory=list)

    @strawberry.field(description="Periods from the current one back, newest first.")
    def periods(self, first: int = 12) -> list[PeriodStatus]:
        if first < 1:
            raise BadInput("first must be at least 1")
        return self.history[:first]


@strawberry.type(description="One file loaded into the platform, with its row counts.")
class UploadSummary:
    id: str
    dataset: str
    file_name: str
    status: str = strawberry.field(description="running while it loads, then done.")
    started_at: str | None
    finished_at: str | None
    rows_read: int | None
    loaded: int | None = strawberry.field(description="new + updated.")
    new: int | None
    updated: int | None
    unchanged: int | None
    rejected: int | None
    duplicates: int | None = strawberry.field(
        description="Rows whose record key a later row of the file repeats (the later one is loaded)."
    )
    skipped: int | None = strawberry.field(
        description="Rows left out on purpose: skippedBlank + skippedTotals + skippedHidden. "
        "rowsRead = loaded + unchanged + rejected + duplicates + skipped."
    )
    skipped_blank: int | None = strawberry.field(description="Empty rows inside the table.")
    skipped_totals: int | None = strawberry.field(description="合计 / 总计 / 小计 rows: sums, not records.")
    skipped_hidden: int | None = strawberry.field(
        description="Rows on hidden sheets, which are never loaded (the report names the sheets)."
    )
    retired: int | None
    periods: list[str]
    error_report: str | None = strawberry.field(
        description="The URL path of the upload's row-error report (.xlsx: summary, issues, refused "
        "rows to fix): GET it with the same credentials, analyst or higher. Null when there is none."
    )


@strawberry.type(
    description="Honour applications awaiting an awarding department's review (seed 004: "
    "first recognitions are entered within 30 days)."
)
class HonourReviews:
    department: str = strawberry.field(description="The awarding department (city:department).")
    pending: int
    overdue: int = strawberry.field(description="Pending past their review deadline (dueAt).")
    changes_pending: int = strawberry.field(
        description="Published honours with a reported change the department has not yet settled."
    )
    changes_overdue: int = strawberry.field(
        description="Reported changes past their deadline (15 working days, changeDueAt)."
    )
    oldest_due_at: str | None = strawberry.field(description="The earliest deadline of either kind.")


# Reporting periods are counted back from asOf; dates outside these are typing mistakes (and the
# calendar arithmetic around year 1 or 9999 overflows).
EARLIEST_AS_OF = dt.date(1900, 1, 1)
LATEST_AS_OF = dt.date(2999, 12, 31)


@strawberry.type
class FeedsQuery:
    @strawberry.field(description="The catalog of feeds, by city and department.")
    def datasets(
        self, info: Info[Context, None], city: str | None = None, department: str | None = None
    ) -> list[FeedDataset]:
        return [_dataset(spec) for spec in _specs(info, city, department)]

    @strawberry.field(description="Reporting timeliness per dataset as of a date (default: now).")
    async def feed_status(
        self, info: Info[Context, None], as_of: dt.date | None = None, department: str | None = None
    ) -> list[FeedTimeliness]:
        if as_of is not None and not (EARLIEST_AS_OF <= as_of <= LATEST_AS_OF):
            raise BadInput(f"asOf must lie between {EARLIEST_AS_OF} and {LATEST_AS_OF}")
        # A date means its start in China time, as `entgraph feeds status --as-of 2023-05-16` does.
        moment = dt.datetime.combine(as_of, dt.time(), CST) if as_of else dt.datetime.now(CST)
        uploads = await info.context.in_thread(upload_queries.uploads, info.context.store)
        by_dataset: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for upload in uploads:
            by_dataset[upload["dataset"]].append(upload)
        shown = [
            _timeliness(spec, feed_status(spec, by_dataset[spec.key], moment))
            for spec in _specs(info, None, department)
        ]
        for feed in shown:
            if feed.department == DIRECT and feed.current_period:
                previous = previous_period(feed.current_period, Frequency(feed.frequency))
                late = await info.context.in_thread(
                    direct_report_queries.not_reported,
                    info.context.store,
                    feed.dataset,
                    feed.current_period,
                    previous,
                )
                feed.overdue_reporters = len(late)
        return shown

    @strawberry.field(
        description="Per awarding department: honour applications to review (within 30 days) and "
        "reported changes to settle (within 15 working days), and how many are overdue."
    )
    async def honour_reviews(
        self, info: Info[Context, None], as_of: dt.date | None = None
    ) -> list[HonourReviews]:
        if as_of is not None and not (EARLIEST_AS_OF <= as_of <= LATEST_AS_OF):
            raise BadInput(f"asOf must lie between {EARLIEST_AS_OF} and {LATEST_AS_OF}")
        moment = dt.datetime.combine(as_of, dt.time(), CST) if as_of else dt.datetime.now(CST)
        owed = await info.context.in_thread(honour_queries.open_deadlines, info.context.store)
        by_department: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in owed:
            by_department[row["department"]].append(row)

        def count(rows: list[dict[str, Any]], kind: str, late: bool = False) -> int:
            return sum(
                1
                for row in rows
                if row["kind"] == kind and (not late or dt.datetime.fromisoformat(row["due"]) < moment)
            )

        return [
            HonourReviews(
                department=department,
                pending=count(rows, "review"),
                overdue=count(rows, "review", late=True),
                changes_pending=count(rows, "change"),
                changes_overdue=count(rows, "change", late=True),
                oldest_due_at=min(row["due"] for row in rows),
            )
            for department, rows in sorted(by_department.items())
        ]

    @strawberry.field(
        description="Upload history, newest first.", permission_classes=[requires(Role.ANALYST)]
    )
    async def uploads(
        self, info: Info[Context, None], dataset: str | None = None, first: int = 50
    ) -> list[UploadSummary]:
        if first < 1:
            raise BadInput("first must be at least 1")
        if dataset and dataset not in {spec.key for spec in info.context.catalog.specs}:
            raise NotFound(f"no dataset {dataset!r} in the catalog; the datasets field lists the keys")
        rows = await info.context.in_thread(
            upload_queries.recent_uploads, info.context.store, dataset, min(first, MAX_UPLOADS)
        )
        settings = info.context.settings
        return [_upload(row, report_file(settings, row) is not None) for row in rows]


def _specs(info: Info[Context, None], city: str | None, department: str | None) -> list[DatasetSpec]:
    specs = [
        spec
        for spec in info.context.catalog.specs
        if (city is None or spec.city == city) and (department is None or spec.department == department)
    ]
    return sorted(specs, key=lambda s: (s.city, s.department, s.title))


def _dataset(spec: DatasetSpec) -> FeedDataset:
    return FeedDataset(
        key=spec.key,
        title=spec.title,
        department=spec.department,
        city=spec.city,
        frequency=spec.frequency.value,
        deadline=_iso_duration(spec.deadline) if spec.deadline else None,
        subject=spec.subject.value,
        sharing=DatasetSharing(
            usage=spec.sharing.usage.value,
            open_to_public=spec.sharing.open_to_public,
            credit=spec.sharing.credit,
            personal=spec.sharing.personal,
        ),
    )


def _timeliness(spec: DatasetSpec, state: FeedStatus) -> FeedTimeliness:
    return FeedTimeliness(
        dataset=spec.key,
        title=spec.title,
        department=spec.department,
        city=spec.city,
        frequency=state.frequency,
        last_period=state.last_period,
        current_period=state.current_period,
        status=state.status,
        history=[
            PeriodStatus(
                period=p.period,
                due=p.due.isoformat(),
                received_at=p.received_at.isoformat() if p.received_at else None,
                status=p.status,
            )
            for p in state.periods
        ],
    )


_SKIPPED = ("skipped_blank", "skipped_totals", "skipped_hidden")


def _upload(row: dict[str, Any], has_report: bool) -> UploadSummary:
    new, updated = row.get("new"), row.get("updated")
    return UploadSummary(
        id=row["id"],
        dataset=row["dataset"],
        file_name=row.get("file_name") or "",
        status=row.get("status") or "",
        started_at=row.get("started_at"),
        finished_at=row.get("finished_at"),
        rows_read=row.get("rows_read"),
        # A running upload has no counts yet: null, not zero.
        loaded=new + updated if new is not None and updated is not None else None,
        new=new,
        updated=updated,
        unchanged=row.get("unchanged"),
        rejected=row.get("rejected"),
        duplicates=row.get("duplicates"),
        # uploads recorded before skipped rows were counted have none: zero
        skipped=sum(row.get(k) or 0 for k in _SKIPPED) if new is not None else None,
        skipped_blank=row.get("skipped_blank"),
        skipped_totals=row.get("skipped_totals"),
        skipped_hidden=row.get("skipped_hidden"),
        retired=row.get("retired"),
        periods=list(row.get("periods") or []),
        error_report=report_url(row["id"]) if has_report else None,
    )


def _iso_duration(delta: dt.timedelta) -> str:
    """P5D, PT9H30M, P15D: the form the specs write deadlines in."""
    hours, rest = divmod(delta.seconds, 3600)
    minutes = rest // 60
    time = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    return "P" + (f"{delta.days}D" if delta.days else "") + (f"T{time}" if time else "")
