"""Readers on real files: xlsx written with xlsxwriter/openpyxl, CSV in several encodings, the committed
legacy .xls fixture, and files that must be refused."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter

from entgraph.loaders.readers import (
    FileRejected,
    HeaderMatch,
    Sheet,
    find_header,
    nearest_headers,
    open_table,
)
from entgraph.loaders.readers import excel as excel_reader
from entgraph.loaders.readers.formats import ole_stream_names

FIXTURES = Path(__file__).parent.parent / "fixtures"

EXPECTED = {
    "纳税人识别号": ["社会信用代码", "纳税人识别号(统一社会信用代码)"],
    "纳税人名称": [],
    "税款所属期起": [],
    "税款所属期止": [],
    "入库日期": [],
    "实缴金额": [],
}
REQUIRED = ["纳税人识别号", "纳税人名称", "实缴金额"]
HEADER = ["纳税人识别号", "纳税人名称", "税款所属期起", "税款所属期止", "入库日期", "实缴金额"]
CODES = ["91350582MA2Y7B8X3U", "91350582155823471K", "91350582MA34XK2L1P"]


def norm(text: str) -> str:
    """Stand-in for loaders.normalise.normalise_header: no whitespace, half-width brackets, no unit."""
    text = "".join(text.split()).replace("（", "(").replace("）", ")")
    return re.sub(r"\((?:万元|元|%|户)\)$", "", text)


def header_of(sheet: Sheet) -> HeaderMatch | None:
    return find_header(sheet, EXPECTED, REQUIRED, norm)


def data_rows(sheet: Sheet, match: HeaderMatch) -> list[tuple[int, list[object]]]:
    return [(n, cells) for n, cells in sheet.rows() if n > match.row]


@pytest.fixture(params=["calamine", "xlsx-stream"])
def xlsx_reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run an xlsx test on both readers: calamine (small files) and the streaming one (large files)."""
    if request.param == "xlsx-stream":
        monkeypatch.setattr(excel_reader, "CALAMINE_MAX_SHEET_XML", 0)
    return request.param


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8", delimiter: str = ",") -> Path:
    with path.open("w", newline="", encoding=encoding) as f:
        csv.writer(f, delimiter=delimiter).writerows(rows)
    return path


# -- header detection --------------------------------------------------------------------------------


def test_title_and_unit_rows_above_the_header_are_skipped(tmp_path: Path, xlsx_reader: str) -> None:
    path = tmp_path / "税务净入库.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet("2023年4月")
    sheet.merge_range("A1:F1", "2023年4月晋江市税务净入库信息表")
    sheet.write("F2", "单位：万元")
    sheet.write_row("A4", HEADER)  # row 3 left blank
    sheet.write_row(
        "A5", [CODES[0], "晋江市安海鞋业有限公司", "2023-04-01", "2023-04-30", "2023-05-10", 12.5]
    )
    sheet.write_row("A6", [CODES[1], "晋江市陈埭服装有限公司", "2023-04-01", "2023-04-30", "2023-05-12", 3])
    book.close()

    [table] = open_table(path)
    assert table.reader == xlsx_reader
    match = header_of(table)
    assert match is not None
    assert match.row == 4
    assert match.mapping == dict(enumerate(HEADER))
    assert match.missing == []
    assert match.score == 1.0
    assert data_rows(table, match) == [
        (5, [CODES[0], "晋江市安海鞋业有限公司", "2023-04-01", "2023-04-30", "2023-05-10", 12.5]),
        (6, [CODES[1], "晋江市陈埭服装有限公司", "2023-04-01", "2023-04-30", "2023-05-12", 3]),
    ]


