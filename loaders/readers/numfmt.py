"""What a cell's number format says about its value (percentages, month or year dates).

Only for the few formats whose meaning the bare value loses.

Excel stores ``50%`` as 0.5 and a typed ``2023年4月`` as the date 2023-04-01; only the number format
(``0%``, ``yyyy"年"m"月"``) says the clerk meant fifty percent and the whole of April. The readers ask
``format_kind`` about each style and hand such cells on as the clerk sees them (``render``):

* a number with a percent format becomes the text ``"50%"`` (the value times 100, every digit kept —
  ``0.125`` shown as ``13%`` gives ``"12.5%"``), the same as the text ``50%`` typed by hand;
* a date on the first of a month with a format showing year and month but no day becomes ``"2023-04"``;
  one on 1 January with a format showing only the year becomes ``"2023"``. A date on another day keeps
  its day (the cell holds a real date; the format only hides the day).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from functools import lru_cache

PERCENT = "percent"
MONTH = "month"  # year and month shown, no day
YEAR = "year"  # only the year shown
DATE = "date"  # any other date or time format

# Built-in format ids that carry no format code in the file (ECMA-376 18.8.30; 27-36 and 50-58 as
# Excel and WPS in zh-CN define them: 27/36/50/52/57 are yyyy"年"m"月", the others dates or times).
_BUILTIN: dict[int, str] = {
    9: PERCENT,
    10: PERCENT,
    17: MONTH,  # mmm-yy
    **dict.fromkeys((14, 15, 16, 18, 19, 20, 21, 22, 45, 46, 47), DATE),
    **dict.fromkeys((27, 36, 50, 52, 57), MONTH),
    **dict.fromkeys((28, 29, 30, 31, 32, 33, 34, 35, 51, 53, 54, 55, 56, 58), DATE),
}

_LITERALS = re.compile(r'"[^"]*"|\\.|_.|\*.|\[[^\]]*\]', re.DOTALL)
_SCIENTIFIC = re.compile(r"e[+-]")


def format_kind(num_fmt_id: int | None, code: str | None) -> str | None:
    """``PERCENT``, ``MONTH``, ``YEAR``, ``DATE`` or None (a plain number or text format).

    ``code`` is the format code when the file states one (custom formats always; built-in ones only
    sometimes); otherwise the built-in ``num_fmt_id`` decides.
    """
    if code:
        return _code_kind(code)
    if num_fmt_id is None:
        return None
    return _BUILTIN.get(num_fmt_id)


@lru_cache(maxsize=512)
def _code_kind(code: str) -> str | None:
    section = _first_section(code)
    bare = _LITERALS.sub("", section).lower()
    elapsed = re.findall(r"\[(h+|m+|s+)\]", section.lower())
    if bare.strip() in ("general", "", "@") and not elapsed:
        return None
    if "%" in bare:
        return PERCENT
    bare = _SCIENTIFIC.sub("", bare)
    letters = [ch for ch in bare if ch in "ymdhseb"]
    if elapsed or "h" in letters or "s" in letters:
        return DATE
    if not letters:
        return None
    has_year = any(ch in "yeb" for ch in letters)
    has_day = "d" in letters
    has_month = "m" in letters
    if has_day:
        return DATE
    if has_year and has_month:
        return MONTH
    if has_year:
        return YEAR
    return DATE if has_month else None


def _first_section(code: str) -> str:
    """The part of a format code used for positive numbers (up to the first unquoted ``;``)."""
    depth_quote = False
    escaped = False
    for i, ch in enumerate(code):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            depth_quote = not depth_quote
        elif ch == ";" and not depth_quote:
            return code[:i]
    return code


def percent_text(value: int | float) -> str:
    """0.5 -> "50%", 0.125 -> "12.5%", 0.07 -> "7%": the number as a percentage, no digit lost."""
    number = Decimal(repr(value)) * 100 if isinstance(value, float) else Decimal(value) * 100
    text = format(number.normalize(), "f")
    return f"{text}%"


def render(value: object, kind: str | None) -> object:
    """A cell value as its number format shows its meaning (see the module docstring)."""
    if kind is None or value is None:
        return value
    cls = value.__class__
    if kind == PERCENT:
        if cls is float or cls is int:
            return percent_text(value)  # type: ignore[arg-type]
        return value
    if kind in (MONTH, YEAR) and (cls is dt.date or cls is dt.datetime):
        day: dt.date = value  # type: ignore[assignment]
        if isinstance(day, dt.datetime) and day.time() != dt.time():
            return value
        if kind == MONTH and day.day == 1:
            return f"{day.year:04d}-{day.month:02d}"
        if kind == YEAR and day.day == 1 and day.month == 1:
            return f"{day.year:04d}"
    return value
