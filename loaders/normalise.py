"""Cell normalisation: one raw spreadsheet cell -> one typed, graph-friendly value (or a CellError).

Every FieldType has a parser here; ``parse_cell`` dispatches on a column's type. Values come out as
``str``, ``int``, ``bool``, ``Decimal`` (money in yuan, area in square metres), ``datetime.date`` /
``datetime.datetime``, ``Period`` or ``Geometry`` (a point or area, ``identity.geometry``). Bad values
raise ``CellError`` carrying a short Chinese and English reason a clerk can act on; a spreadsheet's
formula error (``#DIV/0!``, ``#N/A``..., computed or typed) raises ``FormulaCellError``, never reads as an
empty cell. Codes (credit, organisation, taxpayer, resident id) that fail validation are not errors: the
normalised text is returned with a flag, because some genuine old codes fail their check characters and
must be kept. A number in a code column is flagged too: a spreadsheet keeps 15 significant digits of a
number (an 18-digit code comes back rounded: ``rounded_number``, kept as written and never a code) and
drops leading zeros (``numeric_code``).

This runs on millions of cells: regexes are compiled once, Excel readers' typed values (int, float,
date) take fast paths, and ASCII text skips Unicode normalisation.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from entgraph.catalog.spec import ColumnSpec, FieldType, Role
from entgraph.identity import codes as ids
from entgraph.identity.geometry import Geometry, GeometryError, parse_geometry
from entgraph.loaders.readers import base as _reader_base

__all__ = [
    "NULL_TOKENS",
    "CellError",
    "FormulaCellError",
    "Period",
    "clean_text",
    "formula_error",
    "header_unit",
    "is_code_column",
    "normalise_header",
    "number_as_written",
    "parse_amount",
    "parse_area",
    "parse_bool",
    "parse_cell",
    "parse_date",
    "parse_datetime",
    "parse_decimal",
    "parse_geometry_cell",
    "parse_integer",
    "parse_percent",
    "parse_period",
    "parse_phone",
    "parse_quantity",
    "parse_year",
]


class CellError(ValueError):
    """A cell value that cannot be read as its column's type. Both reasons are short and name the value."""

    def __init__(self, reason_zh: str, reason_en: str) -> None:
        super().__init__(reason_en)
        self.reason_zh = reason_zh
        self.reason_en = reason_en


class FormulaCellError(CellError):
    """A cell holding a spreadsheet's formula error (``#DIV/0!``, ``#N/A``...), as computed or typed."""

    def __init__(self, error: str) -> None:
        super().__init__(f"公式错误 {error}", f"formula error {error}")
        self.error = error


# The error values of Excel, WPS and LibreOffice formulas. A reader hands one as a ``FormulaError``
# value (loaders/readers/base.py) or as its text; the same text typed by hand is the same error (it is
# what an export of the computed sheet writes).
_FORMULA_ERROR_RE = re.compile(
    r"^#(?:DIV/0!|N/A|VALUE!|REF!|NAME\?|NUM!|NULL!|GETTING_DATA|SPILL!|CALC!|FIELD!|BLOCKED!|CONNECT!"
    r"|BUSY!|UNKNOWN!)$|^ERR:\d{3}$"
)
_READER_ERRORS: tuple[type, ...] = tuple(
    kind
    for kind in (getattr(_reader_base, "FormulaError", None), getattr(_reader_base, "CellError", None))
    if isinstance(kind, type)
)


def formula_error(value: object) -> str | None:
    """The formula error a cell holds ('#DIV/0!', LibreOffice's 'Err:502'), or None."""
    if value.__class__ is str:
        text = value.strip()  # type: ignore[attr-defined]
        if text[:1] in ("#", "＃") or text[:4].upper() == "ERR:":
            shown = _nfkc(text)
            return shown if _FORMULA_ERROR_RE.match(shown.upper()) else None
        return None
    if _READER_ERRORS and isinstance(value, _READER_ERRORS):
        code = getattr(value, "code", None)
        return code if isinstance(code, str) and code else str(value)
    return None


def _shown(value: object) -> str:
    text = value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)
    text = " ".join(text.split())
    return text if len(text) <= 40 else text[:39] + "…"


def _error(what_zh: str, what_en: str, value: object) -> CellError:
    shown = _shown(value)
    return CellError(f"{what_zh}：{shown}", f"{what_en}: {shown}")


# -- text ---------------------------------------------------------------------------------------------

# Cell texts that mean "nothing here" (compared after NFKC, strip and whitespace collapsing).
NULL_TOKENS: frozenset[str] = frozenset(
    {
        "",
        "-",
        "--",
        "---",
        "—",
        "——",
        "―",
        "－",
        "无",
        "暂无",
        "/",
        "\\",
        "N/A",
        "n/a",
        "NULL",
        "null",
    }
)


def _nfkc(text: str) -> str:
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


