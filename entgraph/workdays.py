"""China's working days: public holidays, 调休 weekends, deadlines counted in working days.

The seeds set deadlines in working days ("published honours are updated within 15 working days of a
change", "within 5 working days after the month"), and the meter simulator lowers load on the same
holidays, so the one table lives here, in the kernel, for every package.
"""

from __future__ import annotations

import datetime as dt


def _d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _span(first: str, last: str) -> list[dt.date]:
    a, b = _d(first), _d(last)
    return [a + dt.timedelta(days=i) for i in range((b - a).days + 1)]


# Official arrangements of the State Council General Office (国务院办公厅关于部分节假日安排的通知):
# 2025 (issued 2024-11-12) and 2026 (issued 2025-11-04). Days off, named, and the weekend days that are
# worked instead (调休上班).
# 2027: no notice was at hand when this table was written, so 2027 holds the festivals on their
# lunar-calendar dates (春节 2027-02-06, 清明 04-05, 端午 06-09, 中秋 09-15) with the customary spans
# and no 调休 days — replace it with the official notice when it is published.
_HOLIDAY_SPANS: tuple[tuple[str, str, str], ...] = (
    ("元旦", "2025-01-01", "2025-01-01"),
    ("春节", "2025-01-28", "2025-02-04"),
    ("清明", "2025-04-04", "2025-04-06"),
    ("劳动节", "2025-05-01", "2025-05-05"),
    ("端午", "2025-05-31", "2025-06-02"),
    ("国庆", "2025-10-01", "2025-10-08"),  # 国庆 and 中秋 (10-06) together, 8 days
    ("元旦", "2026-01-01", "2026-01-03"),
    ("春节", "2026-02-15", "2026-02-23"),
    ("清明", "2026-04-04", "2026-04-06"),
    ("劳动节", "2026-05-01", "2026-05-05"),
    ("端午", "2026-06-19", "2026-06-21"),
    ("中秋", "2026-09-25", "2026-09-27"),
    ("国庆", "2026-10-01", "2026-10-07"),
    ("元旦", "2027-01-01", "2027-01-03"),
    ("春节", "2027-02-05", "2027-02-12"),  # provisional
    ("清明", "2027-04-03", "2027-04-05"),  # provisional
    ("劳动节", "2027-05-01", "2027-05-05"),  # provisional
    ("端午", "2027-06-09", "2027-06-09"),  # provisional
    ("中秋", "2027-09-15", "2027-09-15"),  # provisional
    ("国庆", "2027-10-01", "2027-10-07"),  # provisional
)
HOLIDAYS: dict[dt.date, str] = {day: name for name, a, b in _HOLIDAY_SPANS for day in _span(a, b)}
ADJUSTED_WORKDAYS: frozenset[dt.date] = frozenset(
    _d(x)
    for x in (
        "2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11",
        "2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10",
    )
)  # fmt: skip
# The official Spring Festival holiday of each year, which a manufacturer's shutdown stretches.
SPRING_FESTIVAL: dict[int, tuple[dt.date, dt.date]] = {
    _d(a).year: (_d(a), _d(b)) for name, a, b in _HOLIDAY_SPANS if name == "春节"
}


def is_workday(date: dt.date) -> bool:
    """A working day in China: Monday-Friday or a 调休 weekend day, and not a public holiday."""
    if date in HOLIDAYS:
        return False
    return date.weekday() < 5 or date in ADJUSTED_WORKDAYS


def add_workdays(start: dt.date, days: int) -> dt.date:
    """The day ``days`` working days after ``start`` (which itself does not count): a change on a
    Friday with 1 working day to handle it is due the next Monday, or later across a holiday."""
    if days < 0:
        raise ValueError("days must not be negative")
    date = start
    while days:
        date += dt.timedelta(days=1)
        if is_workday(date):
            days -= 1
    return date