def two_row_header_book(path: Path) -> Path:
    """Title; 纳税人识别号 | 纳税人名称 | 税款所属期 (merged over 起, 止) | 入库日期 | 实缴金额（元）."""
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet("明细")
    sheet.merge_range("A1:F1", "晋江市税务净入库信息表")
    sheet.merge_range("A2:A3", "纳税人识别号")
    sheet.merge_range("B2:B3", "纳税人名称")
    sheet.merge_range("C2:D2", "税款所属期")
    sheet.write("C3", "起")
    sheet.write("D3", "止")
    sheet.merge_range("E2:E3", "入库日期")
    sheet.merge_range("F2:F3", "实缴金额（元）")
    sheet.write_row("A4", [CODES[0], "晋江市安海鞋业有限公司", "2023-04-01", "2023-04-30", "2023-05-10", 800])
    book.close()
    return path


def test_two_row_header_with_a_merged_group_cell(tmp_path: Path, xlsx_reader: str) -> None:
    [table] = open_table(two_row_header_book(tmp_path / "two_rows.xlsx"))
    match = header_of(table)
    assert match is not None
    assert match.row == 3  # the lower header row: data starts below it
    assert match.mapping == dict(enumerate(HEADER))
    assert match.headers == [
        "纳税人识别号",
        "纳税人名称",
        "税款所属期起",
        "税款所属期止",
        "入库日期",
        "实缴金额（元）",
    ]
    assert [n for n, _ in data_rows(table, match)] == [4]


def test_calamine_reports_merges_and_the_stream_reader_says_it_cannot(
    tmp_path: Path, xlsx_reader: str
) -> None:
    [table] = open_table(two_row_header_book(tmp_path / "two_rows.xlsx"))
    list(table.rows())
    merged = table.merged_ranges()
    if xlsx_reader == "calamine":
        assert merged is not None
        assert (2, 2, 2, 3) in merged  # C2:D2 -> rows as Excel numbers them, columns as list indexes
    else:
        assert merged is None  # find_header then spreads a blank upper cell from its left


def test_two_row_header_in_a_csv_spreads_the_group_to_the_blank_on_its_right(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "two_rows.csv",
        [
            ["纳税人识别号", "纳税人名称", "税款所属期", "", "入库日期", "实缴金额"],
            ["", "", "起", "止", "", ""],
            [CODES[0], "某公司", "2023-04-01", "2023-04-30", "2023-05-10", "1"],
        ],
    )
    match = header_of(open_table(path)[0])
    assert match is not None
    assert (match.row, match.mapping, match.missing) == (2, dict(enumerate(HEADER)), [])


