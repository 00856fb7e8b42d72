"""A town's dashboard figures from hand-made monthly figures: totals with year-on-year change, the
largest changes among watched enterprises, long-term shut-down and loss-making lists."""

from __future__ import annotations

from entgraph.telemetry.town_figures import ELECTRICITY, INSURED, NET_PROFIT, TAX, compute
from entgraph.telemetry.warnings import month_number

OCT = month_number("2026-10")
assert OCT is not None


def _months(values: dict[str, float]) -> dict[str, tuple[float, str]]:
    """Figures by month as ``monthly_figures`` gives them."""
    return {m: (v, "x:y") for m, v in values.items()}


PEOPLE = [
    {"id": "E-a", "name": "甲", "status": "存续", "industry_name": "制鞋业"},
    {"id": "E-b", "name": "乙", "status": "存续", "industry_name": "制鞋业"},
    {"id": "E-c", "name": "丙", "status": "注销", "industry_code": "1713"},
]


def test_monthly_totals_and_their_change_on_a_year_before() -> None:
    figures = {
        ("E-a", TAX): _months({"2025-10": 100.0, "2026-10": 150.0}),
        ("E-b", TAX): _months({"2025-10": 100.0, "2026-10": 50.0}),
        ("E-a", ELECTRICITY): _months({"2026-10": 800.0}),
        ("E-b", INSURED): _months({"2025-10": 40.0, "2026-10": 30.0}),
        ("E-other", TAX): _months({"2026-10": 1e9}),  # another town's
    }
    out = compute("陈埭镇", OCT, PEOPLE, figures, {})
    october = out.monthly[-1]
    assert october.month == "2026-10" and len(out.monthly) == 12
    assert october.values == {TAX: 200.0, ELECTRICITY: 800.0, INSURED: 30.0}
    assert october.year_on_year[TAX] == 0.0 and october.year_on_year[ELECTRICITY] is None
    assert october.year_on_year[INSURED] == -0.25
    assert out.by_status == {"存续": 2, "注销": 1}
    assert out.by_industry == {"制鞋业": 2, "行业17": 1}


def test_watched_enterprises_with_the_largest_changes_come_first() -> None:
    last_year = {"2025-08": 10_000.0, "2025-09": 10_000.0, "2025-10": 10_000.0}
    figures = {
        ("E-a", ELECTRICITY): _months(
            {**last_year, "2026-08": 2_000.0, "2026-09": 2_000.0, "2026-10": 2_000.0}
        ),
        ("E-b", ELECTRICITY): _months(
            {**last_year, "2026-08": 11_000.0, "2026-09": 11_000.0, "2026-10": 11_000.0}
        ),
        ("E-c", ELECTRICITY): _months({**last_year, "2026-10": 0.0}),  # not watched
    }
    out = compute("陈埭镇", OCT, PEOPLE, figures, {"E-a": {"above_scale"}, "E-b": {"key"}})
    assert [(c.enterprise, c.group, round(c.change, 2)) for c in out.changes] == [
        ("E-a", "above_scale", -0.8), ("E-b", "key", 0.1),
    ]  # fmt: skip


def test_long_shut_down_needs_months_without_power_or_tax_in_a_reported_month() -> None:
    figures = {
        ("E-a", ELECTRICITY): _months({"2026-03": 500.0, "2026-04": 0.0, "2026-10": 0.0}),
        ("E-a", TAX): _months({"2026-02": 10.0}),
        ("E-b", TAX): _months({"2026-10": 10.0}),  # active
        ("E-c", ELECTRICITY): _months({"2026-06": 100.0}),  # four months: not yet
    }
    out = compute("陈埭镇", OCT, PEOPLE, figures, {}, shutdown_months=6)
    assert [(d.enterprise, d.last_active, d.months) for d in out.dormant] == [("E-a", "2026-03", 7)]
    # a month nobody reported is a feed not yet in, not a town at a standstill
    assert compute("陈埭镇", OCT + 1, PEOPLE, figures, {}).dormant == []


def test_loss_making_where_net_profit_is_reported() -> None:
    assert not compute("陈埭镇", OCT, PEOPLE, {}, {}).profit_reported
    figures = {
        ("E-a", NET_PROFIT): _months(
            {"2026-01": -50.0, "2026-05": 20.0, "2025-06": -1e6}
        ),  # 2025-06: too old
        ("E-b", NET_PROFIT): _months({"2026-01": 50.0}),
    }
    out = compute("陈埭镇", OCT, PEOPLE, figures, {})
    assert out.profit_reported
    assert [(x.enterprise, x.net_profit, x.loss_months) for x in out.loss_making] == [("E-a", -30.0, 1)]