def _text_of(value: object) -> str:
    """The text of a non-string cell value, as a clerk would read it in the spreadsheet."""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ") if value.time() != dt.time() else value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def clean_text(value: object) -> str | None:
    """NFKC, trim, collapse whitespace runs to one space; null-ish tokens -> None.

    Formulas are never evaluated: '=SUM(A1)' or '-1+2' are returned as the text they are.
    """
    if value is None:
        return None
    if isinstance(value, str):
        text = value
    elif isinstance(value, float) and math.isnan(value):
        return None
    else:
        text = _text_of(value)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    text = " ".join(text.split())
    if text in NULL_TOKENS:
        return None
    return text


# -- headers and units -----------------------------------------------------------------------------

# Units that may end a header. Longest first so that '万元' wins over '元'.
_HEADER_UNITS = (
    "万元人民币",
    "人民币万元",
    "元人民币",
    "人民币元",
    "万亿元",
    "百万元",
    "万美元",
    "亿元",
    "万元",
    "千元",
    "美元",
    "元",
    "万平方米",
    "平方公里",
    "平方千米",
    "平方米",
    "平米",
    "万亩",
    "亩",
    "公顷",
    "km2",
    "m2",
    "ha",
    "万千瓦时",
    "千瓦时",
    "kWh",
    "kwh",
    "万kWh",
    "兆瓦时",
    "MWh",
    "千瓦",
    "kW",
    "kVA",
    "万吨标准煤",
    "吨标准煤",
    "万吨",
    "吨",
    "百万千焦",
    "千焦",
    "千克",
    "kg",
    "万立方米",
    "立方米",
    "万m3",
    "万m^3",
    "m^3",
    "m3",
    "万m2",
    "m^2",
    "度",
    "万人",
    "人次",
    "人",
    "个",
    "家",
    "户",
    "件",
    "项",
    "台",
    "套",
    "辆",
    "%",
    "‰",
    "年",
    "月",
    "天",
    "小时",
)
_UNIT_ALT = "|".join(re.escape(u) for u in sorted(_HEADER_UNITS, key=len, reverse=True))
_HEADER_UNIT_RE = re.compile(
    rf"^(?P<head>.+?)(?:\((?:单位:?)?(?P<u1>{_UNIT_ALT})\)|/(?P<u2>{_UNIT_ALT})|单位:?(?P<u3>{_UNIT_ALT}))$"
)
_BRACKETS = str.maketrans(
    {"[": "(", "]": ")", "【": "(", "】": ")", "〔": "(", "〕": ")", "{": "(", "}": ")"}
)