def test_a_single_header_row_is_not_combined_with_the_data_below_it(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv", [HEADER, [CODES[0], "入库日期", "", "", "", "5"]])
    match = header_of(open_table(path)[0])
    assert match is not None
    assert match.row == 1


def test_messy_header_text_matches_after_normalisation(tmp_path: Path, xlsx_reader: str) -> None:
    path = tmp_path / "messy.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet()
    messy = [
        " 纳税人识别号（统一社会信用代码） ",
        "纳税人\n名称",
        "税款 所属期起",
        "税款所属期止\t",
        "入库日期",
        "实缴金额（万元）",
    ]
    sheet.write_row("A1", messy)
    sheet.write_row("A2", [CODES[0], "某公司", "2023-04-01", "2023-04-30", "2023-05-10", 1.5])
    book.close()
    match = header_of(open_table(path)[0])
    assert match is not None
    assert match.mapping == dict(enumerate(HEADER))
    assert match.headers == messy  # as found: the engine reads the unit from "实缴金额（万元）"


def test_missing_required_columns_are_listed_with_the_nearest_header_found(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "wrong.csv",
        [["纳税人识别号", "纳税人明称", "所属期", "入库日期"], [CODES[0], "x", "y", "z"]],
    )
    match = header_of(open_table(path)[0])
    assert match is not None
    assert match.row == 1
    assert match.missing == ["纳税人名称", "实缴金额"]
    assert 0 < match.score < 1
    nearest = nearest_headers(match.headers, match.missing)
    assert nearest == {"纳税人名称": "纳税人明称", "实缴金额": None}


def test_nearest_headers_ignores_width_and_spacing() -> None:
    assert nearest_headers(["实缴金额（元）", "入库日期"], ["实缴金额(元)"]) == {
        "实缴金额(元)": "实缴金额（元）"
    }
    assert nearest_headers([], ["纳税人名称"]) == {"纳税人名称": None}


def test_no_header_found_on_a_sheet_without_one(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "notes.csv", [["说明"], ["本表由晋江市税务局提供"], ["纳税人名称"]])
    assert header_of(open_table(path)[0]) is None


def test_header_search_stops_after_max_scan_rows(tmp_path: Path) -> None:
    rows = [[f"说明第{i}行"] for i in range(40)] + [HEADER]
    table = open_table(write_csv(tmp_path / "late_header.csv", rows))[0]
    assert header_of(table) is None
    assert find_header(table, EXPECTED, REQUIRED, norm, max_scan=50) is not None


# -- workbooks ---------------------------------------------------------------------------------------


def test_row_numbers_are_those_excel_shows(tmp_path: Path, xlsx_reader: str) -> None:
    path = tmp_path / "offset.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet()
    sheet.write("C5", "纳税人识别号")  # data starts at C5: rows 1-4 and columns A-B empty
    sheet.write("D5", "纳税人名称")
    sheet.write("C6", CODES[0])
    sheet.write("D9", "只有名称")  # rows 7-8 empty
    book.close()
    assert list(open_table(path)[0].rows()) == [
        (5, [None, None, "纳税人识别号", "纳税人名称"]),
        (6, [None, None, CODES[0]]),
        (9, [None, None, None, "只有名称"]),
    ]


def test_cell_values_types_formulas_and_injection_text(tmp_path: Path, xlsx_reader: str) -> None:
    path = tmp_path / "values.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet()
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    sheet.write_row(
        "A1", ["text", "int", "float", "date", "datetime", "bool", "formula", "injection", "empty", "last"]
    )
    sheet.write_string("A2", "  晋江市 ")
    sheet.write_number("B2", 800)
    sheet.write_number("C2", 12345.67)
    sheet.write_datetime("D2", dt.datetime(2023, 4, 30), day)
    sheet.write_datetime("E2", dt.datetime(2023, 5, 10, 13, 5), stamp)
    sheet.write_boolean("F2", True)
    sheet.write_formula("G2", "=B2*2", None, 1600)  # cached result stored in the file
    sheet.write_string("H2", "=cmd|' /C calc'!A0")
    sheet.write_blank("I2", None, day)
    sheet.write_string("J2", "末")
    sheet.write_string("K2", "")  # trailing empty string cell: trimmed
    book.close()
    [(_, cells)] = [r for r in open_table(path)[0].rows() if r[0] == 2]
    assert cells == [
        "  晋江市 ",
        800,
        12345.67,
        dt.date(2023, 4, 30),
        dt.datetime(2023, 5, 10, 13, 5),
        True,
        1600,
        "=cmd|' /C calc'!A0",
        None,
        "末",
    ]
    assert type(cells[1]) is int
    assert type(cells[6]) is int


def test_formula_without_a_cached_value_is_not_evaluated(tmp_path: Path, xlsx_reader: str) -> None:
    path = tmp_path / "openpyxl_formula.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["a", "b", "sum"])
    sheet.append([1, 2, "=A2+B2"])  # openpyxl stores no cached result
    book.save(path)
    rows = list(open_table(path)[0].rows())
    assert rows == [(1, ["a", "b", "sum"]), (2, [1, 2])]


def test_multi_sheet_workbook_returns_every_sheet_in_order(tmp_path: Path, xlsx_reader: str) -> None:
    path = tmp_path / "split.xlsx"
    book = xlsxwriter.Workbook(path)
    cover = book.add_worksheet("封面")
    cover.write("B3", "晋江市税务局 2023年4月 数据报送")
    notes = book.add_worksheet("说明")
    notes.write("A1", "金额单位：元")
    notes.hide()
    for name, code in (("一月", CODES[0]), ("二月", CODES[1])):
        data = book.add_worksheet(name)
        data.write_row("A1", HEADER)
        data.write_row("A2", [code, "某公司", "2023-01-01", "2023-01-31", "2023-02-10", 1])
    book.add_worksheet("空表")
    book.close()

    sheets = open_table(path)
    assert [s.name for s in sheets] == ["封面", "说明", "一月", "二月", "空表"]
    assert [s.hidden for s in sheets] == [False, True, False, False, False]
    matches = [header_of(s) for s in sheets]
    assert [m is not None for m in matches] == [False, False, True, True, False]
    assert list(sheets[4].rows()) == []
    assert [cells[0] for _, cells in sheets[3].rows()] == ["纳税人识别号", CODES[1]]
    assert [cells[0] for _, cells in sheets[2].rows()] == ["纳税人识别号", CODES[0]]  # rows() restarts


def test_header_only_files_have_one_row(tmp_path: Path, xlsx_reader: str) -> None:
    xlsx = tmp_path / "header_only.xlsx"
    book = xlsxwriter.Workbook(xlsx)
    book.add_worksheet().write_row("A1", HEADER)
    book.close()
    for path in (xlsx, write_csv(tmp_path / "header_only.csv", [HEADER])):
        [table] = open_table(path)
        match = header_of(table)
        assert match is not None
        assert match.row == 1
        assert data_rows(table, match) == []


def test_both_xlsx_readers_give_identical_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "mixed.xlsx"
    book = xlsxwriter.Workbook(path)
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    bold = book.add_format({"bold": True})
    sheet = book.add_worksheet("混合")
    rnd = random.Random(7)
    for r in range(1, 400):
        if r % 37 == 0:
            continue  # an empty row now and then
        sheet.write_string(r, 0, f"晋江市第{r}号公司")
        sheet.write_number(r, 1, rnd.choice([r, r + 0.25, -r * 1000.5, 1e16]))
        sheet.write_datetime(r, 2, dt.datetime(2020, 1, 1) + dt.timedelta(days=r, minutes=r % 3), day)
        if r % 5:
            sheet.write_boolean(r, 3, r % 2 == 0)
        if r % 7 == 0:
            sheet.write_rich_string(r, 5, "实缴", bold, "金额", "（元）")
        sheet.write_string(r, 6, "第一行\r\n第二行" if r % 11 == 0 else "")
    book.close()
    calamine_rows = [list(s.rows()) for s in open_table(path)]
    monkeypatch.setattr(excel_reader, "CALAMINE_MAX_SHEET_XML", 0)
    sheets = open_table(path)
    assert sheets[0].reader == "xlsx-stream"
    assert [list(s.rows()) for s in sheets] == calamine_rows
    assert sum(len(rows) for rows in calamine_rows) == 399 - 10


def test_reader_choice_follows_worksheet_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "size.xlsx"
    book = xlsxwriter.Workbook(path)
    book.add_worksheet().write_row("A1", HEADER)
    book.close()
    size = excel_reader.largest_sheet_xml(path)
    monkeypatch.setattr(excel_reader, "CALAMINE_MAX_SHEET_XML", size)
    assert open_table(path)[0].reader == "calamine"
    monkeypatch.setattr(excel_reader, "CALAMINE_MAX_SHEET_XML", size - 1)
    assert open_table(path)[0].reader == "xlsx-stream"


def test_legacy_xls_fixture() -> None:
    [table] = open_table(FIXTURES / "legacy_tax.xls")
    assert table.name == "税务净入库"
    match = header_of(table)
    assert match is not None
    assert match.row == 3  # title on row 1, "单位：元" on row 2
    assert match.mapping == {
        0: "纳税人识别号",
        1: "纳税人名称",
        2: "税款所属期止",
        3: "入库日期",
        4: "实缴金额",
    }
    rows = data_rows(table, match)
    assert [n for n, _ in rows] == [4, 5, 7]  # row 6 is empty in the file
    assert rows[0][1] == [
        "91350582MA2Y7B8X3U",
        "晋江市安海鞋业有限公司",
        dt.date(2019, 12, 31),
        dt.date(2020, 1, 10),
        12345.67,
    ]
    assert rows[1][1][4] == 800
    assert type(rows[1][1][4]) is int


def test_format_comes_from_content_not_extension(tmp_path: Path) -> None:
    xlsx = tmp_path / "real.xlsx"
    book = xlsxwriter.Workbook(xlsx)
    book.add_worksheet("数据").write_row("A1", HEADER)
    book.close()
    cases = {
        "xlsx_named.xls": xlsx.read_bytes(),
        "xls_named.xlsx": (FIXTURES / "legacy_tax.xls").read_bytes(),
        "csv_named.xlsx": ",".join(HEADER).encode("gb18030") + b"\r\n",
        "tsv_named.xls": "\t".join(HEADER).encode() + b"\n",
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        sheets = open_table(path)
        match = header_of(sheets[0])
        assert match is not None, name
        assert match.missing == [] or name.startswith("xls_"), name
        assert sheets[0].reader == ("csv" if name.startswith(("csv", "tsv")) else "calamine"), name


# -- CSV ---------------------------------------------------------------------------------------------

CSV_ROWS = [
    ["2023年4月晋江市税务净入库信息表"],
    HEADER,
    [CODES[0], "晋江市安海鞋业有限公司", "2023-04-01", "2023-04-30", "2023-05-10", "12345.67"],
    [CODES[1], "福建省晋江市陈埭镇服装厂（普通合伙）", "2023-04-01", "2023-04-30", "2023-05-11", "800"],
]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings(tmp_path: Path, encoding: str) -> None:
    rows = [list(r) for r in CSV_ROWS]
    if encoding == "gb18030":
        rows[3][1] = "晋江市𠮷祥鞋业有限公司"  # 𠮷 exists in GB18030 but not in GBK
    path = write_csv(tmp_path / f"{encoding}.csv", rows, encoding=encoding)
    [table] = open_table(path)
    assert table.name == f"{encoding}.csv"
    assert list(table.rows()) == [(i, row) for i, row in enumerate(rows, start=1)]
    match = header_of(table)
    assert match is not None
    assert (match.row, match.missing) == (2, [])


@pytest.mark.parametrize("delimiter", [",", "\t", ";", "|"])
def test_csv_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    rows = [*CSV_ROWS, [CODES[2], "名称,含逗号;分号|竖线", "", "", "", "1"]]
    [table] = open_table(write_csv(tmp_path / "d.tsv", rows, delimiter=delimiter))
    assert list(table.rows())[-1] == (5, [CODES[2], "名称,含逗号;分号|竖线", None, None, None, "1"])


def test_a_quoted_newline_is_one_row_as_a_spreadsheet_counts_them(tmp_path: Path) -> None:
    path = tmp_path / "multiline.csv"
    path.write_text(
        "纳税人识别号,纳税人名称,备注\r\n"
        f'{CODES[0]},"晋江市安海\r\n鞋业有限公司","第一行\r\n第二行\r\n第三行"\r\n'
        "\r\n"
        f"{CODES[1]},陈埭服装厂,\r\n",
        encoding="utf-8",
        newline="",
    )
    assert list(open_table(path)[0].rows()) == [
        (1, ["纳税人识别号", "纳税人名称", "备注"]),
        (2, [CODES[0], "晋江市安海\r\n鞋业有限公司", "第一行\r\n第二行\r\n第三行"]),
        (4, [CODES[1], "陈埭服装厂"]),  # row 3 is the blank line; Excel shows the record in row 4
    ]


def test_empty_csv_rows_are_skipped_but_numbers_stay_true(tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text("a,b\n,,\n\n1,2,,\n", encoding="utf-8")
    assert list(open_table(path)[0].rows()) == [(1, ["a", "b"]), (4, ["1", "2"])]


def test_old_mac_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "mac.csv"
    path.write_bytes(b"a,b\r1,2\r3,4\r")
    assert list(open_table(path)[0].rows()) == [(1, ["a", "b"]), (2, ["1", "2"]), (3, ["3", "4"])]


def test_csv_injection_string_is_plain_text(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "inj.csv", [["纳税人名称"], ["=cmd|' /C calc'!A0"], ["@SUM(1+1)"]])
    assert [cells for _, cells in open_table(path)[0].rows()][1:] == [["=cmd|' /C calc'!A0"], ["@SUM(1+1)"]]


def test_a_later_line_in_another_encoding_is_refused_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes(",".join(HEADER).encode() + b"\n" + b"x,y\n" * 100_000 + "某公司,1\n".encode("gbk"))
    # the first 256 KB are UTF-8; the whole file is checked when it is opened, before any row is read
    with pytest.raises(FileRejected, match=r"line 100002 .*save the file as UTF-8 or GBK/GB18030 CSV"):
        open_table(path)


def test_an_unclosed_quote_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "quote.csv"
    path.write_text(f'a,b\n{CODES[0]},"未闭合\n1,2\n3,4\n', encoding="utf-8")
    with pytest.raises(FileRejected, match=r"line 2 .*quote"):
        list(open_table(path)[0].rows())


# -- refused files -----------------------------------------------------------------------------------


def refused(path: Path) -> str:
    with pytest.raises(FileRejected) as caught:
        open_table(path)
    return str(caught.value)


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.xlsx"
    path.write_bytes(b"")
    assert "empty (0 bytes)" in refused(path)


def test_files_with_no_rows(tmp_path: Path, xlsx_reader: str) -> None:
    blank = tmp_path / "blank.csv"
    blank.write_text("\n,,,\n\n", encoding="utf-8")
    assert "no data" in refused(blank)
    book_path = tmp_path / "blank.xlsx"
    book = xlsxwriter.Workbook(book_path)
    book.add_worksheet("Sheet1")
    book.add_worksheet("Sheet2")
    book.close()
    assert "none of its 2 sheet(s)" in refused(book_path)


@pytest.mark.parametrize(
    "content",
    [
        random.Random(1).randbytes(20_000),
        "纳税人识别号,纳税人名称\n".encode("utf-16"),  # with BOM
        "纳税人识别号,纳税人名称\n".encode("utf-16-le"),  # without BOM: NUL bytes
        bytes(range(0x80, 0x100)) * 40,  # high bytes, no NUL: neither UTF-8 nor GB18030
    ],
    ids=["random", "utf16-bom", "utf16-le", "high-bytes"],
)
def test_text_that_is_neither_utf8_nor_gb18030_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    message = refused(path)
    assert "save the file as UTF-8 or GBK/GB18030 CSV" in message
    assert message.startswith("data.csv")


def test_password_protected_workbook(tmp_path: Path) -> None:
    # An encrypted xlsx is an OLE2 container holding an "EncryptedPackage" stream. Make one by renaming
    # the Workbook stream of the legacy fixture (the directory entry's name and its length).
    data = bytearray((FIXTURES / "legacy_tax.xls").read_bytes())
    at = data.find("Workbook".encode("utf-16-le"))
    assert at > 0 and at % 128 == 0
    name = "EncryptedPackage".encode("utf-16-le") + b"\0\0"
    data[at : at + 64] = name.ljust(64, b"\0")
    data[at + 64 : at + 66] = len(name).to_bytes(2, "little")
    assert ole_stream_names(io.BytesIO(bytes(data))) == {"Root Entry", "EncryptedPackage"}
    path = tmp_path / "加密.xlsx"
    path.write_bytes(bytes(data))
    assert (
        refused(path) == "加密.xlsx: the workbook is password-protected; remove the password and upload again"
    )


def test_damaged_workbooks(tmp_path: Path, xlsx_reader: str) -> None:
    good = two_row_header_book(tmp_path / "good.xlsx")
    truncated = tmp_path / "truncated.xlsx"
    truncated.write_bytes(good.read_bytes()[:2000])
    assert "damaged" in refused(truncated)
    bad_xml = tmp_path / "bad_xml.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad_xml, "w") as dst:
        for item in src.infolist():
            body = src.read(item)
            dst.writestr(
                item, b"<worksheet><sheetData><row><c>" if item.filename.endswith("sheet1.xml") else body
            )
    assert "damaged" in refused(bad_xml)


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "a PDF document"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a PNG image"),
        ("<html><body><table><tr><td>纳税人名称</td></tr></table></body></html>".encode(), "web page"),
        (
            b'<?xml version="1.0"?>\n<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet">',
            "Excel 2003 XML",
        ),
    ],
)
def test_other_formats_are_refused_saying_what_they_are(tmp_path: Path, content: bytes, what: str) -> None:
    path = tmp_path / "upload.xls"
    path.write_bytes(content)
    assert what in refused(path)


def test_a_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "report.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    assert "a Word document" in refused(path)


# -- memory ------------------------------------------------------------------------------------------

PEAK_CHILD = r"""
import sys
from pathlib import Path
from entgraph.loaders.readers import excel, open_table
if len(sys.argv) > 2:
    excel.CALAMINE_MAX_SHEET_XML = int(sys.argv[2])
rows = 0
for sheet in open_table(Path(sys.argv[1])):
    for _ in sheet.rows():
        rows += 1
# VmHWM: this process's own peak RSS (ru_maxrss is carried over exec from the forking pytest process)
hwm = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmHWM:"))
print(rows, int(hwm.split()[1]))
"""


def read_in_child(path: Path, *extra: str) -> tuple[int, int]:
    """(rows read, peak RSS in KB) of a fresh process that opens ``path`` and reads every row."""
    out = subprocess.run(
        [sys.executable, "-c", PEAK_CHILD, str(path), *extra], capture_output=True, text=True, check=True
    )
    rows, peak_kb = out.stdout.split()
    return int(rows), int(peak_kb)


needs_proc = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")


@needs_proc
def test_a_large_csv_is_streamed_in_bounded_memory(tmp_path: Path) -> None:
    small = write_csv(tmp_path / "small.csv", [HEADER, [CODES[0], "某公司", "", "", "", "1"]])
    big = tmp_path / "big.csv"
    with big.open("w", newline="", encoding="gb18030") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        for i in range(200_000):
            writer.writerow(
                [
                    f"91350582MA{i:08d}",
                    f"晋江市第{i}号鞋服有限公司",
                    "2023-04-01",
                    "2023-04-30",
                    "2023-05-10",
                    f"{i}.5",
                ]
            )
    assert big.stat().st_size > 15 * 2**20
    _, baseline_kb = read_in_child(small)
    rows, peak_kb = read_in_child(big)
    assert rows == 200_001
    # Holding the rows would take well over 100 MB; streaming stays within a few MB of the baseline.
    assert (peak_kb - baseline_kb) / 1024 < 25, json.dumps({"baseline_kb": baseline_kb, "peak_kb": peak_kb})


@needs_proc
def test_a_large_xlsx_on_the_streaming_reader_is_read_in_bounded_memory(tmp_path: Path) -> None:
    small, big = tmp_path / "small.xlsx", tmp_path / "big.xlsx"
    for path, n in ((small, 1), (big, 60_000)):
        book = xlsxwriter.Workbook(path)  # shared strings, as Excel writes them
        sheet = book.add_worksheet()
        sheet.write_row(0, 0, HEADER)
        for i in range(1, n + 1):
            sheet.write_row(
                i, 0, [f"91350582MA{i:08d}", "晋江市鞋服有限公司", "2023-04-01", "2023-04-30", i, i + 0.5]
            )
        book.close()
    _, baseline_kb = read_in_child(small, "0")
    rows, peak_kb = read_in_child(big, "0")
    assert rows == 60_001
    # calamine holds the whole sheet (+29 MB here); the streaming reader one row and the strings (+4 MB).
    assert (peak_kb - baseline_kb) / 1024 < 12, json.dumps({"baseline_kb": baseline_kb, "peak_kb": peak_kb})
