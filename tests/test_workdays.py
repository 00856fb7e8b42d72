"""Working days in China: weekends, public holidays and the weekend days worked instead (调休)."""

from __future__ import annotations

import datetime as dt

import pytest

from entgraph.workdays import add_workdays, is_workday


def test_holidays_and_adjusted_weekends_decide_a_working_day() -> None:
    assert is_workday(dt.date(2026, 12, 4))  # a Friday
    assert not is_workday(dt.date(2026, 12, 5))  # a Saturday
    assert not is_workday(dt.date(2026, 10, 5))  # 国庆, a Monday
    assert is_workday(dt.date(2026, 10, 10))  # a Saturday worked instead of a 国庆 day


def test_deadlines_count_working_days_only() -> None:
    assert add_workdays(dt.date(2026, 12, 4), 0) == dt.date(2026, 12, 4)
    assert add_workdays(dt.date(2026, 12, 4), 1) == dt.date(2026, 12, 7)  # Friday -> Monday
    assert add_workdays(dt.date(2026, 12, 1), 15) == dt.date(2026, 12, 22)  # three plain weeks
    # from the last working day before 国庆: the seven days off do not count, the 调休 Saturday does
    assert add_workdays(dt.date(2026, 9, 30), 1) == dt.date(2026, 10, 8)
    assert add_workdays(dt.date(2026, 10, 9), 1) == dt.date(2026, 10, 10)
    with pytest.raises(ValueError):
        add_workdays(dt.date(2026, 12, 4), -1)