@lru_cache(maxsize=1)
def _t2s() -> Any:
    import opencc  # loaded on first use: the conversion tables take a moment

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional -> simplified Chinese (Wuhai's seeds and some departments' templates are traditional)."""
    return _t2s().convert(text) if text and not text.isascii() else text


@lru_cache(maxsize=4096)
def _split_header(header: str) -> tuple[str, str | None]:
    text = to_simplified(clean_text(header) or "")
    text = "".join(text.split()).translate(_BRACKETS).lstrip("*※")
    match = _HEADER_UNIT_RE.match(text)
    if match is None:
        return text, None
    return match["head"], match["u1"] or match["u2"] or match["u3"]


def _header_text(header: object) -> str:
    if header is None:
        return ""
    return header if isinstance(header, str) else _text_of(header)


def normalise_header(header: object) -> str:
    """A header as matched against specs: no whitespace, '()' brackets, no trailing unit like '(万元)'."""
    return _split_header(_header_text(header))[0]


def header_unit(header: object) -> str | None:
    """The unit a header ends with ('实缴税额（万元）' -> '万元'), or None."""
    return _split_header(_header_text(header))[1]


# -- numbers -------------------------------------------------------------------------------------------

_NUMBER_RE = re.compile(
    r"""^(?P<sign>[+-]?)\s*
        (?P<cur>¥|\$|RMB|CNY|人民币)?\s*
        (?P<num>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)
        (?P<exp>[eE][+-]?\d+)?
        \s*(?P<unit>[^\d\s.,+\-()][^()]*?)?\s*$""",
    re.VERBOSE | re.ASCII,
)
_MINUS = str.maketrans({"−": "-", "–": "-", "—": "-", "﹣": "-"})


def _number(value: object, what_zh: str, what_en: str) -> tuple[Decimal, str]:
    """A number and the unit text that follows it ('' if none). Accounting '(1,000)' is negative."""
    if type(value) is float:  # the common case from Excel readers, checked first
        if not math.isfinite(value):
            raise _error(what_zh, what_en, value)
        return Decimal(repr(value)), ""
    if type(value) is int:
        return Decimal(value), ""
    if type(value) is str:
        return _number_text(value, what_zh, what_en)
    if isinstance(value, Decimal) and value.is_finite():
        return value, ""
    if isinstance(value, float):  # subclasses (numpy.float64)
        return _number(float(value), what_zh, what_en)
    if isinstance(value, int) and not isinstance(value, bool):
        return _number(int(value), what_zh, what_en)
    raise _error(what_zh, what_en, value)


def _number_text(value: str, what_zh: str, what_en: str) -> tuple[Decimal, str]:
    text = _nfkc(value).strip()
    if not text.isascii():
        text = text.translate(_MINUS)
    negative = False
    if text.startswith("(") and ")" in text:
        close = text.index(")")
        text = text[1:close] + text[close + 1 :]
        negative = True
    match = _NUMBER_RE.match(text)
    if match is None:
        raise _error(what_zh, what_en, value)
    try:
        number = Decimal(match["num"].replace(",", "") + (match["exp"] or ""))
    except InvalidOperation:  # pragma: no cover - the regex admits only valid literals
        raise _error(what_zh, what_en, value) from None
    if match["sign"] == "-":
        if negative:
            raise _error(what_zh, what_en, value)
        negative = True
    return (-number if negative else number), (match["unit"] or "")


_AMOUNT_UNITS: dict[str, int] = {
    "": 1,
    "元": 1,
    "元整": 1,
    "人民币": 1,
    "元人民币": 1,
    "人民币元": 1,
    "千元": 1_000,
    "万": 10_000,
    "万元": 10_000,
    "万元人民币": 10_000,
    "人民币万元": 10_000,
    "百万": 1_000_000,
    "百万元": 1_000_000,
    "亿": 100_000_000,
    "亿元": 100_000_000,
    "万亿": 10**12,
    "万亿元": 10**12,
}


@lru_cache(maxsize=1024)
def _unit_key(unit: str | None) -> str:
    if not unit:
        return ""
    text = _nfkc(unit)
    return "".join(text.split()).strip("()").removeprefix("单位:").removeprefix("单位")


def _scale(number: Decimal, factor: int | tuple[int, int]) -> Decimal:
    if isinstance(factor, tuple):
        return number * factor[0] / factor[1]
    return number if factor == 1 else number * factor


def parse_amount(value: object, unit: str | None = None) -> Decimal:
    """Money in yuan: '1,234.50', '1234.5万元', '1.2亿', '￥1,000', '(1,000)'.

    A unit written in the cell beats ``unit`` (the header's or the spec's); no unit at all means 元.
    """
    number, cell_unit = _number(value, "金额无法识别", "unrecognised amount")
    key = _unit_key(cell_unit) if cell_unit else _unit_key(unit)
    factor = _AMOUNT_UNITS.get(key)
    if factor is None:
        raise _error("不支持的金额单位", "unsupported money unit", cell_unit or unit)
    return _scale(number, factor)


_AREA_UNITS: dict[str, int | tuple[int, int]] = {
    "": 1,
    "平方米": 1,
    "平米": 1,
    "平方": 1,
    "m2": 1,
    "m^2": 1,
    "M2": 1,
    "万平方米": 10_000,
    "万m2": 10_000,
    "亩": (10_000, 15),
    "万亩": (100_000_000, 15),
    "公顷": 10_000,
    "ha": 10_000,
    "平方公里": 1_000_000,
    "平方千米": 1_000_000,
    "km2": 1_000_000,
}


def parse_area(value: object, unit: str | None = None) -> Decimal:
    """Area in square metres from 平方米/㎡/m2, 亩 (10000/15 m²), 公顷, 平方公里.

    A unit written in the cell beats ``unit``; no unit at all means square metres.
    """
    number, cell_unit = _number(value, "面积无法识别", "unrecognised area")
    key = _unit_key(cell_unit) if cell_unit else _unit_key(unit)
    factor = _AREA_UNITS.get(key)
    if factor is None:
        raise _error("不支持的面积单位", "unsupported area unit", cell_unit or unit)
    return _scale(number, factor)


_MAGNITUDES = {"万": 10_000, "亿": 100_000_000}


def parse_quantity(value: object, unit: str | None = None) -> Decimal:
    """A measured amount stored in the column's own unit: '1,234 kWh' -> 1234, '1.2万千瓦时' -> 12000.

    A trailing unit word is stripped. Only a 万/亿 magnitude in front of it (or alone) scales the number,
    unless the column's unit itself starts with it.
    """
    number, cell_unit = _number(value, "数量无法识别", "unrecognised quantity")
    if cell_unit:
        head = cell_unit[0]
        factor = _MAGNITUDES.get(head)
        if factor is not None and not (unit and _unit_key(unit).startswith(head)):
            return number * factor
    return number


def parse_decimal(value: object) -> Decimal:
    """A plain number: '1,234.5', '-3', 1.5."""
    number, rest = _number(value, "数值无法识别", "unrecognised number")
    if rest:
        raise _error("数值无法识别", "unrecognised number", value)
    return number


_INT_UNITS = frozenset(
    {"人", "个", "家", "户", "件", "名", "台", "套", "次", "项", "辆", "座", "间", "位", "头", "只"}
)


def parse_integer(value: object) -> int:
    """A whole number: 3, '3.0', '1,000', '120人'. 3.5 is refused."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    number, rest = _number(value, "整数无法识别", "unrecognised whole number")
    if rest:
        factor = _MAGNITUDES.get(rest[0])
        if factor is not None:
            number *= factor
            rest = rest[1:]
        if rest and rest not in _INT_UNITS:
            raise _error("整数无法识别", "unrecognised whole number", value)
    if number != number.to_integral_value():
        raise _error("不是整数", "not a whole number", value)
    return int(number)


