"""Reporting deadlines: Wuhai's and Jinjiang's rules applied to upload histories."""

from __future__ import annotations

import datetime as dt

import pytest

from entgraph.catalog.spec import DatasetSpec
from entgraph.catalog.timeliness import CST, feed_status, period_end, previous_period


def spec(frequency: str, deadline: str | None) -> DatasetSpec:
    data = {
        "key": "t_feed",
        "city": "乌海",
        "department": "市税务局",
        "title": "测试",
        "seed": "x",
        "seed_fields": ["企业名称"],
        "frequency": frequency,
        "record_label": "Test",
        "columns": [{"header": "企业名称", "field": "name", "role": "enterprise_name"}],
    }
    if deadline:
        data["deadline"] = deadline
    return DatasetSpec.model_validate(data)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=CST)


def upload(periods: list[str], received: str, status: str = "done") -> dict:
    return {"periods": periods, "received_at": at(received).isoformat(), "status": status}


@pytest.mark.parametrize(
    ("label", "end"),
    [
        ("2023-04", "2023-05-01"),
        ("2023-12", "2024-01-01"),
        ("2023-Q1", "2023-04-01"),
        ("2023-Q4", "2024-01-01"),
        ("2023", "2024-01-01"),
        ("2023-04-30", "2023-05-01"),
    ],
)
def test_period_end_is_the_start_of_the_next_period(label: str, end: str) -> None:
    assert period_end(label) == at(end)


def test_previous_period_crosses_years() -> None:
    from entgraph.catalog.spec import Frequency

    assert previous_period("2023-01", Frequency.MONTHLY) == "2022-12"
    assert previous_period("2023-Q1", Frequency.QUARTERLY) == "2022-Q4"
    assert previous_period("2023-03-01", Frequency.DAILY) == "2023-02-28"


def test_wuhai_monthly_by_the_fifth() -> None:
    monthly = spec("monthly", "P5D")
    uploads = [upload(["2023-03"], "2023-04-05 18:00"), upload(["2023-02"], "2023-03-07 09:00")]
    # On 5 May April is not yet due (due end of 5 May); March is the current period, received on time.
    state = feed_status(monthly, uploads, at("2023-05-05 12:00"))
    assert state.current_period == "2023-03"
    assert state.status == "on_time"
    by_period = {p.period: p.status for p in state.periods}
    assert by_period["2023-04"] == "not_due"
    assert by_period["2023-02"] == "late"
    # On 6 May April is due and missing.
    later = feed_status(monthly, uploads, at("2023-05-06 00:00"))
    assert (later.current_period, later.status) == ("2023-04", "missing")
    assert later.last_period == "2023-03"


def test_wuhai_daily_by_half_past_nine_next_morning() -> None:
    daily = spec("daily", "PT9H30M")
    uploads = [upload(["2023-04-01"], "2023-04-02 09:29"), upload(["2023-04-02"], "2023-04-03 09:31")]
    state = feed_status(daily, uploads, at("2023-04-03 10:00"))
    by_period = {p.period: p.status for p in state.periods}
    assert by_period == {"2023-04-03": "not_due", "2023-04-02": "late", "2023-04-01": "on_time"}


def test_annual_by_fifteenth_of_january_and_quarterly_within_fifteen_days() -> None:
    annual = feed_status(spec("annual", "P15D"), [upload(["2022"], "2023-01-15 23:59")], at("2023-02-01"))
    assert (annual.current_period, annual.status) == ("2022", "on_time")
    quarterly = feed_status(
        spec("quarterly", "P15D"), [upload(["2023-Q1"], "2023-04-16 08:00")], at("2023-05-01")
    )
    assert (quarterly.current_period, quarterly.status) == ("2023-Q1", "late")


def test_the_first_receipt_counts_and_unfinished_uploads_do_not() -> None:
    monthly = spec("monthly", "P15D")
    uploads = [
        upload(["2023-04"], "2023-05-20 10:00"),  # a corrected re-upload after the deadline
        upload(["2023-04"], "2023-05-10 10:00"),  # the first one, on time
        upload(["2023-05"], "2023-06-01 10:00", status="running"),  # killed mid-load: not received
    ]
    state = feed_status(monthly, uploads, at("2023-06-20"))
    by_period = {p.period: p.status for p in state.periods}
    assert by_period["2023-04"] == "on_time"
    assert by_period["2023-05"] == "missing"


def test_feeds_without_a_deadline_report_the_last_period_only() -> None:
    state = feed_status(spec("full_snapshot", None), [upload(["2023-04"], "2023-05-01")], at("2023-06-01"))
    assert state.status == "no_deadline"
    assert state.last_period == "2023-04"


@pytest.mark.parametrize(
    ("name", "frequency", "period"),
    [
        ("税务登记信息_2023-04.xlsx", "monthly", "2023-04"),
        ("税务登记信息202304.xlsx", "monthly", "2023-04"),
        ("2023年4月企业社保缴纳.csv", "monthly", "2023-04"),
        ("主要经济指标2023年一季度.xls", "quarterly", "2023-Q1"),
        ("主要经济指标_2023Q2.xlsx", "quarterly", "2023-Q2"),
        ("龙头企业名单2022年.xlsx", "annual", "2022"),
        ("upload.xlsx", "monthly", None),
        ("龙头企业名单2022年.xlsx", "monthly", None),  # a year alone does not name a month
    ],
)
def test_period_from_file_name(name: str, frequency: str, period: str | None) -> None:
    from entgraph.catalog.spec import Frequency
    from entgraph.catalog.timeliness import period_from_file_name

    assert period_from_file_name(name, Frequency(frequency)) == period


def test_last_ended_period() -> None:
    from entgraph.catalog.spec import Frequency
    from entgraph.catalog.timeliness import last_ended_period

    assert last_ended_period(at("2023-05-03 10:00"), Frequency.MONTHLY) == "2023-04"
    assert last_ended_period(at("2023-01-10"), Frequency.ANNUAL) == "2022"
    assert last_ended_period(at("2023-04-02"), Frequency.QUARTERLY) == "2023-Q1"
