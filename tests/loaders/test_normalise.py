"""Cell normalisation: every FieldType, its formats, and the values it refuses (with readable reasons)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from entgraph.catalog.spec import ColumnSpec, FieldType
from entgraph.identity.geometry import point
from entgraph.loaders.normalise import (
    NULL_TOKENS,
    CellError,
    Period,
    clean_text,
    header_unit,
    normalise_header,
    parse_amount,
    parse_area,
    parse_bool,
    parse_cell,
    parse_date,
    parse_datetime,
    parse_decimal,
    parse_integer,
    parse_percent,
    parse_period,
    parse_phone,
    parse_quantity,
    parse_year,
)

HUAWEI = "914403001922038216"  # a real, valid credit code
ID_LIKE_CREDIT = "350582199001010693"  # a resident id that also passes the credit-code check
RESIDENT_ID = "11010519491231002X"  # GB 11643's example


def column(kind: FieldType, unit: str | None = None) -> ColumnSpec:
    return ColumnSpec(header="列", field="col", type=kind, unit=unit)


# -- text -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  晋江市  安海镇 ", "晋江市 安海镇"),
        ("ＡＢＣ有限公司", "ABC有限公司"),  # full-width letters
        ("１２３", "123"),
        ("晋江（福建）鞋业", "晋江(福建)鞋业"),  # full-width brackets
        ("a\u3000b\n\tc", "a b c"),  # ideographic space, line breaks, tabs
        ("=SUM(A1:A3)", "=SUM(A1:A3)"),  # formulas stay text
        ("+1+1", "+1+1"),
        ("-1+2", "-1+2"),
        ("@cmd", "@cmd"),
        (12345.0, "12345"),  # a number typed into a text column
        (12, "12"),
        (1.5, "1.5"),
        (dt.date(2023, 4, 1), "2023-04-01"),
        (dt.datetime(2023, 4, 1), "2023-04-01"),
        (dt.datetime(2023, 4, 1, 8, 30), "2023-04-01 08:30:00"),
    ],
)
def test_clean_text(raw: object, expected: str) -> None:
    assert clean_text(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "   ", "\u3000", "-", "—", "－", "无", "/", "--", float("nan")])
def test_clean_text_nulls(raw: object) -> None:
    assert clean_text(raw) is None


def test_null_tokens_is_a_constant() -> None:
    assert {"", "-", "—", "无", "/"} <= NULL_TOKENS
    assert "0" not in NULL_TOKENS and "否" not in NULL_TOKENS


# -- headers -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "header", "unit"),
    [
        ("实缴金额（万元）", "实缴金额", "万元"),
        ("实缴金额(万元)", "实缴金额", "万元"),
        ("用地面积（亩）", "用地面积", "亩"),
        ("合同金额[元]", "合同金额", "元"),
        ("合同金额【元】", "合同金额", "元"),
        ("营业收入/万元", "营业收入", "万元"),
        ("营业收入单位:万元", "营业收入", "万元"),
        ("营业收入 单位：万元", "营业收入", "万元"),
        ("营业收入（单位：万元）", "营业收入", "万元"),
        ("建筑面积(㎡)", "建筑面积", "m2"),
        ("增长率(%)", "增长率", "%"),
        ("注册资本（万元人民币）", "注册资本", "万元人民币"),
        (" 纳税人\n识别号 ", "纳税人识别号", None),
        ("企业名称（全称）", "企业名称(全称)", None),  # not a unit: kept
        ("法定代表人/负责人", "法定代表人/负责人", None),
        ("*企业名称", "企业名称", None),  # a template's required-field marker
        (None, "", None),
    ],
)
def test_headers_and_units(raw: str | None, header: str, unit: str | None) -> None:
    assert normalise_header(raw) == header
    assert header_unit(raw) == unit


# -- dates ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        dt.date(2023, 4, 1),
        dt.datetime(2023, 4, 1, 15, 30),
        45017,  # Excel serial
        45017.0,
        45017.75,  # a serial with a time of day
        "45017",
        "2023-04-01",
        "2023-4-1",
        "2023/4/1",
        "2023/04/01",
        "2023.4.1",
        "2023年4月1日",
        "2023年04月01日",
        "２０２３年４月１日",
        "20230401",
        20230401,  # yyyymmdd typed as a number
        "2023-04-01 00:00:00",
        "2023-04-01T08:30:00",
        "2023/4/1 8:30",
        "2023年4月1日 8时30分",
        " 2023-04-01 ",
    ],
)
def test_parse_date(raw: object) -> None:
    assert parse_date(raw) == dt.date(2023, 4, 1)


@pytest.mark.parametrize(
    ("serial", "day"),
    [
        (1, dt.date(1900, 1, 1)),
        (59, dt.date(1900, 2, 28)),
        (61, dt.date(1900, 3, 1)),  # serial 60 is Excel's phantom 1900-02-29
        (44927, dt.date(2023, 1, 1)),
        (45291, dt.date(2023, 12, 31)),
    ],
)
def test_excel_serials(serial: int, day: dt.date) -> None:
    assert parse_date(serial) == day


@pytest.mark.parametrize(
    "raw",
    [
        "2023-13-45",
        "2023-02-29",
        "2023-04-31",
        "2023年13月1日",
        "20231301",
        "2023",
        "abc",
        "",
        0,
        60,
        80_001,
        -5,
        True,
    ],
)
def test_parse_date_refuses(raw: object) -> None:
    with pytest.raises(CellError):
        parse_date(raw)


def test_date_error_reasons_are_readable() -> None:
    with pytest.raises(CellError) as info:
        parse_date("2023-13-45")
    assert info.value.reason_zh == "日期无法识别：2023-13-45"
    assert info.value.reason_en == "unrecognised date: 2023-13-45"
    assert isinstance(info.value, ValueError)


def test_parse_datetime() -> None:
    assert parse_datetime("2023-04-01 08:30:15") == dt.datetime(2023, 4, 1, 8, 30, 15)
    assert parse_datetime("2023年4月1日8时30分15秒") == dt.datetime(2023, 4, 1, 8, 30, 15)
    assert parse_datetime("2023-04-01") == dt.datetime(2023, 4, 1)
    assert parse_datetime(45017.5) == dt.datetime(2023, 4, 1, 12, 0)
    assert parse_datetime(45017.75) == dt.datetime(2023, 4, 1, 18, 0)
    assert parse_datetime(dt.date(2023, 4, 1)) == dt.datetime(2023, 4, 1)
    with pytest.raises(CellError):
        parse_datetime("2023-04-01 25:00")


# -- periods ----------------------------------------------------------------------------------------------

APRIL = Period("month", dt.date(2023, 4, 1), dt.date(2023, 4, 30), "2023-04")
Q1 = Period("quarter", dt.date(2023, 1, 1), dt.date(2023, 3, 31), "2023-Q1")
YEAR = Period("year", dt.date(2023, 1, 1), dt.date(2023, 12, 31), "2023")
DAY = Period("day", dt.date(2023, 4, 1), dt.date(2023, 4, 1), "2023-04-01")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("202304", APRIL),
        (202304, APRIL),
        (202304.0, APRIL),
        ("2023-04", APRIL),
        ("2023-4", APRIL),
        ("2023/04", APRIL),
        ("2023.04", APRIL),
        ("2023年4月", APRIL),
        ("2023年04月份", APRIL),
        ("2023年一季度", Q1),
        ("2023年第1季度", Q1),
        ("2023年第一季度", Q1),
        ("2023年1季度", Q1),
        ("2023Q1", Q1),
        ("2023-Q1", Q1),
        ("2023 q1", Q1),
        ("2023", YEAR),
        (2023, YEAR),
        ("2023年", YEAR),
        ("2023年度", YEAR),
        ("2023-04-01", DAY),
        ("2023年4月1日", DAY),
        (dt.date(2023, 4, 1), DAY),
        (dt.datetime(2023, 4, 1, 9, 0), DAY),
        (45017, DAY),
        (20230401, DAY),
    ],
)
def test_parse_period(raw: object, expected: Period) -> None:
    assert parse_period(raw) == expected


def test_period_ends() -> None:
    assert parse_period("2024年2月").end == dt.date(2024, 2, 29)
    assert parse_period("2023年2月").end == dt.date(2023, 2, 28)
    assert parse_period("2023-12").end == dt.date(2023, 12, 31)
    q4 = parse_period("2023年四季度")
    assert (q4.start, q4.end, q4.label) == (dt.date(2023, 10, 1), dt.date(2023, 12, 31), "2023-Q4")
    q2 = parse_period("2023年第二季度")
    assert (q2.start, q2.end) == (dt.date(2023, 4, 1), dt.date(2023, 6, 30))
    assert dt.date(2023, 2, 14) in Q1 and dt.date(2023, 4, 1) not in Q1
    assert str(APRIL) == "2023-04"


@pytest.mark.parametrize(
    "raw", ["202313", "2023-00", "2023年5季度", "2023Q0", "上月", "2023.5.5.5", 2023.5, True]
)
def test_parse_period_refuses(raw: object) -> None:
    with pytest.raises(CellError):
        parse_period(raw)


# -- years and booleans --------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [2023, 2023.0, "2023", "2023年", "2023年度", "２０２３", dt.date(2023, 5, 6)])
def test_parse_year(raw: object) -> None:
    assert parse_year(raw) == 2023


@pytest.mark.parametrize("raw", ["23", "2023.5", 2023.5, "二〇二三", 99999, True])
def test_parse_year_refuses(raw: object) -> None:
    with pytest.raises(CellError):
        parse_year(raw)


@pytest.mark.parametrize("raw", ["是", "有", "Y", "y", "yes", "TRUE", "true", "1", 1, 1.0, True, "√", " 是 "])
def test_parse_bool_true(raw: object) -> None:
    assert parse_bool(raw) is True


@pytest.mark.parametrize("raw", ["否", "无", "N", "no", "FALSE", "false", "0", 0, 0.0, False, "×"])
def test_parse_bool_false(raw: object) -> None:
    assert parse_bool(raw) is False


@pytest.mark.parametrize("raw", ["可能", "2", 2, ""])
def test_parse_bool_refuses(raw: object) -> None:
    with pytest.raises(CellError):
        parse_bool(raw)


# -- amounts, areas and numbers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "unit", "expected"),
    [
        ("1,234.50", None, Decimal("1234.50")),
        ("１２３４", None, Decimal(1234)),
        ("1234.5万元", None, Decimal(12_345_000)),
        ("1.2亿元", None, Decimal(120_000_000)),
        ("1.2亿", None, Decimal(120_000_000)),
        ("5万", None, Decimal(50_000)),
        ("￥1,000", None, Decimal(1000)),
        ("¥1000元", None, Decimal(1000)),
        ("-5", None, Decimal(-5)),
        ("−5", None, Decimal(-5)),  # U+2212 minus sign
        ("(1,000)", None, Decimal(-1000)),  # accounting negative
        ("（1,000）", None, Decimal(-1000)),
        ("+12", None, Decimal(12)),
        ("1.5E+3", None, Decimal(1500)),
        (1234, None, Decimal(1234)),
        (0.1, None, Decimal("0.1")),  # no binary-float noise
        (12.5, "万元", Decimal(125_000)),  # the header's unit applies to a bare number
        ("12.5", "万元", Decimal(125_000)),
        ("12.5元", "万元", Decimal("12.5")),  # the cell's own unit beats the header's
        ("3", "亿元", Decimal(300_000_000)),
        ("3", "千元", Decimal(3000)),
        ("3", "元", Decimal(3)),
        ("3", "(单位:万元)", Decimal(30_000)),
        (Decimal("7.25"), None, Decimal("7.25")),
    ],
)
def test_parse_amount(raw: object, unit: str | None, expected: Decimal) -> None:
    result = parse_amount(raw, unit)
    assert isinstance(result, Decimal)
    assert result == expected


@pytest.mark.parametrize(
    "raw", ["abc", "1,23", "1.2.3", "--5", "-(5)", "5美元", "", float("nan"), float("inf"), True]
)
def test_parse_amount_refuses(raw: object) -> None:
    with pytest.raises(CellError):
        parse_amount(raw)


def test_parse_amount_refuses_an_unknown_unit_argument() -> None:
    with pytest.raises(CellError) as info:
        parse_amount("5", "万美元")
    assert "万美元" in info.value.reason_zh


@pytest.mark.parametrize(
    ("raw", "unit", "expected"),
    [
        ("120平方米", None, Decimal(120)),
        ("120㎡", None, Decimal(120)),
        ("120m²", None, Decimal(120)),
        ("120 m2", None, Decimal(120)),
        ("120", None, Decimal(120)),
        ("2公顷", None, Decimal(20_000)),
        ("1.5平方公里", None, Decimal(1_500_000)),
        ("3亩", None, Decimal(2000)),  # 3 * 10000 / 15
        ("1.5", "亩", Decimal(1000)),
        ("100平方米", "亩", Decimal(100)),
        ("1,200", "m2", Decimal(1200)),
    ],
)
def test_parse_area(raw: object, unit: str | None, expected: Decimal) -> None:
    assert parse_area(raw, unit) == expected


def test_five_mu() -> None:
    area = parse_area("5亩")
    assert abs(area - Decimal("3333.3333333333")) < Decimal("1e-9")
    assert parse_area(5, "亩") == area


def test_parse_area_refuses() -> None:
    with pytest.raises(CellError):
        parse_area("5吨")
    with pytest.raises(CellError):
        parse_area("大约五亩")


@pytest.mark.parametrize(
    ("raw", "unit", "expected"),
    [
        ("1,234 kWh", None, Decimal(1234)),
        ("12吨", "吨", Decimal(12)),
        ("12.5", "吨", Decimal("12.5")),
        (300, "立方米", Decimal(300)),
        ("1.2万千瓦时", "千瓦时", Decimal(12_000)),  # a 万 magnitude scales
        ("1.2万", "千瓦时", Decimal(12_000)),
        ("1.2万千瓦时", "万千瓦时", Decimal("1.2")),  # already the column's unit
    ],
)
def test_parse_quantity(raw: object, unit: str | None, expected: Decimal) -> None:
    assert parse_quantity(raw, unit) == expected


def test_parse_decimal() -> None:
    assert parse_decimal("1,234.5") == Decimal("1234.5")
    assert parse_decimal(" -3 ") == Decimal(-3)
    assert parse_decimal(1.5) == Decimal("1.5")
    for bad in ("1.5kg", "x", "1,2,3"):
        with pytest.raises(CellError):
            parse_decimal(bad)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(3, 3), (3.0, 3), ("3.0", 3), ("1,000", 1000), ("１２", 12), ("120人", 120), ("-2", -2)],
)
def test_parse_integer(raw: object, expected: int) -> None:
    result = parse_integer(raw)
    assert result == expected and type(result) is int


@pytest.mark.parametrize("raw", [3.5, "3.5", "abc", "3吨a", True])
def test_parse_integer_refuses(raw: object) -> None:
    with pytest.raises(CellError):
        parse_integer(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("12.5%", Decimal("12.5")), ("12.5％", Decimal("12.5")), (12.5, Decimal("12.5")), ("-3%", Decimal(-3))],
)
def test_parse_percent(raw: object, expected: Decimal) -> None:
    assert parse_percent(raw) == expected


def test_parse_percent_refuses() -> None:
    with pytest.raises(CellError):
        parse_percent("12.5元")


# -- phones ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13812345678", "13812345678"),
        (13812345678, "13812345678"),
        (13812345678.0, "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("+8613812345678", "13812345678"),
        ("8613812345678", "13812345678"),
        ("０５９５－８５６１２３４５", "0595-85612345"),
        ("0595-85612345", "0595-85612345"),
        ("(0595)85612345", "0595-85612345"),
        ("（0595）85612345", "0595-85612345"),
        ("0595 85612345", "0595-85612345"),
        ("059585612345", "0595-85612345"),
        ("+86 595 85612345", "0595-85612345"),
        ("010-62345678", "010-62345678"),
        ("0473-2012345", "0473-2012345"),  # Wuhai, 7-digit local number
        ("0595-85612345转801", "0595-85612345-801"),
        ("13812345678，13912345678", "13812345678"),  # several: the first
        ("13812345678、0595-85612345", "13812345678"),
        ("0595-85612345;13812345678", "0595-85612345"),
        ("13812345678 13912345678", "13812345678"),
        ("400-123-4567", "4001234567"),
    ],
)
def test_parse_phone(raw: object, expected: str) -> None:
    assert parse_phone(raw) == expected


@pytest.mark.parametrize(
    "raw", ["12345678901", "1381234567", "85612345", "abc", "0595-123", "23812345678", ""]
)
def test_parse_phone_refuses(raw: object) -> None:
    with pytest.raises(CellError):
        parse_phone(raw)


def test_parse_phone_local_number_with_a_known_area_code() -> None:
    assert parse_phone("85612345", area_code="0595") == "0595-85612345"


# -- parse_cell ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(FieldType))
@pytest.mark.parametrize("raw", [None, "", "  ", "-", "—", "无", "/"])
def test_empty_cells_for_every_type(kind: FieldType, raw: object) -> None:
    if kind is FieldType.BOOLEAN and raw == "无":
        assert parse_cell(raw, column(kind)) == (False, ())  # 有/无 is a yes/no answer
    else:
        assert parse_cell(raw, column(kind)) == (None, ())


def test_every_field_type_has_a_handler() -> None:
    samples = {
        FieldType.TEXT: ("晋江 鞋业", "晋江 鞋业"),
        FieldType.INTEGER: ("1,000", 1000),
        FieldType.DECIMAL: ("1.5", Decimal("1.5")),
        FieldType.AMOUNT: ("1.2亿元", Decimal(120_000_000)),
        FieldType.AREA: ("3亩", Decimal(2000)),
        FieldType.QUANTITY: ("12吨", Decimal(12)),
        FieldType.PERCENT: ("12.5%", Decimal("12.5")),
        FieldType.DATE: (45017, dt.date(2023, 4, 1)),
        FieldType.DATETIME: ("2023-04-01 08:00", dt.datetime(2023, 4, 1, 8)),
        FieldType.PERIOD: ("2023年一季度", Q1),
        FieldType.YEAR: ("2023年", 2023),
        FieldType.BOOLEAN: ("是", True),
        FieldType.CREDIT_CODE: (HUAWEI.lower(), HUAWEI),
        FieldType.ORG_CODE: ("19220382-1", "192203821"),
        FieldType.TAXPAYER_ID: ("440300192203821", "440300192203821"),
        FieldType.PHONE: ("(0595)85612345", "0595-85612345"),
        FieldType.ID_NUMBER: (RESIDENT_ID.lower(), RESIDENT_ID),
        FieldType.GEOMETRY: ("POINT (118.58 24.81)", point(118.58, 24.81)),
    }
    assert set(samples) == set(FieldType)
    for kind, (raw, expected) in samples.items():
        assert parse_cell(raw, column(kind)) == (expected, ()), kind


def test_amount_unit_precedence() -> None:
    col = column(FieldType.AMOUNT, unit="元")
    assert parse_cell("12", col) == (Decimal(12), ())  # the spec's unit
    assert parse_cell("12", col, "万元") == (Decimal(120_000), ())  # the header's unit beats the spec's
    assert parse_cell("12亿元", col, "万元") == (Decimal(1_200_000_000), ())  # the cell's beats both
    assert parse_cell(12, column(FieldType.AMOUNT)) == (Decimal(12), ())  # no unit anywhere: 元
    assert parse_cell("5", column(FieldType.AREA, unit="亩"), None) == (parse_area("5亩"), ())


def test_credit_code_cells() -> None:
    col = column(FieldType.CREDIT_CODE)
    assert parse_cell(" ９１４４０３００１９２２０３８２１６ ", col) == (HUAWEI, ())
    wrong = HUAWEI[:-1] + "7"
    assert parse_cell(wrong.lower(), col) == (wrong, ("invalid_credit_code",))  # kept, normalised, flagged
    assert parse_cell("91350211M0000XUF46", col) == ("91350211M0000XUF46", ("invalid_credit_code",))
    assert parse_cell(ID_LIKE_CREDIT, col) == (
        ID_LIKE_CREDIT,
        ("invalid_credit_code", "looks_like_resident_id"),
    )
    assert parse_cell(RESIDENT_ID, col) == (RESIDENT_ID, ("invalid_credit_code", "looks_like_resident_id"))
    assert parse_cell("12345", col) == ("12345", ("invalid_credit_code",))


def test_org_code_cells() -> None:
    col = column(FieldType.ORG_CODE)
    assert parse_cell("19220382-1", col) == ("192203821", ())
    assert parse_cell("19220382-2", col) == ("192203822", ("invalid_org_code",))


def test_taxpayer_id_cells() -> None:
    col = column(FieldType.TAXPAYER_ID)
    assert parse_cell(HUAWEI, col) == (HUAWEI, ())
    assert parse_cell("440300192203821", col) == ("440300192203821", ())
    assert parse_cell("440300192203822", col) == ("440300192203822", ("invalid_taxpayer_id",))
    assert parse_cell(HUAWEI[:-1] + "7", col) == (HUAWEI[:-1] + "7", ("invalid_taxpayer_id",))
    assert parse_cell(RESIDENT_ID + "01", col) == (RESIDENT_ID + "01", ("personal_taxpayer_id",))
    assert parse_cell(RESIDENT_ID, col) == (RESIDENT_ID, ("looks_like_resident_id",))
    assert parse_cell("123", col) == ("123", ("invalid_taxpayer_id",))


def test_id_number_cells() -> None:
    col = column(FieldType.ID_NUMBER)
    assert parse_cell(RESIDENT_ID, col) == (RESIDENT_ID, ())
    assert parse_cell("110105194912310021", col) == ("110105194912310021", ("invalid_id_number",))
    assert parse_cell("110105491231002", col) == ("110105491231002", ("old_id_number",))


def test_phone_cells_flag_extra_numbers() -> None:
    col = column(FieldType.PHONE)
    assert parse_cell("13812345678", col) == ("13812345678", ())
    assert parse_cell("13812345678，13912345678", col) == ("13812345678", ("multiple_phones",))
    with pytest.raises(CellError) as info:
        parse_cell("123", col)
    assert info.value.reason_zh == "电话号码无法识别：123"


def test_text_cells_are_not_converted_to_simplified() -> None:
    assert parse_cell("晉江市鞋業有限公司", column(FieldType.TEXT)) == ("晉江市鞋業有限公司", ())


def test_bad_values_raise_cell_errors() -> None:
    with pytest.raises(CellError) as info:
        parse_cell("2023-13-45", column(FieldType.DATE))
    assert info.value.reason_en == "unrecognised date: 2023-13-45"
    with pytest.raises(CellError):
        parse_cell("很多", column(FieldType.AMOUNT))
    with pytest.raises(CellError):
        parse_cell(3.5, column(FieldType.INTEGER))


def test_long_values_are_shortened_in_reasons() -> None:
    with pytest.raises(CellError) as info:
        parse_date("x" * 500)
    assert len(info.value.reason_zh) < 60


def test_a_geometry_cell_is_a_point_or_area_and_a_bad_one_says_why() -> None:
    col = column(FieldType.GEOMETRY)
    assert parse_cell("118.58，24.81", col) == (point(118.58, 24.81), ())
    square = "POLYGON ((118.5 24.7, 118.6 24.7, 118.6 24.8, 118.5 24.7))"
    value, _ = parse_cell(square, col)
    assert value.kind == "Polygon" and value.to_wkt() == square
    with pytest.raises(CellError) as bad:
        parse_cell("POINT (39500000 2740000)", col)
    assert "投影坐标" in bad.value.reason_zh and "projected" in bad.value.reason_en