def parse_percent(value: object) -> Decimal:
    """A percentage as written: '12.5%' -> 12.5, 12.5 -> 12.5 (a fraction like 0.125 stays 0.125)."""
    number, rest = _number(value, "百分比无法识别", "unrecognised percentage")
    if rest not in ("", "%", "％"):
        raise _error("百分比无法识别", "unrecognised percentage", value)
    return number


# -- dates and periods ---------------------------------------------------------------------------------

_EXCEL_EPOCH = dt.datetime(1899, 12, 30)
_MIN_YEAR, _MAX_YEAR = 1800, 2199

_DATE_RE = re.compile(
    r"""^(?P<y>\d{4})\s*(?:[-/.]|年)\s*(?P<m>\d{1,2})\s*(?:[-/.]|月)\s*(?P<d>\d{1,2})\s*[日号]?
        (?:(?:\s*|T)(?P<H>\d{1,2})\s*[:时点]\s*(?P<M>\d{1,2})\s*(?:[:分]\s*(?P<S>\d{1,2})(?P<f>\.\d+)?\s*秒?|分)?
           \s*(?:Z|[+-]\d{2}:?\d{2})?)?$""",
    re.VERBOSE | re.ASCII,
)
_COMPACT_RE = re.compile(
    r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})(?:\s*(?P<H>\d{2}):?(?P<M>\d{2}):?(?P<S>\d{2})?)?$", re.ASCII
)
_SERIAL_RE = re.compile(r"^\d{5}(?:\.\d+)?$", re.ASCII)  # text serials: 5 digits (1927-2119)


def _from_serial(serial: float, value: object) -> dt.datetime:
    """Excel's 1900 date system (serial 60 is Excel's phantom 1900-02-29)."""
    if not 1 <= serial < 80_001 or int(serial) == 60:
        raise _error("日期无法识别", "unrecognised date", value)
    days = serial + 1 if serial < 60 else serial
    moment = _EXCEL_EPOCH + dt.timedelta(days=days)
    # round to the second: serial fractions are binary floats
    if moment.microsecond:
        moment = (moment + dt.timedelta(microseconds=500_000)).replace(microsecond=0)
    return moment


def _parse_moment(value: object) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, bool):
        raise _error("日期无法识别", "unrecognised date", value)
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise _error("日期无法识别", "unrecognised date", value)
        if 19_000_101 <= value <= 21_991_231 and float(value).is_integer():
            return _parse_moment(str(int(value)))  # 20230401 typed as a number
        return _from_serial(float(value), value)
    if not isinstance(value, str):
        raise _error("日期无法识别", "unrecognised date", value)
    return _moment_of_text(value)


@lru_cache(maxsize=1 << 14)  # dates repeat a lot within a file
def _moment_of_text(value: str) -> dt.datetime:
    text = _nfkc(value).strip()
    match = _DATE_RE.match(text) or _COMPACT_RE.match(text)
    if match is None:
        if _SERIAL_RE.match(text):
            return _from_serial(float(text), value)
        raise _error("日期无法识别", "unrecognised date", value)
    year = int(match["y"])
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        raise _error("日期无法识别", "unrecognised date", value)
    hour, minute, second = match["H"], match["M"], match["S"]
    fraction = match.groupdict().get("f")
    try:
        return dt.datetime(
            year,
            int(match["m"]),
            int(match["d"]),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            round(float(fraction) * 1_000_000) if fraction else 0,
        )
    except ValueError:
        raise _error("日期无法识别", "unrecognised date", value) from None


def parse_date(value: object) -> dt.date:
    """A date from date objects, Excel serials (1-80000), '2023-04-01', '2023/4/1', '2023.4.1',
    '2023年4月1日', '20230401' (a time part is allowed and dropped). Impossible dates are refused."""
    if type(value) is dt.date:
        return value
    return _parse_moment(value).date()


def parse_datetime(value: object) -> dt.datetime:
    """A date and time (naive); a date alone is midnight."""
    return _parse_moment(value)


@dataclass(frozen=True, slots=True)
class Period:
    """A reporting period: a day, month, quarter or year, with its first and last days."""

    kind: str  # day | month | quarter | year
    start: dt.date
    end: dt.date
    label: str  # '2023-04-01' | '2023-04' | '2023-Q1' | '2023'

    def __str__(self) -> str:
        return self.label

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.start <= day <= self.end

    @classmethod
    def of_day(cls, day: dt.date) -> Period:
        return cls("day", day, day, day.isoformat())

    @classmethod
    def of_month(cls, year: int, month: int) -> Period:
        first = dt.date(year, month, 1)
        last = (dt.date(year + 1, 1, 1) if month == 12 else dt.date(year, month + 1, 1)) - dt.timedelta(1)
        return cls("month", first, last, f"{year:04d}-{month:02d}")

    @classmethod
    def of_quarter(cls, year: int, quarter: int) -> Period:
        first = dt.date(year, 3 * quarter - 2, 1)
        last = dt.date(year + 1, 1, 1) if quarter == 4 else dt.date(year, 3 * quarter + 1, 1)
        return cls("quarter", first, last - dt.timedelta(1), f"{year:04d}-Q{quarter}")

    @classmethod
    def of_year(cls, year: int) -> Period:
        return cls("year", dt.date(year, 1, 1), dt.date(year, 12, 31), f"{year:04d}")


_QUARTER_WORDS = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}
_MONTH_RE = re.compile(
    r"^(?P<y>\d{4})\s*(?:[-/.]|年)\s*(?P<m>\d{1,2})\s*(?:月份?)?$|^(?P<y2>\d{4})(?P<m2>\d{2})$", re.ASCII
)
_QUARTER_RE = re.compile(
    r"^(?P<y>\d{4})\s*(?:年度?)?\s*[-/]?\s*(?:第\s*(?P<a>[1-4一二三四])\s*季度?|(?P<b>[1-4一二三四])\s*季度"
    r"|[Qq]\s*(?P<c>[1-4])|(?P<d>[1-4])\s*[Qq])$",
    re.ASCII,
)
_YEAR_RE = re.compile(r"^(?P<y>\d{4})\s*(?:年度?|年份)?$", re.ASCII)


def _checked_year(
    year: int, value: object, what_zh: str = "期间无法识别", what_en: str = "unrecognised period"
) -> int:
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        raise _error(what_zh, what_en, value)
    return year


def parse_period(value: object) -> Period:
    """A reporting period: '202304', '2023-04', '2023年4月', '2023年一季度', '2023Q1', '2023', '2023年度';
    dates, date texts and Excel serials give a day."""
    if isinstance(value, Period):
        return value
    if isinstance(value, dt.date):
        return Period.of_day(value.date() if isinstance(value, dt.datetime) else value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _period_of_number(value)
    if not isinstance(value, str):
        raise _error("期间无法识别", "unrecognised period", value)
    return _period_of_text(value)


def _period_of_number(value: float) -> Period:
    if isinstance(value, float) and not value.is_integer():
        raise _error("期间无法识别", "unrecognised period", value)
    number = int(value)
    if 1000 <= number <= 9999:
        return Period.of_year(_checked_year(number, value))
    if 100_001 <= number <= 999_912:
        return _month_period(number // 100, number % 100, value)
    try:
        return Period.of_day(parse_date(number))
    except CellError:
        raise _error("期间无法识别", "unrecognised period", value) from None


@lru_cache(maxsize=4096)  # a column repeats its period on every row
def _period_of_text(value: str) -> Period:
    text = _nfkc(value).strip()
    match = _MONTH_RE.match(text)
    if match is not None:
        year = match["y"] or match["y2"]
        month = match["m"] or match["m2"]
        return _month_period(int(year), int(month), value)
    match = _QUARTER_RE.match(text)
    if match is not None:
        quarter = _QUARTER_WORDS[match["a"] or match["b"] or match["c"] or match["d"]]
        return Period.of_quarter(_checked_year(int(match["y"]), value), quarter)
    match = _YEAR_RE.match(text)
    if match is not None:
        return Period.of_year(_checked_year(int(match["y"]), value))
    try:
        return Period.of_day(parse_date(text))
    except CellError:
        raise _error("期间无法识别", "unrecognised period", value) from None


def _month_period(year: int, month: int, value: object) -> Period:
    if not 1 <= month <= 12:
        raise _error("期间无法识别", "unrecognised period", value)
    return Period.of_month(_checked_year(year, value), month)


def parse_year(value: object) -> int:
    """A year: 2023, '2023', '2023年', '2023年度', 2023.0, or the year of a date."""
    if isinstance(value, int) and not isinstance(value, bool):
        return _checked_year(value, value, "年份无法识别", "unrecognised year")
    if isinstance(value, float) and value.is_integer():
        return _checked_year(int(value), value, "年份无法识别", "unrecognised year")
    if isinstance(value, dt.date):
        return value.year
    if isinstance(value, str):
        match = _YEAR_RE.match(_nfkc(value).strip())
        if match is not None:
            return _checked_year(int(match["y"]), value, "年份无法识别", "unrecognised year")
    raise _error("年份无法识别", "unrecognised year", value)


# -- booleans and phones -------------------------------------------------------------------------------

_TRUE = frozenset({"是", "有", "y", "yes", "true", "t", "1", "1.0", "√", "✓", "✔", "对", "已", "是的"})
_FALSE = frozenset(
    {"否", "无", "n", "no", "false", "f", "0", "0.0", "×", "✗", "✘", "错", "未", "不是", "没有"}
)


def parse_bool(value: object) -> bool:
    """是/否, 有/无, Y/N, true/false, 1/0, √/×."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = _nfkc(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise _error("是否值无法识别", "unrecognised yes/no value", value)


_PHONE_SPLIT_RE = re.compile(r"[,;/、，；]|或|及")
_PHONE_JUNK = str.maketrans("", "", " -\u3000\u2010\u2011\u2012\u2013\u2014\u2212\ufe63")
_MOBILE_RE = re.compile(r"^1[3-9]\d{9}$", re.ASCII)
_LANDLINE_RE = re.compile(
    r"^\(?(?P<area>0(?:[12]\d|[3-9]\d{2}))\)?(?P<local>[2-9]\d{6,7})(?:(?:转|ext\.?|x|#)(?P<ext>\d{1,6}))?$",
    re.ASCII,
)
_LOCAL_RE = re.compile(r"^(?P<local>[2-9]\d{6,7})(?:(?:转|ext\.?|x|#)(?P<ext>\d{1,6}))?$", re.ASCII)
_SERVICE_RE = re.compile(r"^[48]00\d{7}$", re.ASCII)


def _one_phone(text: str, area_code: str | None) -> str | None:
    compact = text.translate(_PHONE_JUNK).lower()
    international = True
    if compact.startswith(("+86", "(86)")):
        compact = compact[3:] if compact[0] == "+" else compact[4:]
    elif compact.startswith("0086"):
        compact = compact[4:]
    elif compact.startswith("86") and len(compact) == 13:
        compact = compact[2:]
    else:
        international = False
    if _MOBILE_RE.match(compact) or _SERVICE_RE.match(compact):
        return compact
    if international and not compact.startswith("0"):
        compact = "0" + compact  # '+86 595 85612345': the trunk 0 is dropped after a country code
    match = _LANDLINE_RE.match(compact)
    if match is not None:
        number = f"{match['area']}-{match['local']}"
    else:
        match = _LOCAL_RE.match(compact)
        if match is None or not area_code:
            return None
        number = f"{area_code}-{match['local']}"
    return f"{number}-{match['ext']}" if match["ext"] else number


def parse_phone(value: object, area_code: str | None = None) -> str:
    """A phone number: mobile '13812345678'; landline '0595-85612345' (from '(0595)85612345',
    '0595 85612345', '059585612345'); '+86' dropped; of several numbers the first is kept.

    A landline without its area code is refused unless ``area_code`` (e.g. '0595') is given.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    elif isinstance(value, str):
        text = _nfkc(value).strip()
    else:
        raise _error("电话号码无法识别", "unrecognised phone number", value)
    parts = [text] if text.isdigit() else [p for p in _PHONE_SPLIT_RE.split(text) if p.strip()]
    if parts:
        first = parts[0].strip()
        phone = _one_phone(first, area_code)
        if phone is None and " " in first:  # '13812345678 13912345678': numbers separated by spaces
            phone = _one_phone(first.split()[0], area_code)
        if phone is not None:
            return phone
    raise _error("电话号码无法识别", "unrecognised phone number", value)


def _phone_count(value: object) -> int:
    if not isinstance(value, str):
        return 1
    return sum(1 for p in _PHONE_SPLIT_RE.split(_nfkc(value)) if p.strip())


# -- dispatch -----------------------------------------------------------------------------------------

Cell = tuple[object, tuple[str, ...]]
_NO_FLAGS: tuple[str, ...] = ()
_INVALID_CREDIT = ("invalid_credit_code",)
_INVALID_CREDIT_PERSON = ("invalid_credit_code", "looks_like_resident_id")
_INVALID_ORG = ("invalid_org_code",)
_INVALID_TAXPAYER = ("invalid_taxpayer_id",)
_PERSON = ("looks_like_resident_id",)
_PERSONAL_TAXPAYER = ("personal_taxpayer_id",)
_INVALID_ID = ("invalid_id_number",)
_OLD_ID = ("old_id_number",)


def _code_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return ids.normalise_code(value if isinstance(value, str) else str(value))


@lru_cache(maxsize=1 << 16)
def _credit_cell(code: str) -> tuple[str, ...]:
    if ids.is_valid_credit_code(code):
        return _NO_FLAGS
    return _INVALID_CREDIT_PERSON if ids.is_valid_resident_id(code) else _INVALID_CREDIT


@lru_cache(maxsize=1 << 16)
def _taxpayer_cell(code: str) -> tuple[str, ...]:
    n = len(code)
    if n == 18:
        if ids.is_valid_credit_code(code):
            return _NO_FLAGS
        if ids.is_valid_resident_id(code):  # a person's id: personal data, never an enterprise key
            return _PERSON
    elif n == 15:
        # An old taxpayer id is a real division code + an organisation code; a truncated credit code
        # (91350582MA4MHM5) can pass the org-code check by chance but never starts with a province.
        if ids.is_division_code(code[:6]) and ids.is_valid_org_code(code[6:]):
            return _NO_FLAGS
    elif n == 20 and code[18:].isdigit() and ids.is_valid_resident_id(code[:18]):
        return _PERSONAL_TAXPAYER  # an individual business: resident id + 2 digits
    return _INVALID_TAXPAYER


def _old_id_ok(code: str) -> bool:
    """A 15-digit first-generation resident id (no check digit, 2-digit birth year 19xx)."""
    if len(code) != 15 or not code.isdigit():
        return False
    try:
        born = dt.date(1900 + int(code[6:8]), int(code[8:10]), int(code[10:12]))
    except ValueError:
        return False
    return born.year >= 1900


def _cell_credit(value: object, column: ColumnSpec, unit: str | None) -> Cell:
    code = _code_text(value)
    return (code, _credit_cell(code)) if code else (None, _NO_FLAGS)


def _cell_org(value: object, column: ColumnSpec, unit: str | None) -> Cell:
    code = _code_text(value)
    if not code:
        return None, _NO_FLAGS
    return code, (_NO_FLAGS if ids.is_valid_org_code(code) else _INVALID_ORG)


def _cell_taxpayer(value: object, column: ColumnSpec, unit: str | None) -> Cell:
    code = _code_text(value)
    return (code, _taxpayer_cell(code)) if code else (None, _NO_FLAGS)


def _cell_id(value: object, column: ColumnSpec, unit: str | None) -> Cell:
    code = _code_text(value)
    if not code:
        return None, _NO_FLAGS
    if ids.is_valid_resident_id(code):
        return code, _NO_FLAGS
    return code, (_OLD_ID if _old_id_ok(code) else _INVALID_ID)


def _cell_text(value: object, column: ColumnSpec, unit: str | None) -> Cell:
    return clean_text(value), _NO_FLAGS


def _cell_phone(value: object, column: ColumnSpec, unit: str | None) -> Cell:
    phone = parse_phone(value)
    return phone, (("multiple_phones",) if _phone_count(value) > 1 else _NO_FLAGS)


def _cell_geometry(value: object, column: ColumnSpec, unit: str | None) -> Cell:
    return parse_geometry_cell(value), _NO_FLAGS


def parse_geometry_cell(value: object) -> Geometry:
    """A point or area as a land bureau writes it (WKT, GeoJSON, ``lng,lat``): see ``identity.geometry``."""
    try:
        return parse_geometry(value)
    except GeometryError as exc:
        raise CellError(exc.reason_zh, exc.reason_en) from None


def _with_unit(
    parser: Callable[[object, str | None], object],
) -> Callable[[object, ColumnSpec, str | None], Cell]:
    def handler(value: object, column: ColumnSpec, unit: str | None) -> Cell:
        return parser(value, unit or column.unit), _NO_FLAGS

    return handler


def _plain(parser: Callable[[object], object]) -> Callable[[object, ColumnSpec, str | None], Cell]:
    def handler(value: object, column: ColumnSpec, unit: str | None) -> Cell:
        return parser(value), _NO_FLAGS

    return handler


_HANDLERS: dict[FieldType, Callable[[object, ColumnSpec, str | None], Cell]] = {
    FieldType.TEXT: _cell_text,
    FieldType.INTEGER: _plain(parse_integer),
    FieldType.DECIMAL: _plain(parse_decimal),
    FieldType.AMOUNT: _with_unit(parse_amount),
    FieldType.AREA: _with_unit(parse_area),
    FieldType.QUANTITY: _with_unit(parse_quantity),
    FieldType.PERCENT: _plain(parse_percent),
    FieldType.DATE: _plain(parse_date),
    FieldType.DATETIME: _plain(parse_datetime),
    FieldType.PERIOD: _plain(parse_period),
    FieldType.YEAR: _plain(parse_year),
    FieldType.BOOLEAN: _plain(parse_bool),
    FieldType.CREDIT_CODE: _cell_credit,
    FieldType.ORG_CODE: _cell_org,
    FieldType.TAXPAYER_ID: _cell_taxpayer,
    FieldType.PHONE: _cell_phone,
    FieldType.ID_NUMBER: _cell_id,
    FieldType.GEOMETRY: _cell_geometry,
}


def _is_empty(value: object, boolean: bool) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        text = value.strip()
        if not text.isascii():
            text = " ".join(unicodedata.normalize("NFKC", text).split())
        return text in NULL_TOKENS and not (boolean and text in _FALSE)
    return isinstance(value, float) and math.isnan(value)


# Columns whose values are codes identifying someone: a number there is a code a spreadsheet converted.
_CODE_TYPES = frozenset(
    {FieldType.CREDIT_CODE, FieldType.ORG_CODE, FieldType.TAXPAYER_ID, FieldType.ID_NUMBER}
)
_CODE_ROLES = frozenset(
    {
        Role.CREDIT_CODE,
        Role.ORG_CODE,
        Role.TAXPAYER_ID,
        Role.ID_NUMBER,
        Role.ACCOUNT_NUMBER,
        Role.METER_ID,
        Role.BANK_ACCOUNT,
    }
)
# Columns naming someone: a number, date or yes/no there is no name.
_NAME_ROLES = frozenset(
    {
        Role.ENTERPRISE_NAME,
        Role.FORMER_NAME,
        Role.LEGAL_REPRESENTATIVE,
        Role.CONTACT_PERSON,
        Role.PERSON_NAME,
    }
)
# A spreadsheet keeps 15 significant digits of a number: from 16 digits on, the code came back rounded.
_EXACT_DIGITS = 10**15
_ROUNDED = ("rounded_number",)
_NUMERIC = ("numeric_code",)
_NOT_TEXT = ("not_text",)


def is_code_column(column: ColumnSpec) -> bool:
    """Does ``column`` hold codes that identify someone (credit code, account number, meter id...)?"""
    return column.type in _CODE_TYPES or column.role in _CODE_ROLES


def number_as_written(value: object) -> str:
    """A number as a spreadsheet shows a long one: scientific notation ('9.13505821558235E+17')."""
    if isinstance(value, str):
        return " ".join(_nfkc(value).split())
    number = Decimal(repr(float(value))) if not isinstance(value, Decimal) else value  # type: ignore[arg-type]
    return format(number.normalize(), "E")


def _numeric_code(value: object, column: ColumnSpec, unit: str | None) -> Cell:
    """A number in a code column. Beyond 15 digits (or not whole) it is rounded: kept as written, flagged
    ``rounded_number``, never a code. A smaller whole number is exact but may have lost leading zeros:
    its digits are read as the column's code, flagged ``numeric_code``."""
    number = (
        value
        if isinstance(value, Decimal)
        else Decimal(repr(float(value)))
        if isinstance(value, float)
        else None
    )
    if number is not None and not number.is_finite():
        raise _error("代码无法识别", "unrecognised code", value)
    whole = int(value) if number is None else int(number) if number == number.to_integral_value() else None
    if whole is None or abs(whole) >= _EXACT_DIGITS:
        return number_as_written(value), _ROUNDED
    digits = str(whole)
    if column.type is FieldType.TEXT:
        return digits, _NUMERIC
    code, flags = _HANDLERS[column.type](digits, column, unit)
    return code, _NUMERIC + flags


def parse_cell(value: object, column: ColumnSpec, unit: str | None = None) -> tuple[Any, tuple[str, ...]]:
    """One cell as ``column`` types it: (value, flags). Empty cells give (None, ()).

    ``unit`` is the unit the sheet's header gives (see ``header_unit``); it beats the spec's default
    unit, and a unit written in the cell beats both. Codes failing validation come back as their
    normalised text with an ``invalid_*`` flag (and ``looks_like_resident_id`` for a person's id in a
    code column); a number in a code column with ``rounded_number`` (kept as written) or
    ``numeric_code``; a number or date in a name column with ``not_text``. A formula error raises
    ``FormulaCellError``; other bad values raise ``CellError``.
    """
    kind = column.type
    cls = value.__class__
    if cls is str:
        if "#" in value or "＃" in value or "Err:" in value:  # type: ignore[operator]
            error = formula_error(value)
            if error is not None:
                raise FormulaCellError(error)
        if (
            ("E" in value or "e" in value or "Ｅ" in value or "ｅ" in value)  # type: ignore[operator]
            and is_code_column(column)
            and ids.is_number_notation(value)  # type: ignore[arg-type]
        ):
            return number_as_written(value), _ROUNDED
        if kind is FieldType.TEXT:
            return clean_text(value), _NO_FLAGS
    elif value is not None:
        error = formula_error(value)
        if error is not None:
            raise FormulaCellError(error)
        if cls is not bool and isinstance(value, int | float | Decimal) and is_code_column(column):
            if _is_empty(value, False):
                return None, _NO_FLAGS
            return _numeric_code(value, column, unit)
        if kind is FieldType.TEXT:
            text = clean_text(value)
            return text, (_NOT_TEXT if text is not None and column.role in _NAME_ROLES else _NO_FLAGS)
    elif kind is FieldType.TEXT:
        return None, _NO_FLAGS
    if _is_empty(value, kind is FieldType.BOOLEAN):
        return None, _NO_FLAGS
    return _HANDLERS[kind](value, column, unit)
